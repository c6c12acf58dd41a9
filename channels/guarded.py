"""One user message through the guard and the bot, whichever channel it came in on.

REST (channels/rest.py) and Telegram (channels/telegram.py) both call

    await GuardedMessages("rest", reply_timeout_s).handle(message, on_new_message, agent)

with Rasa's `UserMessage` (its output channel counts what it sent, `responses`),
and this module does the same four things for both, in this order:

0. the text is normalised (faq/text.py: NFKC, no zero-width or other format
   characters, Latin look-alikes folded, HTML tags stripped), so "I can't
   bre\u200bathe" or "<b>I can't breathe</b>" reaches the NLU, triage and the
   tracker store as "I can't breathe";
1. the guard (channels/guard.py): a message over the length limit or from a
   sender over the rate limit is not passed on to Rasa; the patient gets a
   polite refusal, with the emergency advice first when the message reports
   an emergency. The refused text is still read by the NLU, all of it (in
   windows of the length limit, up to MAX_SCAN_CHARS): a refusal must never
   hide "I can't breathe" behind "slow down" or "too long", wherever in the
   message it is;
2. Rasa handles the message, with a deadline (`reply_timeout_s`); a slow
   reply is not cancelled: it finishes in the background, so the tracker
   store stays whole, and is logged when it ends;
3. when that produced no bot message (action server down or slow, tracker
   or lock store down, any crash: Rasa logs the error and would answer
   nothing), the patient gets the safe reply: the clinic's phone and the
   emergency number, emergency advice first when the triage in Rasa's own
   NLU pipeline (in-process: no database, no action server) classes the
   message as an emergency. Messages Rasa legitimately answers with nothing
   (SILENT_COMMANDS) get no safe reply.

It was written twice (once per channel) and the copies drifted; one routine
keeps every channel's emergency path the same.

`safe_reply` returns the plain text and the payload of docs/payload.md (built
with faq.replies.Reply + render, so it is identical in shape to every other
bot message). Its texts (data/knowledge_base.yml, read at start-up) always
carry the clinic's phone and the emergency number from clinic.yml, and need
neither the action server nor a database.

Nothing here logs message text; senders are logged as a keyed hash (channels/guard.py).
"""

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Protocol, Tuple

from rasa.core.channels.channel import UserMessage

from channels.guard import GUARD, Guard, Refusal, sender_tag
from faq.clinic import load_clinic
from faq.contract import TRIAGE_KEY, Escalation, ReplyType, TriageLevel
from faq.feedback import comment_in
from faq.knowledge_base import ButtonKey, ReplyKey, load_knowledge_base
from faq.replies import Reply, render
from faq.text import normalise

logger = logging.getLogger(__name__)

# Messages Rasa legitimately answers with nothing.
SILENT_COMMANDS = ("/restart", "/session_start", "/back")
# How long the fallback may wait for Rasa's own NLU to tell an emergency.
PARSE_TIMEOUT_S = 3.0
# A refused message is read for an emergency in windows of the length limit
# (what the NLU reads of any message) that overlap by this much, so a sentence
# cut at one window's edge is whole in the next.
SCAN_OVERLAP_CHARS = 300
# Read at most this much of a refused message (about 65 ms of NLU per 1,000
# characters). Every message that reaches the channel is shorter: the REST
# channel refuses bodies over 16 KB, Telegram texts are at most 4,096.
MAX_SCAN_CHARS = 50_000
# Why a safe reply is sent: the guard refused the message, or the bot failed.
REASONS = ("too_long", "rate_limited", "error")

# The knowledge base's text for each reason (data/knowledge_base.yml, replies):
# (the reply, the reply after the emergency advice).
_REPLY_KEYS = {
    "too_long": (ReplyKey.REFUSED_TOO_LONG, ReplyKey.REFUSED_TOO_LONG_EMERGENCY),
    "rate_limited": (ReplyKey.REFUSED_RATE_LIMITED, ReplyKey.REFUSED_RATE_LIMITED_EMERGENCY),
    "error": (ReplyKey.FAILED, ReplyKey.FAILED_EMERGENCY),
}


class CountingOutput(Protocol):
    """A Rasa output channel that counts the bot messages handed to it."""

    @property
    def responses(self) -> int: ...

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None: ...

    def discard_undelivered(self) -> None:
        """Forgets bot messages not yet delivered to the patient (a failed turn's)."""


def safe_reply(reason: str, emergency: bool = False, max_chars: int = GUARD.max_chars) -> Tuple[str, Dict]:
    """Text and payload (docs/payload.md) of a refusal or failure reply.

    Every one ends with the emergency line. With emergency=True (the triage
    of this very message said "emergency") the clinic's emergency advice
    comes first instead, as in every emergency reply, and the text never asks
    the patient to wait or to send the message again.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    kb = load_knowledge_base()
    key, emergency_key = _REPLY_KEYS[reason]
    answer = kb.reply(emergency_key) if emergency else kb.with_emergency_line(key)
    answer = answer.replace("{max_chars}", str(max_chars))
    talk = [kb.suggestion(ButtonKey.HANDOFF)]
    if emergency:
        reply = Reply(type=ReplyType.TRIAGE, answer=answer, escalation=Escalation.EMERGENCY, suggestions=talk)
    else:
        reply = Reply(type=ReplyType.FALLBACK, answer=answer, suggestions=talk)
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


async def is_emergency(agent: Any, text: Optional[str], channel: str) -> bool:
    """Triage of a message by Rasa's in-process NLU (needs no database and no
    action server), so the fallback can put the emergency advice first."""
    # A feedback comment ("what was missing?") is the patient's own words: read it too.
    text = comment_in(text or "") or text
    if agent is None or not text or text.startswith("/"):
        return False
    try:
        parse_data = await asyncio.wait_for(agent.parse_message(text), PARSE_TIMEOUT_S)
    except Exception as error:  # noqa: BLE001 - the fallback must always be sent
        logger.error("%s.fallback.parse_failed error=%s", channel, type(error).__name__)
        return False
    return emergency_from_parse(parse_data)


def scan_windows(text: str, size: int, overlap: int = SCAN_OVERLAP_CHARS) -> List[str]:
    """`text` cut into pieces of at most `size` characters, overlapping by
    about `overlap`, cut between words where possible."""
    if len(text) <= size:
        return [text]
    pieces, start = [], 0
    while True:
        end = min(start + size, len(text))
        if end < len(text):
            space = text.rfind(" ", start + overlap + 1, end)
            end = space if space > 0 else end
        pieces.append(text[start:end])
        if end >= len(text):
            return pieces
        next_start = end - overlap
        space = text.find(" ", next_start, end)
        start = space + 1 if space >= 0 else next_start


async def emergency_anywhere(agent: Any, text: str, window: int, channel: str, tag: str) -> bool:
    """is_emergency on every window of a (refused, possibly long) message."""
    if len(text) > MAX_SCAN_CHARS:
        logger.warning("%s.scan.truncated sender=%s chars=%d read=%d", channel, tag, len(text), MAX_SCAN_CHARS)
    for piece in scan_windows(text[:MAX_SCAN_CHARS], window):
        if await is_emergency(agent, piece, channel):
            return True
        await asyncio.sleep(0)  # let other conversations go on between windows
    return False


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
        logger.error("%s.message.late sender=%s cancelled", channel, tag)
    elif task.exception() is not None:
        logger.error("%s.message.late sender=%s error=%s", channel, tag, type(task.exception()).__name__)
    else:
        logger.warning("%s.message.late sender=%s answered after the fallback", channel, tag)


def is_silent_command(text: str) -> bool:
    return text.strip().split("{")[0] in SILENT_COMMANDS


class GuardedMessages:
    """The guarded-message routine of one channel (`name` is for the logs)."""

    def __init__(self, name: str, reply_timeout_s: float, guard: Guard = GUARD) -> None:
        self.name, self.reply_timeout_s, self.guard = name, reply_timeout_s, guard

    async def handle(
        self,
        message: UserMessage,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        agent: Any,
        client: Optional[str] = None,
    ) -> Optional[Refusal]:
        """Guard, then the bot with a deadline, then the safe reply if the bot
        produced nothing. Every reply goes to `message.output_channel`.
        `client` (the caller's IP, channels/guard.py client_ip) adds the
        per-client limit. Returns the guard's refusal, if it refused."""
        output: CountingOutput = message.output_channel
        message.text = text = normalise(message.text or "")
        sender = message.sender_id
        tag = sender_tag(sender)
        refused = self.guard.refusal(sender, text, client)
        if refused:
            reason = refused.reason
            logger.warning("%s.message.refused reason=%s sender=%s chars=%d", self.name, reason, tag, len(text))
            emergency = await emergency_anywhere(agent, text, self.guard.max_chars, self.name, tag)
            await self._send_safe_reply(output, sender, reason, emergency)
            return refused
        failure = await reply_failure(on_new_message(message), self.reply_timeout_s, self.name, tag)
        if failure is None and (output.responses or is_silent_command(text)):
            return None
        failure = failure or "the bot produced no message (see the error above: action server?)"
        logger.error("%s.message.failed sender=%s reason=%s; sent the safe fallback", self.name, tag, failure)
        # A turn that failed after its answer was made (e.g. the write refused)
        # was not stored: where the answer has not left yet, the safe reply replaces it.
        output.discard_undelivered()
        emergency = await is_emergency(agent, text, self.name)
        await self._send_safe_reply(output, sender, "error", emergency)
        return None

    async def _send_safe_reply(self, output: CountingOutput, sender: str, reason: str, emergency: bool) -> None:
        text, payload = safe_reply(reason, emergency=emergency, max_chars=self.guard.max_chars)
        await output.send_response(sender, {"text": text, "custom": payload})
