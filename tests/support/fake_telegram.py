"""A fake Telegram Bot API server on 127.0.0.1 for tests: records every call
(method, token, JSON params) and answers with Telegram-shaped JSON.

    with FakeTelegram(token="123:abc") as api:
        ...  # point the bot at api.url (api_base_url)
        api.calls("sendMessage")  # -> [params, ...]
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qsl, urlsplit

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Clinic FAQ", "username": "clinic_faq_test_bot"}


class FakeTelegram:
    def __init__(self, token: str, host: str = "127.0.0.1", port: int = 0):
        self.token = token
        self.records: List[Dict[str, Any]] = []
        self.webhook: Dict[str, Any] = {}
        self.lock = threading.Lock()
        self._message_id = 100
        # method -> (status, body) to answer the next call of it with, once
        self.fail_next: Dict[str, tuple] = {}
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
                fake._record(method, token, params)
                if token != fake.token:
                    return self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                status, answer = fake._respond(method, params)
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

    def _record(self, method: str, token: str, params: Dict[str, Any]):
        with self.lock:
            self.records.append({"method": method, "token": token, "params": params, "at": time.time()})

    def _respond(self, method: str, params: Dict[str, Any]):
        with self.lock:
            if method in self.fail_next:
                return self.fail_next.pop(method)
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
