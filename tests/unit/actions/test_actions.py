"""action_reply on a tracker, as the action server runs it (financial-demo style)."""

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionReply


def tracker(intent, text, slots=None):
    return Tracker(
        sender_id="test",
        slots=slots or {},
        latest_message={"intent": {"name": intent}, "text": text},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


async def run(intent, text, slots=None):
    dispatcher = CollectingDispatcher()
    events = await ActionReply().run(dispatcher, tracker(intent, text, slots), {})
    return dispatcher.messages, events


@pytest.mark.asyncio
async def test_answer_sends_text_and_payload_and_remembers_the_topic():
    messages, events = await run("ask_stopping", "and if i stop?")
    assert len(messages) == 1
    message = messages[0]
    assert message["custom"]["topic"] == "stopping"
    assert message["text"] == message["custom"]["text"]
    assert SlotSet("last_topic", "stopping") in events
    assert SlotSet("shown_topics", ["stopping"]) in events
    assert SlotSet("escalation", "none") in events


@pytest.mark.asyncio
async def test_where_does_it_say_that_reads_the_slot():
    messages, events = await run("ask_source", "where does it say that?", {"last_topic": "diluted_botox"})
    assert messages[0]["custom"]["sources"][0]["paragraph"] == 3
    assert SlotSet("escalation", "routine") in events
    assert all(e["name"] != "last_topic" for e in events)  # unchanged, not set again


@pytest.mark.asyncio
async def test_missing_intent_is_a_polite_fallback():
    messages, events = await run(None, "")
    assert messages[0]["custom"]["type"] == "fallback"
    assert SlotSet("escalation", "none") in events


@pytest.mark.asyncio
async def test_unchanged_slots_are_not_set_again():
    slots = {"last_topic": "safety", "shown_topics": ["safety"], "escalation": "routine"}
    _, events = await run("ask_safety", "is botox safe?", slots)
    assert events == []
    _, events = await run("greet", "hi", slots)
    assert events == [SlotSet("escalation", "none")]
