"""Signed sender ids (channels/sender_ids.py), sessions bounded in length
(channels/sessions.py) and resent messages answered once (channels/resend.py),
on Rasa's own tracker and events, without a server."""

import asyncio

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Restarted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from channels.resend import handle_once, stored_replies
from channels.rest import SENDER_ID
from channels.sender_ids import SenderIds
from channels.sessions import EARLIER_MESSAGE_IDS, bound_sessions, continue_in_new_session, turns_in_session
from faq.contract import CONTINUED_SESSION
from faq.settings import PROJECT_ROOT

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))


def test_issued_ids_are_valid_well_formed_and_unique():
    ids = SenderIds(b"key")
    issued = {ids.issue() for _ in range(200)}
    assert len(issued) == 200
    assert all(SENDER_ID.fullmatch(i) and ids.valid(i) for i in issued)


def test_ids_not_signed_with_the_key_are_refused():
    ids, other = SenderIds(b"key"), SenderIds(b"another key")
    good = ids.issue()
    assert not other.valid(good)  # another server's (or an old key's) id
    assert not ids.valid("me") and not ids.valid("a" * 44)
    assert not ids.valid(good[:22] + SenderIds(b"key").issue()[22:])  # a signature of another nonce
    assert not ids.valid(good[:-1] + ("A" if good[-1] != "A" else "B"))


def tracker(*turns, events=()):
    t = DialogueStateTracker.from_events("p", list(events), slots=DOMAIN.slots)
    for i, text in enumerate(turns):
        t.update(ActionExecuted("action_listen"))
        t.update(UserUttered(text, message_id=f"message-{i}"))
        t.update(BotUttered(f"answer {i}", {"custom": {"topic": "safety"}}))
        t.update(SlotSet("last_topic", "safety"))
    return t


class Store:
    def __init__(self, t):
        self.t, self.calls = t, 0

    async def retrieve(self, sender_id):
        self.calls += 1
        return self.t


def test_a_full_session_goes_on_in_a_new_one_keeping_the_slots():
    store = Store(tracker(*["is botox safe?"] * 3))
    assert bound_sessions(store, 3) and not bound_sessions(store, 3)  # idempotent
    t = asyncio.run(store.retrieve("p"))
    assert turns_in_session(t) == 0
    started = [e for e in t.events if isinstance(e, SessionStarted)]
    ended = ["message-0", "message-1", "message-2"]
    assert len(started) == 1 and started[0].metadata == {CONTINUED_SESSION: True, EARLIER_MESSAGE_IDS: ended}
    assert t.get_slot("last_topic") == "safety"  # "tell me more" still knows the topic
    assert [type(e) for e in list(t.events)[-4:]] == [ActionExecuted, SessionStarted, SlotSet, ActionExecuted]
    assert [e for e in t.applied_events() if isinstance(e, UserUttered)] == []  # nothing old replayed


def test_a_short_session_and_the_switch_off_are_left_alone():
    store = Store(tracker("is botox safe?", "tell me more"))
    bound_sessions(store, 3)
    assert turns_in_session(asyncio.run(store.retrieve("p"))) == 2
    assert not bound_sessions(Store(tracker()), 0)
    assert not bound_sessions(None, 3)


def test_turns_are_counted_since_the_last_start_or_restart():
    t = tracker("a", "b", "c")
    t.update(Restarted())
    assert turns_in_session(t) == 0
    t.update(UserUttered("d"))
    assert turns_in_session(t) == 1


def test_a_resent_message_gets_the_replies_stored_for_it():
    t = tracker("is botox safe?", "tell me more")
    assert stored_replies(t.events, "message-0") == [{"text": "answer 0", "custom": {"topic": "safety"}}]
    assert stored_replies(t.events, "message-1") == [{"text": "answer 1", "custom": {"topic": "safety"}}]
    assert stored_replies(t.events, "never-sent") is None


def test_a_message_stored_without_a_reply_gets_none_so_the_channel_sends_the_safe_reply():
    t = tracker("is botox safe?")
    t.update(UserUttered("and if I stop?", message_id="stored-unanswered"))
    assert stored_replies(t.events, "stored-unanswered") == []


class Agent:
    """What handle_once uses of Rasa's Agent: a lock store, a tracker store
    that loads the current session only (as Rasa's SQL store), a processor."""

    def __init__(self, whole):
        from contextlib import asynccontextmanager

        self.whole, self.handled, self.full_loads = whole, [], 0
        current = DialogueStateTracker.from_events("p", [], slots=DOMAIN.slots)
        last_start = max(i for i, e in enumerate(whole.events) if isinstance(e, SessionStarted))
        for event in list(whole.events)[last_start - 1 :]:
            current.update(event)
        agent = self

        class Trackers:
            async def retrieve(self, sender_id):
                return current

            async def retrieve_full_tracker(self, sender_id):
                agent.full_loads += 1
                return whole

        class Locks:
            @asynccontextmanager
            async def lock(self, sender_id):
                yield

        class Processor:
            async def handle_message(self, message):
                agent.handled.append(message.message_id)

        self.tracker_store, self.lock_store, self.processor = Trackers(), Locks(), Processor()


class Output:
    def __init__(self):
        self.sent = []

    async def send_response(self, recipient_id, message):
        self.sent.append(message)


def test_a_resend_of_the_ended_sessions_last_message_is_answered_from_the_store():
    """The client resends its last message while another of its messages has
    already made the conversation go on in a new session (open-loop load)."""
    from rasa.core.channels.channel import UserMessage

    whole = tracker("is botox safe?", "tell me more")
    continue_in_new_session(whole)
    agent, out = Agent(whole), Output()
    asyncio.run(handle_once(agent, UserMessage("tell me more", out, "p", message_id="message-1")))
    assert agent.handled == [] and out.sent == [{"text": "answer 1", "custom": {"topic": "safety"}}]
    # A new message is processed, without loading the whole conversation.
    asyncio.run(handle_once(agent, UserMessage("and if I stop?", Output(), "p", message_id="message-new")))
    assert agent.handled == ["message-new"] and agent.full_loads == 1
