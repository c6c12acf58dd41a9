"""Protects the bot before any processing, and answers when it can't.

Every input channel (REST: channels/rest.py, Telegram: channels/telegram.py)
calls the same few things:

    from channels.guard import GUARD, is_emergency, reply_failure, safe_reply

    reason = GUARD.check(sender_id, text)      # None, "rate_limited" or "too_long"
    if reason:   # polite refusal, not passed on to Rasa; emergency advice first if it is one
        safe_reply(reason, emergency=await is_emergency(agent, GUARD.head(text), channel))
    failure = await reply_failure(on_new_message(message), timeout_s, channel, tag)
    if failure or no bot message:              # action server down/slow, database down, crash
        safe_reply("error", emergency=await is_emergency(agent, text, channel))

`safe_reply` returns the plain text and the payload of docs/payload.md
(built with faq.replies.Reply + render, so it is identical in shape to
every other bot message). Its texts always carry the clinic's phone and the
emergency number from clinic.yml, and need neither the action server nor a
database.

Numbers (defaults; environment variables override them):
- length: more than MAX_MESSAGE_CHARS = 2000 characters is refused
  (BOTOX_MAX_MESSAGE_CHARS).
- rate: a token bucket per sender: a burst of 10 messages
  (BOTOX_RATE_BURST), refilled at 30 messages per minute, one every 2 s
  (BOTOX_RATE_PER_MINUTE). A patient typing or tapping buttons never
  reaches it; a script hammering one conversation gets "slow down" replies
  that cost no action call and no database write. Each refused message is
  still read by the NLU once (is_emergency): a refusal must never hide an
  emergency.
  BOTOX_RATE_PER_MINUTE=0 switches the limit off (benchmarks only).
The bucket lives in the process: with N Rasa instances behind the proxy a
sender is limited per instance, and nginx (deploy/nginx.conf) adds a per-IP
limit in front of all of them.

Nothing here logs message text; senders are logged as a short hash.
"""

import asyncio
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from faq.clinic import load_clinic
from faq.contract import TRIAGE_KEY, Escalation, ReplyType, TriageLevel
from faq.replies import TALK_TO_PERSON, Reply, render
from faq.settings import SETTINGS, Settings

# Idle senders are forgotten beyond this many (their bucket would be full anyway).
MAX_TRACKED_SENDERS = 50_000

REASONS = ("too_long", "rate_limited", "error")

_TEXTS = {
    "too_long": (
        "That message is too long for me (more than {max_chars} characters), so I "
        "haven't read it. Please ask your question in a few sentences. To talk to "
        "a person, call {name} on {phone}. If you feel seriously unwell, call "
        "{emergency_number} now."
    ),
    "rate_limited": (
        "You're sending messages faster than I can answer. Please wait a few "
        "seconds and send your question again. To talk to a person, call {name} "
        "on {phone}. If you feel seriously unwell, call {emergency_number} now."
    ),
    "error": (
        "Sorry, something went wrong on our side and I can't answer right now. "
        "Please call {name} on {phone} ({hours}). If you feel seriously unwell, "
        "for example trouble breathing, swallowing or speaking, call "
        "{emergency_number} now."
    ),
    "error_emergency": ("Sorry, something went wrong on our side and I can't answer in full right now."),
}


def sender_tag(sender_id: Any) -> str:
    """A short, stable, non-reversible tag for logs (never the raw id)."""
    return hashlib.sha256(str(sender_id).encode()).hexdigest()[:10]


class Guard:
    """Length check and per-sender token bucket. Thread-safe, O(1) per message."""

    def __init__(
        self,
        burst: int = Settings.rate_burst,
        per_minute: float = Settings.rate_per_minute,
        max_chars: int = SETTINGS.max_message_chars,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = MAX_TRACKED_SENDERS,
    ):
        self.burst, self.per_minute, self.max_chars = burst, per_minute, max_chars
        self.clock, self.max_senders = clock, max_senders
        self._buckets: OrderedDict[str, Tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings = SETTINGS) -> "Guard":
        return cls(burst=settings.rate_burst, per_minute=settings.rate_per_minute, max_chars=settings.max_message_chars)

    def allow(self, sender_id: str) -> bool:
        """Takes one token from the sender's bucket; False when it is empty."""
        if self.per_minute <= 0:
            return True
        rate = self.per_minute / 60.0
        now = self.clock()
        key = str(sender_id)
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self.max_senders:
                self._buckets.popitem(last=False)  # least recently seen
        return allowed

    def head(self, text: Optional[str]) -> str:
        """The part of a refused message still read for an emergency: a
        refusal must never hide "I can't breathe" behind "slow down"."""
        return (text or "")[: self.max_chars]

    def too_long(self, text: Optional[str]) -> bool:
        return len(text or "") > self.max_chars

    def check(self, sender_id: str, text: Optional[str]) -> Optional[str]:
        """None when the message may be processed, else the refusal reason."""
        if not self.allow(sender_id):
            return "rate_limited"
        if self.too_long(text):
            return "too_long"
        return None


GUARD = Guard.from_settings()


def safe_reply(reason: str, emergency: bool = False) -> Tuple[str, Dict]:
    """Text and payload (docs/payload.md) of a refusal or failure reply.

    With emergency=True (the triage of this very message said "emergency")
    the clinic's emergency advice comes first, as in every emergency reply.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    key = "error_emergency" if emergency and reason == "error" else reason
    answer = _TEXTS[key].replace("{max_chars}", str(GUARD.max_chars))
    if emergency:
        reply = Reply(
            type=ReplyType.TRIAGE, answer=answer, escalation=Escalation.EMERGENCY, suggestions=[TALK_TO_PERSON]
        )
    else:
        reply = Reply(type=ReplyType.FALLBACK, answer=answer, suggestions=[TALK_TO_PERSON])
    return render(reply, load_clinic())


def emergency_from_parse(parse_data: Optional[Dict]) -> bool:
    """Whether the triage component classed this message as an emergency.

    The triage component (triage/component.py) runs inside Rasa's NLU
    pipeline, so this needs neither the action server nor the database.
    """
    if not parse_data:
        return False
    triage = parse_data.get(TRIAGE_KEY)
    level = triage.get("level") if isinstance(triage, dict) else None
    return level == TriageLevel.EMERGENCY


_logger = logging.getLogger(__name__)
# How long the fallback may wait for Rasa's own NLU to tell an emergency.
PARSE_TIMEOUT_S = 3.0


async def reply_failure(bot_reply: Awaitable[Any], timeout_s: float, channel: str, tag: str) -> Optional[str]:
    """Waits up to `timeout_s` for the bot to handle one message. None when it
    finished, else why not. A slow reply is not cancelled: it finishes in the
    background (so the tracker store stays whole) and is logged when it ends."""
    task = asyncio.ensure_future(bot_reply)
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout_s)
        return None
    except asyncio.TimeoutError:
        task.add_done_callback(lambda t: _log_late(t, channel, tag))
        return f"no reply within {timeout_s:g}s"
    except Exception as error:  # noqa: BLE001 - the patient must get an answer
        # Only the type: database errors quote their SQL parameters (message text).
        return type(error).__name__


def _log_late(task: "asyncio.Future", channel: str, tag: str) -> None:
    if task.cancelled():
        _logger.error("%s.message.late sender=%s cancelled", channel, tag)
    elif task.exception() is not None:
        _logger.error("%s.message.late sender=%s error=%s", channel, tag, type(task.exception()).__name__)
    else:
        _logger.warning("%s.message.late sender=%s answered after the fallback", channel, tag)


async def is_emergency(agent: Any, text: Optional[str], channel: str) -> bool:
    """Triage of a message by Rasa's in-process NLU (needs no database and no
    action server), so the fallback can put the emergency advice first."""
    if agent is None or not text or text.startswith("/"):
        return False
    try:
        parse_data = await asyncio.wait_for(agent.parse_message(text), PARSE_TIMEOUT_S)
    except Exception as error:  # noqa: BLE001 - the fallback must always be sent
        _logger.error("%s.fallback.parse_failed error=%s", channel, type(error).__name__)
        return False
    return emergency_from_parse(parse_data)
