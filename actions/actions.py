"""The one custom action: every user message is answered by `action_reply`.

The Rasa SDK adapter only: the reply is chosen by the domain core
(faq.dialogue) and, for symptom reports, by triage.reply."""

from functools import partial
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from faq.clinic import load_clinic
from faq.dialogue import Conversation, respond_to_parse
from faq.knowledge_base import load_knowledge_base
from faq.replies import render
from triage.reply import triage_reply

# Loaded (and checked against the article) when the action server starts.
KNOWLEDGE_BASE = load_knowledge_base()
CLINIC = load_clinic()
SYMPTOM_REPLY = partial(triage_reply, KNOWLEDGE_BASE, CLINIC)


class ActionReply(Action):
    def name(self) -> str:
        return "action_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[Dict[str, Any]]:
        message = tracker.latest_message or {}
        conversation = Conversation(
            last_topic=tracker.get_slot("last_topic"),
            shown_topics=tuple(tracker.get_slot("shown_topics") or ()),
        )
        turn = respond_to_parse(KNOWLEDGE_BASE, message, conversation, SYMPTOM_REPLY)
        text, payload = render(turn.reply, CLINIC)
        dispatcher.utter_message(text=text, json_message=payload)
        # Only changed slots: every event is stored and sent back on each turn.
        slots = {
            "last_topic": turn.last_topic,
            "shown_topics": list(turn.shown_topics),
            "escalation": turn.reply.escalation,
        }
        return [SlotSet(name, value) for name, value in slots.items() if tracker.get_slot(name) != value]
