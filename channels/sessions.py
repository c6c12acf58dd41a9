"""A long conversation costs each turn no more than a short one.

Rasa loads a conversation's events since its last `session_started` on every
turn, replays them and sends them all to the action server, and a session
only ends after 60 idle minutes (domain.yml `session_config`). So a patient,
or a script, talking without a pause made every turn slower: 61 ms for turns
1-50, 205 ms for turns 251-300 (docs/production.md).

Here the conversation goes on in a new session once the current one holds
BOTOX_SESSION_MAX_TURNS user messages (default 10): when the tracker is
loaded for the next message, the events Rasa's own session start would write
are added (`action_session_start`, `session_started`, the slots' values,
`action_listen`), and Rasa saves them with the turn. The slots carry the
dialogue's whole memory (faq/dialogue.py Conversation: last topic, topics
shown), so follow-ups ("tell me more", "where does it say that?") work across
the boundary. Nothing is deleted: the review and the export read every
session, and the marker (faq.contract.CONTINUED_SESSION) makes the review
count it as the same conversation.
"""

from typing import Any, Awaitable, Callable, List, Optional

from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, Restarted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from faq.contract import CONTINUED_SESSION

Retrieve = Callable[[str], Awaitable[Optional[DialogueStateTracker]]]


def _user_messages_in_session(tracker: DialogueStateTracker) -> List[UserUttered]:
    """The user messages since the session (or the conversation) last started, latest first."""
    found: List[UserUttered] = []
    for event in reversed(tracker.events):
        if isinstance(event, (SessionStarted, Restarted)):
            break
        if isinstance(event, UserUttered):
            found.append(event)
    return found


def turns_in_session(tracker: DialogueStateTracker) -> int:
    """User messages since the session (or the conversation) last started."""
    return len(_user_messages_in_session(tracker))


# The session start's record of the message ids the ended session answered: a
# client may still resend one of them (channels/resend.py), and Rasa loads
# only the new session.
EARLIER_MESSAGE_IDS = "botox_earlier_message_ids"


def session_message_ids(tracker: DialogueStateTracker) -> List[str]:
    """The client message ids of the user messages since the session last started."""
    return [e.message_id for e in reversed(_user_messages_in_session(tracker)) if e.message_id]


def earlier_message_ids(tracker: DialogueStateTracker) -> List[str]:
    """What the current session's start recorded of the ended session's ids."""
    for event in reversed(tracker.events):
        if isinstance(event, (SessionStarted, Restarted)):
            return list((getattr(event, "metadata", None) or {}).get(EARLIER_MESSAGE_IDS) or [])
    return []


def continue_in_new_session(tracker: DialogueStateTracker) -> None:
    """Adds a session start that keeps every slot's value."""
    slots = [SlotSet(name, value) for name, value in tracker.current_slot_values().items() if value is not None]
    ended = session_message_ids(tracker)
    tracker.update(ActionExecuted(ACTION_SESSION_START_NAME))
    tracker.update(SessionStarted(metadata={CONTINUED_SESSION: True, EARLIER_MESSAGE_IDS: ended}))
    for slot in slots:
        tracker.update(slot)
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))


def bounded(retrieve: Retrieve, max_turns: int) -> Retrieve:
    """`retrieve` (a tracker store's), continuing a full session in a new one."""

    async def retrieve_bounded(sender_id: str) -> Optional[DialogueStateTracker]:
        tracker = await retrieve(sender_id)
        if tracker is not None and turns_in_session(tracker) >= max_turns:
            continue_in_new_session(tracker)
        return tracker

    return retrieve_bounded


def bound_sessions(store: Any, max_turns: int) -> bool:
    """Makes the agent's tracker store continue sessions of `max_turns` user
    messages in new ones (0: never). Idempotent."""
    if max_turns <= 0 or store is None or getattr(store, "_botox_bounded", False):
        return False
    store.retrieve = bounded(store.retrieve, max_turns)
    store._botox_bounded = True
    return True
