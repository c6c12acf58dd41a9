"""A fake Telegram Bot API server on 127.0.0.1 for tests: records every call
(method, token, JSON params) and answers with Telegram-shaped JSON.

    with FakeTelegram(token="123:abc") as api:
        ...  # point the bot at api.url (api_base_url)
        api.calls("sendMessage")  # -> [params, ...]
        api.fail("sendMessage", 502, times=3)  # the next three calls get 502
        api.fail("sendMessage", 429, retry_after=30)  # flood control, once
        api.fail("sendMessage", 502, times=None)  # every call, until api.recover()
        api.keyboard(chat_id, message_id)  # the buttons that message shows now

Every call is checked against the Bot API's own names (METHODS and the
objects below): a misspelt method, parameter or field gets 400 and goes to
`problems`, and leaving the `with` block with problems fails the test. The
real Telegram ignores unknown parameters, so a typo there would go unnoticed.
"""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, FrozenSet, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Clinic FAQ", "username": "clinic_faq_test_bot"}

# The methods the bot may call: (required, optional) parameter names, as the Bot API spells them.
METHODS: Dict[str, Tuple[FrozenSet[str], FrozenSet[str]]] = {
    "sendMessage": (
        frozenset({"chat_id", "text"}),
        frozenset(
            {
                "business_connection_id",
                "message_thread_id",
                "parse_mode",
                "entities",
                "link_preview_options",
                "disable_notification",
                "protect_content",
                "allow_paid_broadcast",
                "message_effect_id",
                "reply_parameters",
                "reply_markup",
            }
        ),
    ),
    "answerCallbackQuery": (
        frozenset({"callback_query_id"}),
        frozenset({"text", "show_alert", "url", "cache_time"}),
    ),
    "editMessageReplyMarkup": (
        frozenset(),
        frozenset({"business_connection_id", "chat_id", "message_id", "inline_message_id", "reply_markup"}),
    ),
    "setMyCommands": (frozenset({"commands"}), frozenset({"scope", "language_code"})),
    "setWebhook": (
        frozenset({"url"}),
        frozenset(
            {
                "certificate",
                "ip_address",
                "max_connections",
                "allowed_updates",
                "drop_pending_updates",
                "secret_token",
            }
        ),
    ),
    "deleteWebhook": (frozenset(), frozenset({"drop_pending_updates"})),
    "getWebhookInfo": (frozenset(), frozenset()),
    "getMe": (frozenset(), frozenset()),
}
LINK_PREVIEW_OPTIONS = {"is_disabled", "url", "prefer_small_media", "prefer_large_media", "show_above_text"}
INLINE_BUTTON_ACTIONS = {
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
}
UPDATE_KINDS = {
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
}
BOT_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")


def _unknown(what: str, given: Any, known: Any) -> List[str]:
    return [f"{what}: unknown field {name!r}" for name in sorted(set(given) - set(known))]


FORCE_REPLY_FIELDS = {"force_reply", "input_field_placeholder", "selective"}


def _force_reply_problems(markup: Dict[str, Any]) -> List[str]:
    found = _unknown("ForceReply", markup, FORCE_REPLY_FIELDS)
    if markup.get("force_reply") is not True:
        found.append("ForceReply: force_reply must be True")
    if not 1 <= len(markup.get("input_field_placeholder", "x")) <= 64:
        found.append("ForceReply: input_field_placeholder must be 1-64 characters")
    return found


def _reply_markup_problems(markup: Any) -> List[str]:
    if isinstance(markup, dict) and "force_reply" in markup:
        return _force_reply_problems(markup)
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        return ["reply_markup: not an InlineKeyboardMarkup or ForceReply"]
    found = _unknown("reply_markup", markup, {"inline_keyboard"})
    for row in markup["inline_keyboard"]:
        for button in row if isinstance(row, list) else [None]:
            if not isinstance(button, dict) or not button.get("text"):
                found.append(f"inline keyboard: button without text: {button!r}")
                continue
            found += _unknown("InlineKeyboardButton", button, INLINE_BUTTON_ACTIONS | {"text"})
            if len(set(button) & INLINE_BUTTON_ACTIONS) != 1:
                found.append(f"InlineKeyboardButton {button['text']!r}: needs exactly one action")
    return found


def call_problems(method: str, params: Dict[str, Any]) -> List[str]:
    """How one call differs from the Bot API's names and shapes."""
    if method not in METHODS:
        return [f"unknown method {method!r}"]
    required, optional = METHODS[method]
    found = [f"{method}: missing {name!r}" for name in sorted(required - set(params))]
    found += _unknown(method, params, required | optional)
    if "reply_markup" in params:
        found += _reply_markup_problems(params["reply_markup"])
    if "link_preview_options" in params:
        found += _unknown("LinkPreviewOptions", params["link_preview_options"], LINK_PREVIEW_OPTIONS)
    for command in params.get("commands") or [] if method == "setMyCommands" else []:
        found += _unknown("BotCommand", command, {"command", "description"})
        if not BOT_COMMAND.match(str(command.get("command"))) or not 1 <= len(command.get("description") or "") <= 256:
            found.append(f"BotCommand: invalid {command!r}")
    kinds = params.get("allowed_updates") or []
    found += [f"allowed_updates: unknown {kind!r}" for kind in kinds if kind not in UPDATE_KINDS]
    return found


class FakeTelegram:
    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0):
        self.token = token
        self.records: List[Dict[str, Any]] = []
        self.webhook: Dict[str, Any] = {}
        self.commands: List[Dict[str, str]] = []
        # What the bot did wrong (call_problems): must stay empty.
        self.problems: List[str] = []
        # (chat id, message id) -> the reply_markup the message shows now
        self.keyboards: Dict[Tuple[str, int], Optional[Dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self._message_id = 100
        # method -> [(status, body), ...]: answers for its next calls, in order
        self._failures: Dict[str, List[Tuple[int, Dict[str, Any]]]] = {}
        # method -> (status, body): the answer to every call until recover()
        self._failing: Dict[str, Tuple[int, Dict[str, Any]]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _answer(self, status: int, body: Dict[str, Any]):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, body: bytes):
                parts = urlsplit(self.path)
                segments = parts.path.strip("/").split("/")
                if len(segments) != 2 or not segments[0].startswith("bot"):
                    return self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                token, method = segments[0][3:], segments[1]
                try:
                    params = json.loads(body) if body else {}
                except ValueError:
                    params = None
                if params is None or not isinstance(params, dict):
                    params = dict(parse_qsl(body.decode(errors="replace") or parts.query))
                record = fake._record(method, token, params)
                if token != fake.token:
                    return self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                problems = call_problems(method, params)
                if problems:
                    with fake.lock:
                        fake.problems += problems
                    record["status"] = 400
                    description = f"Bad Request: {'; '.join(problems)}"
                    return self._answer(400, {"ok": False, "error_code": 400, "description": description})
                status, answer = fake._respond(method, params)
                record["status"] = status
                if method == "sendMessage" and status == 200:
                    record["message_id"] = answer["result"]["message_id"]
                self._answer(status, answer)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                self._handle(self.rfile.read(length))

            def do_GET(self):
                self._handle(b"")

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _record(self, method: str, token: str, params: Dict[str, Any]) -> Dict[str, Any]:
        record = {"method": method, "token": token, "params": params, "at": time.time()}
        with self.lock:
            self.records.append(record)
        return record

    def fail(
        self,
        method: str,
        status: int,
        description: str = "",
        times: Optional[int] = 1,
        retry_after: Optional[float] = None,
    ):
        """Answers the next `times` calls of `method` (every call until
        recover() when None) with `status`, shaped like Telegram's errors."""
        body: Dict[str, Any] = {"ok": False, "error_code": status, "description": description or f"Error {status}"}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
            body["description"] = description or f"Too Many Requests: retry after {retry_after}"
        with self.lock:
            if times is None:
                self._failing[method] = (status, body)
            else:
                self._failures.setdefault(method, []).extend([(status, body)] * times)

    def recover(self, method: Optional[str] = None):
        """Answers normally again (every method when None)."""
        with self.lock:
            for name in [method] if method else list(self._failing) + list(self._failures):
                self._failing.pop(name, None)
                self._failures.pop(name, None)

    def _respond(self, method: str, params: Dict[str, Any]):
        with self.lock:
            if method in self._failing:
                return self._failing[method]
            if self._failures.get(method):
                return self._failures[method].pop(0)
        if method == "sendMessage":
            if not params.get("chat_id") or not params.get("text"):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message text is empty"}
            if len(params["text"]) > 4096:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}
            with self.lock:
                self._message_id += 1
                message_id = self._message_id
                self.keyboards[(str(params["chat_id"]), message_id)] = params.get("reply_markup")
            return 200, {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "from": BOT_USER,
                    "date": int(time.time()),
                    "chat": {"id": int(params["chat_id"]), "type": "private"},
                    "text": params["text"],
                },
            }
        if method == "answerCallbackQuery":
            return 200, {"ok": True, "result": True}
        if method == "editMessageReplyMarkup":
            return self._edit_markup(params)
        if method == "setMyCommands":
            with self.lock:
                self.commands = list(params["commands"])
            return 200, {"ok": True, "result": True}
        if method == "getMe":
            return 200, {"ok": True, "result": BOT_USER}
        if method == "setWebhook":
            with self.lock:
                self.webhook = dict(params)
            return 200, {"ok": True, "result": True, "description": "Webhook was set"}
        if method == "deleteWebhook":
            with self.lock:
                self.webhook = {}
            return 200, {"ok": True, "result": True, "description": "Webhook was deleted"}
        if method == "getWebhookInfo":
            with self.lock:
                info = {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}
                if self.webhook.get("allowed_updates"):
                    info["allowed_updates"] = self.webhook["allowed_updates"]
            return 200, {"ok": True, "result": info}
        return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}

    def _edit_markup(self, params: Dict[str, Any]):
        key = (str(params.get("chat_id")), params.get("message_id"))
        with self.lock:
            if key not in self.keyboards:
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message to edit not found"}
            if self.keyboards[key] == params.get("reply_markup"):
                return 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is not modified"}
            self.keyboards[key] = params.get("reply_markup")
        return 200, {"ok": True, "result": {"message_id": key[1], "chat": {"id": int(key[0])}}}

    def keyboard(self, chat_id: Any, message_id: int) -> List[Dict[str, Any]]:
        """The buttons a sent message shows now (after any edits)."""
        with self.lock:
            markup = self.keyboards.get((str(chat_id), message_id)) or {}
        return [button for row in markup.get("inline_keyboard", []) for button in row]

    def calls(self, method: Optional[str] = None) -> List[Dict[str, Any]]:
        """Params of the recorded calls (of one method), oldest first."""
        with self.lock:
            return [r["params"] for r in self.records if method is None or r["method"] == method]

    def answered(self, method: str) -> List[Dict[str, Any]]:
        """The recorded calls of one method with the status each got, when ("at")
        and, for a message Telegram took, its "message_id"."""
        with self.lock:
            return [dict(r) for r in self.records if r["method"] == method and "status" in r]

    def methods(self) -> List[str]:
        with self.lock:
            return [r["method"] for r in self.records]

    def clear(self):
        with self.lock:
            self.records.clear()

    def start(self) -> "FakeTelegram":
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            assert not self.problems, f"calls the Bot API would not understand: {self.problems}"
