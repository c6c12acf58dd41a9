"""The project's Telegram channel for Rasa (see docs/telegram.md for why we
don't use Rasa's built-in one).

credentials.yml:

    channels.telegram.TelegramInput:
      token: ...           # else $TELEGRAM_BOT_TOKEN
      secret_token: ...    # else $TELEGRAM_SECRET_TOKEN
      api_base_url: ...    # else $TELEGRAM_API_BASE_URL, else https://api.telegram.org

Webhook: POST /webhooks/telegram/webhook. Every call must carry the
X-Telegram-Bot-Api-Secret-Token header that setWebhook registered
(scripts/telegram_webhook.py); anything else gets 403 and never reaches the
bot. Without a token or secret the channel still loads (so `make run` works
without a bot) and answers every webhook call with 503.

A private message (or a photo's or file's caption, or a button's data) goes
to Rasa through channels/guarded.py, like a REST message. Replies Telegram
does not accept at once are retried from channels/telegram_outbox.py. A new
reply takes the buttons off the previous one (channels/telegram_chats.py).
Commands and the updates read: channels/telegram_commands.py. In a group the
bot only points a patient who addresses it to the private chat.
"""

import hmac
import logging
import re
from collections import OrderedDict
from dataclasses import replace
from functools import partial
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import startup
from channels.guard import sender_tag
from channels.guarded import GuardedMessages
from channels.resend import handle_once
from channels.telegram_api import DEFAULT_API_BASE_URL, BotApi, TelegramApiError
from channels.telegram_chats import ChatMemory, GroupPointers
from channels.telegram_commands import BOT_MESSAGES, CLINIC, HELP, START, starter_buttons
from channels.telegram_format import (
    FEEDBACK_CALLBACKS,
    SIREN,
    OutgoingMessage,
    escape,
    render_payload,
    render_text,
    starter_keyboard,
    valid_callback_data,
)
from channels.telegram_outbox import Outbox, plain_params, tracker_store_engine
from faq.clinic import load_clinic
from faq.contract import TELEGRAM_SENDER_PREFIX, Escalation, Verdict
from faq.feedback import feedback_message
from faq.knowledge_base import ButtonKey, ReplyKey, load_knowledge_base
from faq.settings import SETTINGS, Settings

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What Telegram allows as secret_token in setWebhook.
SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
ENV_TOKEN, ENV_SECRET, ENV_BASE_URL = "TELEGRAM_BOT_TOKEN", "TELEGRAM_SECRET_TOKEN", "TELEGRAM_API_BASE_URL"
# /start is answered by the bot's own greeting (intent greet).
START_MESSAGE = BOT_MESSAGES[START]
# Telegram redelivers an update when our answer is slow; remember the last ones.
SEEN_UPDATES = 1000
# After this long without a bot message the patient gets the safe reply (channels/guarded.py);
# the bot's own answer is not cancelled and still arrives if it comes later.
DEFAULT_REPLY_TIMEOUT_S = 20.0
# Message kinds we can't read: answered with media_reply() in a private chat,
# unless they carry a caption (then the caption is the message).
MEDIA_KEYS = (
    "sticker",
    "photo",
    "voice",
    "audio",
    "video",
    "video_note",
    "document",
    "animation",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
)
# Conversations are stored as "telegram-<chat id>": a REST caller choosing the
# sender id "4242" never lands in Telegram chat 4242's conversation.
SENDER_PREFIX = TELEGRAM_SENDER_PREFIX
COMMAND = re.compile(r"^/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?:\s|$)")


def once_id(message: Dict[str, Any]) -> Optional[str]:
    """The id under which a patient's Telegram message is answered once: its
    Telegram message id, unique within the chat (= the conversation)."""
    number = message.get("message_id")
    return f"telegram-message-{number}" if isinstance(number, int) else None


def sender_for(chat_id: Any) -> str:
    return f"{SENDER_PREFIX}{chat_id}"


def chat_for(recipient_id: Any) -> str:
    """The Telegram chat id of a Rasa sender id (or of a bare chat id)."""
    recipient = str(recipient_id)
    return recipient[len(SENDER_PREFIX) :] if recipient.startswith(SENDER_PREFIX) else recipient


def plain_text(key: ReplyKey, refusal: bool = False, separator: str = " ") -> str:
    """One of the channel's own texts (data/knowledge_base.yml), filled from
    clinic.yml; a refusal ends with the emergency line."""
    kb = load_knowledge_base()
    return load_clinic().fill(kb.with_emergency_line(key, separator) if refusal else kb.reply(key))


def channel_text(key: ReplyKey, refusal: bool = False, separator: str = " ") -> str:
    """plain_text, escaped for parse_mode HTML."""
    return escape(plain_text(key, refusal, separator))


def card(title: ReplyKey, body: ReplyKey, *after: ReplyKey) -> str:
    """A channel message: bold title, text, then the emergency line (bold,
    behind a siren) and the `after` lines."""
    return "\n".join(
        [
            f"<b>{channel_text(title)}</b>",
            channel_text(body),
            "",
            f"{SIREN} <b>{channel_text(ReplyKey.TELEGRAM_HELP_EMERGENCY)}</b>",
            *(channel_text(key) for key in after),
        ]
    )


def help_message() -> str:
    return card(ReplyKey.TELEGRAM_HELP_TITLE, ReplyKey.TELEGRAM_HELP, ReplyKey.TELEGRAM_HELP_CONTACT)


def clinic_message() -> str:
    """/clinic: the clinic's contacts (clinic.yml) and the emergency number."""
    return card(ReplyKey.TELEGRAM_CLINIC_TITLE, ReplyKey.TELEGRAM_CLINIC)


def group_pointer(bot_user: Optional[Dict[str, Any]]) -> OutgoingMessage:
    """The pointer to the private chat, with a button that opens it (once the bot knows its username)."""
    text = channel_text(ReplyKey.TELEGRAM_GROUP, refusal=True)
    username = (bot_user or {}).get("username")
    if not username:
        return OutgoingMessage(text)
    title = load_knowledge_base().buttons[ButtonKey.OPEN_PRIVATE_CHAT]
    return OutgoingMessage(text, {"inline_keyboard": [[{"text": title, "url": f"https://t.me/{username}"}]]})


def feedback_buttons() -> Tuple[str, str]:
    """The titles of the feedback row under an answer: helpful, not helpful."""
    buttons = load_knowledge_base().buttons
    return buttons[ButtonKey.FEEDBACK_HELPFUL], buttons[ButtonKey.FEEDBACK_NOT_HELPFUL]


def comment_prompt() -> Dict[str, Any]:
    """After "Not helpful": the bot's question opens the patient's reply field."""
    return {"force_reply": True, "input_field_placeholder": plain_text(ReplyKey.TELEGRAM_FEEDBACK_PLACEHOLDER)}


def replies_to_comment_prompt(message: Dict[str, Any]) -> bool:
    """A reply to the bot's "What was missing?": its text is the comment.
    Known by the question's own text, so it holds on every instance and after
    a restart."""
    replied = message.get("reply_to_message") or {}
    from_bot = (replied.get("from") or {}).get("is_bot") is True
    return from_bot and str(replied.get("text") or "").strip() == plain_text(ReplyKey.FEEDBACK_ASK_COMMENT)


def media_reply() -> str:
    return channel_text(ReplyKey.TELEGRAM_MEDIA, refusal=True, separator="\n\n")


class TelegramOutput(OutputChannel):
    """Sends bot messages with sendMessage, rendered from the reply payload;
    what Telegram does not accept goes to the outbox (channels/telegram_outbox.py).
    `keyboards`: each chat's message with live buttons (shared by the channel);
    `starter`: a keyboard for a reply that has none (the greeting of /start,
    the reply field opened after "Not helpful")."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def __init__(
        self,
        api: BotApi,
        outbox: Outbox,
        keyboards: Optional[ChatMemory[int]] = None,
        starter: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.api, self.outbox, self.starter = api, outbox, starter
        self.keyboards: ChatMemory[int] = ChatMemory() if keyboards is None else keyboards
        self.responses = 0  # bot messages handed to this channel by Rasa

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        self.responses += 1
        custom = message.get("custom")
        if isinstance(custom, dict) and ("answer" in custom or "text" in custom):
            # The payload holds everything in `text`: don't send it twice.
            book_title = load_knowledge_base().buttons[ButtonKey.BOOK_VISIT]
            emergency = custom.get("escalation") == Escalation.EMERGENCY
            messages = render_payload(custom, book_title=book_title, feedback=feedback_buttons())
            await self.send_reply(recipient_id, messages, emergency)
            return
        text = message.get("text") or ""
        for key in ("image", "attachment"):
            if message.get(key):
                text += f"\n\n{message[key]}"
        buttons = message.get("buttons") or message.get("quick_replies")
        await self.send_reply(recipient_id, render_text(text, buttons))

    def discard_undelivered(self) -> None:
        """Nothing to take back: every reply went to Telegram (or its outbox) as it came."""

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.responses += 1
        await self.send_reply(recipient_id, render_text(text))

    async def send_reply(self, recipient_id: str, messages: List[OutgoingMessage], emergency: bool = False) -> None:
        """One bot reply; once Telegram has it, the chat's previous buttons go."""
        if self.starter and messages and messages[-1].reply_markup is None:
            messages = messages[:-1] + [replace(messages[-1], reply_markup=self.starter)]
        delivered = await self.send_messages(recipient_id, messages, emergency)
        if delivered is not None:
            await self._replace_keyboard(chat_for(recipient_id), *delivered)

    async def _replace_keyboard(self, chat: str, message_id: Any, has_keyboard: bool) -> None:
        previous = self.keyboards.pop(chat)
        if has_keyboard:
            self.keyboards.put(chat, message_id)
        if previous is None or previous == message_id:
            return
        try:  # no reply_markup: the inline keyboard is removed
            await self.api.call("editMessageReplyMarkup", chat_id=chat, message_id=previous)
        except TelegramApiError as error:  # deleted, too old: the buttons still work
            logger.info("telegram.keyboard.kept %s", error)

    async def send_html(self, recipient_id: str, html_text: str) -> None:
        """One message of trusted HTML (the channel's own texts)."""
        await self.send_messages(recipient_id, [OutgoingMessage(html_text)])

    async def send_messages(
        self, recipient_id: str, messages: List[OutgoingMessage], emergency: bool = False
    ) -> Optional[Tuple[Any, bool]]:
        """Sends one reply's messages in order. A 400 is resent at once as plain
        text; what Telegram may take later (no answer, 5xx, 429) goes to the
        outbox with the rest of the reply, as does everything for a chat
        whose earlier reply is still waiting there. When Telegram took the
        whole reply at once: the last message's id and whether it has buttons."""
        chat = chat_for(recipient_id)
        tag = sender_tag(sender_for(chat))
        calls = [message.params(chat) for message in messages]
        delivered: Optional[Tuple[Any, bool]] = None
        for i, params in enumerate(calls):
            if self.outbox.waiting(chat):
                await self.outbox.put(calls[i:], emergency, tag)
                return None
            sent, error = await self._try(params)
            if error is not None and error.status == 400:
                calls[i] = plain_params(params)
                sent, error = await self._try(calls[i])
            if error is None:
                # Only an inline keyboard can be taken off later (not a ForceReply).
                delivered = ((sent or {}).get("message_id"), "inline_keyboard" in (calls[i].get("reply_markup") or {}))
                continue
            if error.retryable:
                await self.outbox.put(calls[i:], emergency, tag, error)
                return None
            self.outbox.refused(tag, emergency, error.status)
            if error.status == 403:
                return None  # blocked by the patient: stop this reply
        return delivered

    async def _try(self, params: Dict[str, Any]) -> Tuple[Any, Optional[TelegramApiError]]:
        try:
            return await self.api.call("sendMessage", **params), None
        except TelegramApiError as error:
            if error.status != 403:  # a blocked bot is the patient's choice: Outbox.refused logs it
                logger.warning("Telegram: %s", error)
            return None, error


class TelegramInput(InputChannel):
    """Telegram webhook: POST /webhooks/telegram/webhook."""

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]], settings: Settings = SETTINGS) -> InputChannel:
        # Rasa's ${VAR} substitution fails on unset variables, so the
        # environment fallbacks are read here.
        credentials = credentials or {}

        def setting(key: str, from_env: Optional[str]) -> Optional[str]:
            value = credentials.get(key)
            if value is None or str(value).strip() == "":
                return from_env
            return str(value).strip()

        return cls(
            token=setting("token", settings.telegram_token),
            secret_token=setting("secret_token", settings.telegram_secret),
            api_base_url=setting("api_base_url", settings.telegram_api_base_url) or DEFAULT_API_BASE_URL,
            reply_timeout_s=float(credentials.get("reply_timeout_s") or DEFAULT_REPLY_TIMEOUT_S),
        )

    def __init__(
        self,
        token: Optional[str],
        secret_token: Optional[str],
        api_base_url: str = DEFAULT_API_BASE_URL,
        reply_timeout_s: float = DEFAULT_REPLY_TIMEOUT_S,
    ) -> None:
        self.reply_timeout_s = reply_timeout_s
        self.guarded = GuardedMessages(self.name(), reply_timeout_s)
        self.token = token or None
        self.secret_token = secret_token or None
        self.api_base_url = api_base_url or DEFAULT_API_BASE_URL
        self.api = BotApi(self.token or "", self.api_base_url)
        self.outbox = Outbox(self.api)
        self.keyboards: ChatMemory[int] = ChatMemory()
        self.group_pointers = GroupPointers()
        self._bot_user: Optional[Dict[str, Any]] = None  # getMe, once it answered
        self._seen_updates: OrderedDict[Any, None] = OrderedDict()
        self.problem = self._configuration_problem()
        if self.problem:
            logger.warning("Telegram channel loaded but DISABLED: %s. Webhook calls get 503.", self.problem)
        else:
            logger.info("Telegram channel ready (Bot API at %s)", self.api_base_url)

    def _configuration_problem(self) -> Optional[str]:
        if not self.token:
            return f"no bot token (set {ENV_TOKEN} or 'token' in credentials.yml)"
        if not self.secret_token:
            return f"no webhook secret (set {ENV_SECRET} or 'secret_token' in credentials.yml)"
        if not SECRET_PATTERN.match(self.secret_token):
            return "the webhook secret may only use A-Z, a-z, 0-9, _ and - (1-256 characters)"
        if not re.match(r"^https?://", self.api_base_url):
            return f"api_base_url must be an http(s) URL, not {self.api_base_url!r}"
        return None

    def get_output_channel(self) -> Optional[OutputChannel]:
        return None if self.problem else TelegramOutput(self.api, self.outbox, self.keyboards)

    def secret_ok(self, request: Request) -> bool:
        given = request.headers.get(SECRET_HEADER)
        if not given or not self.secret_token:
            return False
        return hmac.compare_digest(given.encode("utf-8"), self.secret_token.encode("utf-8"))

    def _already_seen(self, update_id: Any) -> bool:
        if update_id is None:
            return False
        if update_id in self._seen_updates:
            return True
        self._seen_updates[update_id] = None
        while len(self._seen_updates) > SEEN_UPDATES:
            self._seen_updates.popitem(last=False)
        return False

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        telegram_webhook = Blueprint("telegram_webhook", __name__)
        startup.register(telegram_webhook)

        @telegram_webhook.listener("after_server_start")
        async def start_outbox(app: Any, _loop: Any) -> None:
            if not self.problem:  # replies kept in the tracker store's database
                await self.outbox.start(tracker_store_engine(getattr(app.ctx, "agent", None)))

        @telegram_webhook.listener("before_server_stop")
        async def stop_outbox(*_: Any) -> None:
            await self.outbox.stop()

        @telegram_webhook.listener("after_server_stop")
        async def close_session(*_: Any) -> None:
            await self.api.close()

        @telegram_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok" if not self.problem else "not configured"})

        @telegram_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if self.problem:
                logger.error("Telegram webhook call refused: channel not configured (%s)", self.problem)
                return response.json({"ok": False, "error": "telegram channel not configured"}, status=503)
            if not self.secret_ok(request):
                logger.warning("Telegram webhook call refused: missing or wrong %s header", SECRET_HEADER)
                return response.json({"ok": False, "error": "forbidden"}, status=403)
            try:
                update = request.json
            except Exception:  # noqa: BLE001 - any unreadable body is a bad request
                update = None
            if not isinstance(update, dict) or type(update.get("update_id")) is not int:
                return response.json({"ok": False, "error": "expected a Telegram update"}, status=400)
            if self._already_seen(update.get("update_id")):
                return response.json({"ok": True, "duplicate": True})
            try:
                await self.handle_update(update, on_new_message, getattr(request.app.ctx, "agent", None))
            except Exception:
                # A 5xx would make Telegram redeliver the update again and again.
                logger.exception("Telegram: failed to handle update %s", update.get("update_id"))
            return response.json({"ok": True})

        return telegram_webhook

    async def handle_update(
        self, update: Dict[str, Any], on_new_message: Callable[[UserMessage], Awaitable[Any]], agent: Any = None
    ) -> None:
        """Does what one update asks for; never raises on updates we can't use."""
        out = TelegramOutput(self.api, self.outbox, self.keyboards)
        if isinstance(update.get("callback_query"), dict):
            await self._handle_callback(update["callback_query"], out, on_new_message, agent)
            return
        edited = update.get("edited_message")
        if isinstance(edited, dict):
            chat = edited.get("chat") or {}
            if chat.get("type") == "private" and chat.get("id") is not None:
                await out.send_html(str(chat["id"]), channel_text(ReplyKey.TELEGRAM_EDITED, refusal=True))
            return
        message = update.get("message")
        if not isinstance(message, dict):
            # channel posts, inline queries, membership changes, polls...: not for us
            logger.debug("Telegram: ignoring update of kind %s", sorted(k for k in update if k != "update_id"))
            return
        chat = message.get("chat") or {}
        if chat.get("id") is None:
            return
        chat_id = str(chat["id"])
        text = message.get("text")
        if not isinstance(text, str) or not text.strip():
            text = message.get("caption")  # a photo or file with words: read the words
        command = COMMAND.match(text) if isinstance(text, str) else None
        if chat.get("type") != "private":
            # Health questions don't belong in a group: whoever addresses the
            # bot there is pointed to the private chat, once per window.
            if await self._addressed_to_bot(message, text, command) and self.group_pointers.due(chat_id):
                await out.send_messages(chat_id, [group_pointer(self._bot_user)])
            return
        if not isinstance(text, str) or not text.strip():
            if any(key in message for key in MEDIA_KEYS):
                await out.send_html(chat_id, media_reply())
            return  # service messages (pinned, chat photo changed...): silently
        if command:
            name = command.group(1).lower()
            if name in BOT_MESSAGES:
                out.starter = starter_keyboard(starter_buttons()) if name == START else None
                await self._ask_bot(BOT_MESSAGES[name], chat_id, message, out, on_new_message, agent, once_id(message))
            elif name == HELP:
                await out.send_html(chat_id, help_message())
            elif name == CLINIC:
                await out.send_html(chat_id, clinic_message())
            else:
                await out.send_html(chat_id, channel_text(ReplyKey.TELEGRAM_UNKNOWN_COMMAND, refusal=True))
            return
        if replies_to_comment_prompt(message):
            text = feedback_message(Verdict.NOT_HELPFUL, text)
        await self._ask_bot(text, chat_id, message, out, on_new_message, agent, once_id(message))

    async def _addressed_to_bot(self, message: Dict[str, Any], text: Any, command: Any) -> bool:
        """A command for this bot (or for no bot in particular), an @mention of
        it, or a reply to one of its messages. Telegram's privacy mode (the
        default) sends a bot little else from a group."""
        me = await self.bot_user()
        username = str((me or {}).get("username") or "").lower()
        if command:
            return not command.group(2) or command.group(2).lower() == username
        if not me:
            return False
        if isinstance(text, str) and re.search(rf"(?<!\w)@{re.escape(username)}\b", text, re.IGNORECASE):
            return True
        entities = (message.get("entities") or []) + (message.get("caption_entities") or [])
        mentioned = [(e.get("user") or {}).get("id") for e in entities if isinstance(e, dict)]
        replied_to = ((message.get("reply_to_message") or {}).get("from") or {}).get("id")
        return me.get("id") in mentioned + [replied_to]

    async def bot_user(self) -> Optional[Dict[str, Any]]:
        """The bot's own user (getMe), asked once it is needed and kept."""
        if self._bot_user is None:
            try:
                self._bot_user = await self.api.call("getMe")
            except TelegramApiError as error:
                logger.warning("Telegram: %s", error)
        return self._bot_user

    async def _ask_bot(
        self,
        text: str,
        chat_id: str,
        message: Dict[str, Any],
        out: TelegramOutput,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        agent: Any,
        message_id: Optional[str] = None,
    ) -> None:
        """Passes one message to Rasa through channels/guarded.py (guard,
        deadline, safe reply when the bot produces none). With `message_id`
        a message Telegram delivers again (to this or another instance, after
        one died before answering the webhook) is answered from the store, not
        processed twice (channels/resend.py)."""
        user_message = self._user_message(text, out, sender_for(chat_id), message, message_id)
        process = partial(handle_once, agent) if message_id and agent else on_new_message
        await self.guarded.handle(user_message, process, agent)

    async def _handle_callback(
        self,
        query: Dict[str, Any],
        out: TelegramOutput,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        agent: Any = None,
    ) -> None:
        data = query.get("data")
        message = query.get("message") or {}
        chat = message.get("chat") or {}
        private = chat.get("type") == "private" and chat.get("id") is not None
        usable = private and valid_callback_data(data)
        # Always answer, or the button keeps spinning on the patient's phone.
        try:
            await out.api.call(
                "answerCallbackQuery",
                callback_query_id=query.get("id"),
                text=None if usable else plain_text(ReplyKey.TELEGRAM_BUTTON_UNUSABLE, refusal=True),  # a toast
            )
        except TelegramApiError as error:
            logger.warning("Telegram: %s", error)
        if usable:
            if data == FEEDBACK_CALLBACKS[Verdict.NOT_HELPFUL]:
                out.starter = comment_prompt()  # "What was missing?" opens the reply field
            tap = f"telegram-callback-{query.get('id')}"
            await self._ask_bot(str(data), str(chat["id"]), message, out, on_new_message, agent, tap)

    def _user_message(
        self, text: str, out: TelegramOutput, sender: str, message: Dict[str, Any], message_id: Optional[str] = None
    ) -> UserMessage:
        return UserMessage(
            text,
            out,
            sender,
            input_channel=self.name(),
            message_id=message_id,
            metadata={"telegram": {"chat_type": (message.get("chat") or {}).get("type")}},
        )
