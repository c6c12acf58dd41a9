"""A small Telegram Bot API client (aiohttp) with a configurable base URL, so
it can talk to api.telegram.org, a local Bot API server or a test double.

    api = BotApi(token, "https://api.telegram.org")
    await api.call("sendMessage", chat_id=42, text="hi")

Errors raise TelegramApiError; the bot token never appears in logs or errors.
It makes one attempt per call: retrying is the caller's (a reply Telegram
did not accept goes to channels/telegram_outbox.py).
"""

import asyncio
import logging
from typing import Any, Dict, Optional

import aiohttp

from faq.settings import DEFAULT_TELEGRAM_API as DEFAULT_API_BASE_URL

logger = logging.getLogger(__name__)
REQUEST_TIMEOUT_S = 15


class TelegramApiError(Exception):
    """A call Telegram did not accept. `status` 0: no HTTP answer (network
    error, timeout); `retry_after`: the seconds a 429 asks us to wait."""

    def __init__(
        self,
        method: str,
        status: int,
        description: str,
        error_code: Optional[int] = None,
        retry_after: Optional[float] = None,
    ):
        super().__init__(f"Telegram {method} failed ({status}): {description}")
        self.method, self.status, self.description = method, status, description
        self.error_code = error_code if error_code is not None else status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Telegram may take the same call later: no answer, flood control, or its own error."""
        return self.status == 0 or self.status == 429 or self.status >= 500


class BotApi:
    def __init__(self, token: str, base_url: str = DEFAULT_API_BASE_URL, timeout_s: float = REQUEST_TIMEOUT_S):
        self.token = token
        self.base_url = (base_url or DEFAULT_API_BASE_URL).rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: Optional[aiohttp.ClientSession] = None

    def method_url(self, method: str) -> str:
        return f"{self.base_url}/bot{self.token}/{method}"

    def redacted_url(self, method: str) -> str:
        return f"{self.base_url}/bot<token>/{method}"

    async def _get_session(self) -> aiohttp.ClientSession:
        # Created lazily inside the server's event loop.
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def call(self, method: str, **params: Any) -> Any:
        """POSTs `params` as JSON to the method; returns Telegram's `result`."""
        body = {k: v for k, v in params.items() if v is not None}
        session = await self._get_session()
        try:
            async with session.post(self.method_url(method), json=body) as response:
                status = response.status
                try:
                    data: Dict[str, Any] = await response.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    data = {"ok": False, "description": (await response.text())[:200]}
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise TelegramApiError(method, 0, f"{type(error).__name__} calling {self.redacted_url(method)}") from None
        if isinstance(data, dict) and data.get("ok"):
            return data.get("result")
        data = data if isinstance(data, dict) else {}
        retry_after = (data.get("parameters") or {}).get("retry_after")
        description = str(data.get("description") or "no description").replace(self.token, "<token>")
        raise TelegramApiError(
            method,
            status,
            description,
            data.get("error_code"),
            float(retry_after) if isinstance(retry_after, (int, float)) else None,
        )
