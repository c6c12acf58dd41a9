"""Only the holder of a conversation's lock writes that conversation.

The lock store's lease can run out while its holder still works, when the
whole process froze (or lost Redis) for longer than the lease: the heartbeat
thread stood still too, another instance took the conversation's turn and
went on. When the late holder resumes, its events were computed on an old
state of the conversation; written, they would interleave with the new
holder's. So right before Rasa writes a conversation whose lock the current
task holds, the lease is confirmed (and renewed); if it is gone the write is
refused with LeaseLost: the message is not stored, the error is logged
(`lock.lease_lost ... not stored`) and the channel sends the safe reply.

Rasa has no hook between its lock and its write, so the check wraps the one
door every write of the agent goes through, FailSafeTrackerStore.save (Rasa
wraps every configured tracker store in it). Outside a lock nothing changes.
"""

import contextvars
import logging
from typing import Awaitable, Callable, Optional, Tuple

from rasa.core.lock_store import LockError
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

# (conversation id, confirm) of the lock the current task holds; `confirm`
# renews the lease and says whether it was still held.
Held = Tuple[str, Callable[[], Awaitable[bool]]]
HELD: "contextvars.ContextVar[Optional[Held]]" = contextvars.ContextVar("botox_lock_held", default=None)


class LeaseLost(LockError):
    """The lock's lease ran out while its holder worked: it may not write."""


_unchecked_save = FailSafeTrackerStore.save


async def _checked_save(self: FailSafeTrackerStore, tracker: DialogueStateTracker) -> None:
    held = HELD.get()
    if held is not None and held[0] == tracker.sender_id and not await held[1]():
        raise LeaseLost(f"lease lost before writing conversation '{tracker.sender_id}'")
    await _unchecked_save(self, tracker)


def install() -> None:
    """Idempotent."""
    FailSafeTrackerStore.save = _checked_save
