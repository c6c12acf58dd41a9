"""The REST channel the website widget and the tests use, with the guard.

credentials.yml:

    channels.rest.GuardedRestInput:
      reply_timeout_s: 10

URL unchanged: POST /webhooks/rest/webhook {"sender": "...", "message": "..."}
-> the list of bot items, exactly as Rasa's own RestInput (docs/payload.md).

What it adds to Rasa's RestInput:
- Every message goes through channels/guarded.py, the routine the Telegram
  channel uses too: the guard first (over-long messages and senders over the
  rate limit get a polite refusal and are never processed or stored), then
  Rasa with a deadline (`reply_timeout_s`), then the safe reply (the
  clinic's phone and the emergency number, emergency advice first for an
  emergency) when the bot produced no message. A slow reply is not
  cancelled: it finishes in the background so the conversation in the
  tracker store stays whole; only the patient's wait is cut short.
- No message text in its logs (Rasa's RestInput logs it on errors).
- `?stream=true` is not offered.
- Its blueprint registers the process's start-up (channels/startup.py:
  cached action-response validation, tracker store failing closed).
"""

import inspect
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import startup
from channels.guarded import GuardedMessages
from faq.contract import TELEGRAM_SENDER_PREFIX

logger = logging.getLogger(__name__)

DEFAULT_REPLY_TIMEOUT_S = 10.0
MAX_SENDER_CHARS = 256


class RestOutput(CollectingOutputChannel):
    """Rasa's collecting output channel, counting what the bot sent (channels/guarded.py)."""

    @property
    def responses(self) -> int:
        return len(self.messages)

    def discard_undelivered(self) -> None:
        self.messages.clear()  # the HTTP response has not been sent yet


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
        self.guarded = GuardedMessages(self.name(), reply_timeout_s)

    async def _handle(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        request: Request,
        sender_id: str,
        text: str,
    ) -> List[Dict[str, Any]]:
        agent = getattr(request.app.ctx, "agent", None)
        output = RestOutput()
        message = UserMessage(
            text,
            output,
            sender_id,
            input_channel=self._extract_input_channel(request),
            metadata=self.get_metadata(request),
        )
        await self.guarded.handle(message, on_new_message, agent)
        return output.messages

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        module = inspect.getmodule(self)
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", module.__name__ if module else None)

        startup.register(webhook)

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
