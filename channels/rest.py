"""The REST channel the website widget and the tests use, with the guard.

credentials.yml:

    channels.rest.GuardedRestInput:
      reply_timeout_s: 10

URL unchanged: POST /webhooks/rest/webhook {"sender": "...", "message": "..."}
-> the list of bot items, exactly as Rasa's own RestInput (docs/payload.md).

What it adds to Rasa's RestInput:
- channels.guard before anything else: over-long messages and senders over
  the rate limit get a polite refusal and are never processed or stored.
- When a user message produced no bot message (action server down, slow
  beyond `reply_timeout_s`, tracker store or lock store down, any crash;
  Rasa logs the error and would answer nothing), the patient gets
  guard.safe_reply("error"): the clinic's phone and the emergency number,
  with the emergency advice first when the triage in Rasa's own NLU
  pipeline classed the message as an emergency.
- A slow reply is not cancelled: it finishes in the background so the
  conversation in the tracker store stays whole; only the patient's wait is
  cut short.
- No message text in its logs (Rasa's RestInput logs it on errors).
- The tracker store fails closed: Rasa's FailSafeTrackerStore would, with
  the database down, answer without the conversation's history and keep the
  new events in this process's memory (lost on restart, invisible to the
  other instances, never written back), and log the database error with its
  SQL parameters. Through Rasa's own `on_tracker_store_error` hook the
  error is raised instead: nothing is processed, the patient gets the safe
  reply, the log gets the error type only. Set once the agent is loaded, for
  every channel of the process.
- `?stream=true` is not offered.
- Importing it caches Rasa's action-response schema validator
  (channels/speedups.py).
"""

import inspect
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.tracker_store import FailSafeTrackerStore
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.guard import GUARD, is_emergency, reply_failure, safe_reply, sender_tag
from channels.speedups import cache_action_response_validation
from faq.contract import TELEGRAM_SENDER_PREFIX

cache_action_response_validation()  # channels/speedups.py: ~35 ms less CPU per action call

logger = logging.getLogger(__name__)

DEFAULT_REPLY_TIMEOUT_S = 10.0
MAX_SENDER_CHARS = 256
# Messages Rasa legitimately answers with nothing.
SILENT_COMMANDS = ("/restart", "/session_start", "/back")


async def reply_items(sender_id: str, reason: str, emergency: bool = False) -> List[Dict[str, Any]]:
    """The guard's reply as REST items, sent the way Rasa sends a bot message."""
    text, payload = safe_reply(reason, emergency=emergency)
    collector = CollectingOutputChannel()
    await collector.send_response(sender_id, {"text": text, "custom": payload})
    return collector.messages


class TrackerStoreUnavailable(Exception):
    """The conversation store failed; the message is not processed."""


def _raise_tracker_store_error(error: Exception) -> None:
    # Type only: SQLAlchemy's message quotes the SQL parameters (message text).
    logger.error("tracker_store.unavailable error=%s; message not processed", type(error).__name__)
    raise TrackerStoreUnavailable(type(error).__name__) from None


def fail_closed_tracker_store(agent: Any) -> bool:
    """Installs the hook on the agent's FailSafeTrackerStore (idempotent)."""
    store = getattr(agent, "tracker_store", None)
    if not isinstance(store, FailSafeTrackerStore):
        return False
    if getattr(store, "_on_tracker_store_error", None) is not _raise_tracker_store_error:
        store._on_tracker_store_error = _raise_tracker_store_error
    return True


class GuardedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "GuardedRestInput":
        credentials = credentials or {}
        return cls(reply_timeout_s=float(credentials.get("reply_timeout_s", DEFAULT_REPLY_TIMEOUT_S)))

    def __init__(self, reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S) -> None:
        self.reply_timeout_s = reply_timeout_s

    async def _handle(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        request: Request,
        sender_id: str,
        text: str,
    ) -> List[Dict[str, Any]]:
        tag = sender_tag(sender_id)
        agent = getattr(request.app.ctx, "agent", None)
        fail_closed_tracker_store(agent)
        reason = GUARD.check(sender_id, text)
        if reason:
            logger.warning("rest.message.refused reason=%s sender=%s chars=%d", reason, tag, len(text))
            emergency = await is_emergency(agent, GUARD.head(text), "rest")
            return await reply_items(sender_id, reason, emergency=emergency)

        collector = CollectingOutputChannel()
        message = UserMessage(
            text,
            collector,
            sender_id,
            input_channel=self._extract_input_channel(request),
            metadata=self.get_metadata(request),
        )
        failure = await reply_failure(on_new_message(message), self.reply_timeout_s, "rest", tag)

        if failure is None and collector.messages:
            return collector.messages
        if failure is None:
            if text.strip().split("{")[0] in SILENT_COMMANDS:
                return collector.messages
            failure = "the bot produced no message (see the error above: action server?)"
        logger.error("rest.message.failed sender=%s reason=%s; sent the safe fallback", tag, failure)
        emergency = await is_emergency(agent, text, "rest")
        return await reply_items(sender_id, "error", emergency=emergency)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        module = inspect.getmodule(self)
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", module.__name__ if module else None)

        @webhook.listener("after_server_start")
        async def fail_closed(app, _loop) -> None:
            fail_closed_tracker_store(getattr(app.ctx, "agent", None))

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            sender_id, text = body.get("sender"), body.get("message")
            if not isinstance(sender_id, str) or not sender_id or len(sender_id) > MAX_SENDER_CHARS:
                return response.json({"error": "'sender' must be a non-empty string"}, status=400)
            # Telegram conversations are not reachable (readable or writable) over REST.
            if sender_id.startswith(TELEGRAM_SENDER_PREFIX):
                return response.json({"error": "'sender' may not start with 'telegram-'"}, status=400)
            if not isinstance(text, str):
                return response.json({"error": "'message' must be a string"}, status=400)
            return response.json(await self._handle(on_new_message, request, sender_id, text))

        return webhook
