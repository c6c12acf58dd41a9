#!/usr/bin/env python3
"""Registers or removes the bot's Telegram webhook (docs/telegram.md).

    python scripts/telegram_webhook.py set --url https://bot.example.org
    python scripts/telegram_webhook.py info
    python scripts/telegram_webhook.py delete

`set` calls setWebhook with the secret token (Telegram then sends it in the
X-Telegram-Bot-Api-Secret-Token header of every update, and the channel
refuses calls without it) and allowed_updates: the kinds of update the
channel reads (channels/telegram_commands.py). Then setMyCommands: the menu
of /start, /help, /sources and /clinic. The public URL may be the server's
base URL; /webhooks/telegram/webhook is appended when missing.

Settings come from the arguments or the environment:
  --token         TELEGRAM_BOT_TOKEN      (from @BotFather)
  --secret        TELEGRAM_SECRET_TOKEN   (1-256 of A-Z a-z 0-9 _ -)
  --url           TELEGRAM_WEBHOOK_URL    (public HTTPS URL of Rasa)
  --api-base-url  TELEGRAM_API_BASE_URL   (default https://api.telegram.org)
The token is never printed.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from typing import Any, Dict, Optional
from urllib.parse import urlsplit

from channels.telegram_commands import ALLOWED_UPDATES, bot_commands
from faq.settings import SETTINGS

WEBHOOK_PATH = "/webhooks/telegram/webhook"

SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
TELEGRAM_PORTS = (443, 80, 88, 8443)


class WebhookError(Exception):
    pass


def call(base_url: str, token: str, method: str, params: Optional[Dict[str, Any]] = None) -> Any:
    url = f"{base_url.rstrip('/')}/bot{token}/{method}"
    request = urllib.request.Request(
        url, data=json.dumps(params or {}).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            data = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            data = json.loads(error.read() or b"{}")
        except ValueError:
            data = {"description": f"HTTP {error.code}"}
    except (urllib.error.URLError, OSError) as error:
        reason = str(getattr(error, "reason", error)).replace(token, "<token>")
        raise WebhookError(f"{method}: cannot reach {base_url}: {reason}") from None
    if not data.get("ok"):
        description = str(data.get("description", "failed")).replace(token, "<token>")
        raise WebhookError(f"{method}: {description}")
    return data.get("result")


def webhook_url(public_url: str) -> str:
    url = public_url.rstrip("/")
    return url if url.endswith(WEBHOOK_PATH) else url + WEBHOOK_PATH


def check_url(url: str, allow_http: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise WebhookError(f"Telegram only delivers to https:// URLs, not {url!r}")
    if parts.scheme == "https" and (parts.port or 443) not in TELEGRAM_PORTS:
        raise WebhookError(f"Telegram only delivers to ports {TELEGRAM_PORTS}, not {parts.port}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["set", "delete", "info"])
    parser.add_argument("--token", default=SETTINGS.telegram_token)
    parser.add_argument("--secret", default=SETTINGS.telegram_secret)
    parser.add_argument("--url", default=SETTINGS.telegram_webhook_url)
    parser.add_argument("--api-base-url", default=SETTINGS.telegram_api_base_url)
    parser.add_argument(
        "--drop-pending-updates",
        action="store_true",
        help="forget updates Telegram queued while no webhook was answering",
    )
    parser.add_argument(
        "--allow-http", action="store_true", help="accept an http:// URL (local Bot API server or a test double only)"
    )
    args = parser.parse_args(argv)

    try:
        if not args.token:
            raise WebhookError("no bot token: set TELEGRAM_BOT_TOKEN or pass --token")
        if args.command == "set":
            if not args.secret or not SECRET_PATTERN.match(args.secret):
                raise WebhookError(
                    "set TELEGRAM_SECRET_TOKEN (or --secret) to 1-256 characters of "
                    "A-Z a-z 0-9 _ - ; the Rasa server must have the same value"
                )
            if not args.url:
                raise WebhookError("no public URL: set TELEGRAM_WEBHOOK_URL or pass --url")
            url = webhook_url(args.url)
            check_url(url, args.allow_http)
            call(
                args.api_base_url,
                args.token,
                "setWebhook",
                {
                    "url": url,
                    "secret_token": args.secret,
                    "allowed_updates": list(ALLOWED_UPDATES),
                    "drop_pending_updates": args.drop_pending_updates,
                },
            )
            print(f"Webhook set: {url} (updates: {', '.join(ALLOWED_UPDATES)}, secret token required)")
            commands = bot_commands()
            call(args.api_base_url, args.token, "setMyCommands", {"commands": commands})
            print(f"Commands set: {' '.join('/' + c['command'] for c in commands)}")
        elif args.command == "delete":
            call(args.api_base_url, args.token, "deleteWebhook", {"drop_pending_updates": args.drop_pending_updates})
            print("Webhook deleted: Telegram no longer sends updates to this bot's server.")
        info = call(args.api_base_url, args.token, "getWebhookInfo")
        shown = {
            k: info.get(k)
            for k in ("url", "pending_update_count", "allowed_updates", "last_error_date", "last_error_message")
            if k in info
        }
        print(json.dumps(shown, indent=2))
    except WebhookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
