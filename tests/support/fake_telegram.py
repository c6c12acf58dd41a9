"""A fake Telegram Bot API server on 127.0.0.1 for tests: records every call
(method, token, JSON params) and answers with Telegram-shaped JSON.

    with FakeTelegram(token="123:abc") as api:
        ...  # point the bot at api.url (api_base_url)
        api.calls("sendMessage")  # -> [params, ...]
        api.fail("sendMessage", 502, times=3)  # the next three calls get 502
        api.fail("sendMessage", 429, retry_after=30)  # flood control, once
        api.fail("sendMessage", 502, times=None)  # every call, until api.recover()
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Clinic FAQ", "username": "clinic_faq_test_bot"}


class FakeTelegram:
    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0):
        self.token = token
        self.records: List[Dict[str, Any]] = []
        self.webhook: Dict[str, Any] = {}
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
                status, answer = fake._respond(method, params)
                record["status"] = status
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

    def calls(self, method: Optional[str] = None) -> List[Dict[str, Any]]:
        """Params of the recorded calls (of one method), oldest first."""
        with self.lock:
            return [r["params"] for r in self.records if method is None or r["method"] == method]

    def answered(self, method: str) -> List[Dict[str, Any]]:
        """The recorded calls of one method with the status each got and when ("at")."""
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
