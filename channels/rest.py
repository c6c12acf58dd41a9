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
- Limits before any work (channels/guard.py): per sender, per client IP
  (the peer, or X-Forwarded-For from BOTOX_TRUSTED_PROXIES only) and for
  the whole process. A refused message gets HTTP 429 with Retry-After and
  the same JSON reply as any other refusal (the safe reply, emergency
  advice first when the text reports an emergency).
- A body over BOTOX_MAX_BODY_BYTES (16 KB) is refused with 413 (and the
  "too long" safe reply) before it is read: at once from its Content-Length,
  or as soon as a chunked body goes past the cap (the route streams, so
  Sanic does not buffer it first).
- What is stored is decided here, not by the caller: the caller's
  `metadata` is dropped and `input_channel` is always "rest" (Rasa's
  RestInput stores both as sent, unbounded).
- Sender ids are issued and signed by the server (channels/sender_ids.py):
  a message without `sender` starts a conversation, and its id comes back
  in the `X-Botox-Sender` header; an id the server did not sign is a 403
  (BOTOX_SIGNED_SENDERS=0 accepts any id, for trusted callers and load
  tests). Either way an id is 1-128 characters of [A-Za-z0-9_-]; anything
  else is a 400, never a database error.
- A client message id (`message_id`, optional) makes a resent message
  answered once: the second copy gets the stored reply (channels/resend.py).
- `?stream=true` is not offered.
- Its blueprint registers the process's start-up (channels/startup.py:
  cached action-response validation, tracker store failing closed).
"""

import inspect
import logging
import re
from functools import partial
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import startup
from channels.guard import client_ip, trusted_networks
from channels.guarded import GuardedMessages, safe_reply
from channels.resend import MESSAGE_ID, handle_once
from channels.sender_ids import SENDER_IDS, SenderIds
from faq.contract import TELEGRAM_SENDER_PREFIX
from faq.settings import SETTINGS, Settings

logger = logging.getLogger(__name__)

DEFAULT_REPLY_TIMEOUT_S = 10.0
# ASCII only: no NUL, no lone surrogate, nothing a database or a log line
# could choke on; long enough for a UUID or a server-issued token.
SENDER_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
SENDER_HEADER = "X-Botox-Sender"


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

    def __init__(
        self,
        reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
        settings: Settings = SETTINGS,
        sender_ids: SenderIds = SENDER_IDS,
    ) -> None:
        self.reply_timeout_s = reply_timeout_s
        self.sender_ids = sender_ids if settings.signed_senders else None
        self.guarded = GuardedMessages(self.name(), reply_timeout_s)
        self.max_body_bytes = settings.max_body_bytes
        self.trusted_proxies = trusted_networks(settings.trusted_proxies)

    def get_metadata(self, request: Request) -> None:
        return None  # the caller's metadata is never stored

    def _extract_input_channel(self, request: Request) -> str:
        return self.name()  # whatever the caller says

    def body_too_large(self) -> HTTPResponse:
        """413 with the "too long" safe reply (the phone, the emergency number):
        a patient who pasted a whole document still gets something to do."""
        logger.warning("%s.message.refused reason=body_too_large max_bytes=%d", self.name(), self.max_body_bytes)
        text, payload = safe_reply("too_long", max_chars=self.guarded.guard.max_chars)
        return response.json([{"text": text, "custom": payload}], status=413)

    def client(self, request: Request) -> str:
        return client_ip(request.ip, request.headers.get("x-forwarded-for"), self.trusted_proxies)

    async def _handle(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        request: Request,
        sender_id: str,
        text: str,
        message_id: Optional[str],
    ) -> HTTPResponse:
        agent = getattr(request.app.ctx, "agent", None)
        output = RestOutput()
        message = UserMessage(text, output, sender_id, input_channel=self.name(), message_id=message_id)
        process = partial(handle_once, agent) if message_id and agent else on_new_message
        refused = await self.guarded.handle(message, process, agent, client=self.client(request))
        # The widget reads the id it was given (cross-origin: the header must be exposed).
        headers = {SENDER_HEADER: sender_id, "Access-Control-Expose-Headers": f"{SENDER_HEADER}, Retry-After"}
        if refused and refused.reason == "rate_limited":
            headers["Retry-After"] = str(refused.retry_after_s)
            return response.json(output.messages, status=429, headers=headers)
        return response.json(output.messages, headers=headers)

    def sender_error(self, sender_id: Any) -> Optional[HTTPResponse]:
        """400 or 403 for a sender id this channel does not take, else None."""
        if not isinstance(sender_id, str) or not SENDER_ID.fullmatch(sender_id):
            return response.json({"error": "'sender' must be 1-128 characters of A-Z, a-z, 0-9, _ and -"}, status=400)
        # Telegram conversations are not reachable (readable or writable) over REST.
        if sender_id.startswith(TELEGRAM_SENDER_PREFIX):
            return response.json({"error": "'sender' may not start with 'telegram-'"}, status=400)
        if self.sender_ids and not self.sender_ids.valid(sender_id):
            error = "'sender' is not an id this server issued: send the message without 'sender' to start one"
            return response.json({"error": error}, status=403)
        return None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        module = inspect.getmodule(self)
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", module.__name__ if module else None)

        startup.register(webhook)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        # stream=True: Sanic would otherwise read the whole body before any code of ours runs.
        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            if request.stream:
                request.stream.request_max_size = self.max_body_bytes
            try:
                await request.receive_body()
            except PayloadTooLarge:
                return self.body_too_large()
            body = request.json if isinstance(request.json, dict) else {}
            sender_id, text, message_id = body.get("sender"), body.get("message"), body.get("message_id")
            if sender_id is None:  # a new conversation
                sender_id = (self.sender_ids or SENDER_IDS).issue()
            refused = self.sender_error(sender_id)
            if refused:
                return refused
            if not isinstance(text, str):
                return response.json({"error": "'message' must be a string"}, status=400)
            if message_id is not None and not (isinstance(message_id, str) and MESSAGE_ID.fullmatch(message_id)):
                error = "'message_id' must be 8-64 characters of A-Z, a-z, 0-9, _ and -"
                return response.json({"error": error}, status=400)
            return await self._handle(on_new_message, request, sender_id, text, message_id)

        return webhook
