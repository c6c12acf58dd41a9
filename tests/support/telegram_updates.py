"""Telegram's side of the webhook for end-to-end tests: updates shaped as
Telegram sends them, posted with the secret header, and the channel's
credentials pointing at the fake Bot API (tests/support/fake_telegram.py)."""

import json
import urllib.error
import urllib.request
from itertools import count
from typing import Any, Dict, Optional

_ids = count(1)


def credentials(token: str, secret: str, api_url: str) -> Dict[str, Any]:
    """credentials.yml with only the Telegram channel, talking to `api_url`."""
    return {"channels.telegram.TelegramInput": {"token": token, "secret_token": secret, "api_base_url": api_url}}


def private_chat(chat_id: int) -> Dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": "Pat"}


def update(chat: Dict[str, Any], **message: Any) -> Dict[str, Any]:
    """A new `message` update in `chat`, with a fresh update_id."""
    n = next(_ids)
    body = {
        "message_id": n,
        "date": 1700000000 + n,
        "chat": chat,
        "from": {"id": abs(chat["id"]), "is_bot": False, "first_name": "Pat"},
        **message,
    }
    return {"update_id": 900000 + n, "message": body}


def post(webhook: str, update: Dict[str, Any], secret: Optional[str]) -> int:
    """POSTs one update; the HTTP status."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    request = urllib.request.Request(webhook, data=json.dumps(update).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=90) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
