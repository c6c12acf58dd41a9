"""Every setting that comes from the environment, read once, in one place.

Nothing else in the project calls `os.environ`; callers take `SETTINGS` (or
build `Settings.from_env(env)` in a test). Names and defaults:

| variable | default | what |
|---|---|---|
| BOTOX_MAX_MESSAGE_CHARS | 2000 | longer messages are refused (guard and dialogue) |
| BOTOX_RATE_BURST | 10 | messages a sender may send at once |
| BOTOX_RATE_PER_MINUTE | 30 | refill of a sender's bucket; 0 turns the limit off |
| BOTOX_RATE_PER_IP_PER_MINUTE | 60 | messages per client IP (REST), burst the same; 0 turns it off |
| BOTOX_RATE_GLOBAL_PER_SECOND | 20 | messages per second for the whole process, burst the same; 0 turns it off |
| BOTOX_TRUSTED_PROXIES | empty | proxies (IPs or CIDRs, comma or space separated) whose X-Forwarded-For is believed |
| BOTOX_MAX_BODY_BYTES | 16384 | larger REST request bodies are refused with 413 before they are read |
| BOTOX_LOG_TAG_SECRET | random per process | key of the logs' sender tags (HMAC); set to match tags across restarts |
| BOTOX_SIGNED_SENDERS | 1 | REST sender ids must be signed by the server; 0 takes any (trusted callers, load tests) |
| BOTOX_SENDER_SECRET | random per process | key of those ids; set one value for all instances and restarts |
| BOTOX_SESSION_MAX_TURNS | 10 | a session goes on in a new one after this many messages (flat cost); 0: never |
| BOTOX_CACHE_ACTION_SCHEMA | 1 | 0 keeps Rasa's own per-call schema check |
| BOTOX_RETENTION_DAYS | 180 | purge and review window |
| REVIEW_PSEUDONYM_SECRET | (file) | key of the review's pseudonyms |
| REVIEW_SECRET_FILE | review/.secret | where that key is kept when not in the environment |
| TELEGRAM_BOT_TOKEN, TELEGRAM_SECRET_TOKEN | empty | the Telegram channel stays off without them |
| TELEGRAM_API_BASE_URL | https://api.telegram.org | the Bot API (tests point it at a fake) |
| TELEGRAM_WEBHOOK_URL | empty | public URL for `make telegram-webhook-set` |
| BOTOX_RETRY_TIME_SCALE | 1 | multiplies every wait of the Telegram retry schedule (tests run it at 0.05-0.2) |
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Tuple

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
ARTICLE_PATH = DATA_DIR / "source" / "the-risks-of-botox.txt"
KB_PATH = DATA_DIR / "knowledge_base.yml"
POLICY_PATH = DATA_DIR / "triage_policy.yml"
CLINIC_PATH = PROJECT_ROOT / "clinic.yml"

DEFAULT_MAX_MESSAGE_CHARS = 2000
DEFAULT_RETENTION_DAYS = 180.0
DEFAULT_TELEGRAM_API = "https://api.telegram.org"
DEFAULT_RATE_PER_IP_PER_MINUTE = 60.0
DEFAULT_RATE_GLOBAL_PER_SECOND = 20.0
DEFAULT_MAX_BODY_BYTES = 16 * 1024
DEFAULT_SESSION_MAX_TURNS = 10


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    """A number >= 0 (0 switches a limit off)."""
    value = float(_text(env, name) or default)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, not {value!r}")
    return value


def _text(env: Mapping[str, str], name: str) -> Optional[str]:
    value = env.get(name, "").strip()
    return value or None


@dataclass(frozen=True)
class Settings:
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    rate_burst: int = 10
    rate_per_minute: float = 30.0
    rate_per_ip_per_minute: float = DEFAULT_RATE_PER_IP_PER_MINUTE
    rate_global_per_second: float = DEFAULT_RATE_GLOBAL_PER_SECOND
    trusted_proxies: Tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_tag_secret: Optional[str] = None
    signed_senders: bool = True
    sender_secret: Optional[str] = None
    session_max_turns: int = DEFAULT_SESSION_MAX_TURNS
    cache_action_schema: bool = True
    retention_days: float = DEFAULT_RETENTION_DAYS
    review_secret: Optional[str] = None
    review_secret_file: Path = PROJECT_ROOT / "review" / ".secret"
    telegram_token: Optional[str] = None
    telegram_secret: Optional[str] = None
    telegram_api_base_url: str = DEFAULT_TELEGRAM_API
    telegram_webhook_url: Optional[str] = None
    retry_time_scale: float = 1.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        retention = float(_text(env, "BOTOX_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS)
        if retention < 0:
            raise ValueError(f"BOTOX_RETENTION_DAYS must be >= 0 days, not {retention!r}")
        time_scale = float(_text(env, "BOTOX_RETRY_TIME_SCALE") or 1.0)
        if time_scale <= 0:
            raise ValueError(f"BOTOX_RETRY_TIME_SCALE must be > 0, not {time_scale!r}")
        return cls(
            max_message_chars=int(_text(env, "BOTOX_MAX_MESSAGE_CHARS") or DEFAULT_MAX_MESSAGE_CHARS),
            rate_burst=int(_text(env, "BOTOX_RATE_BURST") or 10),
            rate_per_minute=float(_text(env, "BOTOX_RATE_PER_MINUTE") or 30.0),
            rate_per_ip_per_minute=_number(env, "BOTOX_RATE_PER_IP_PER_MINUTE", DEFAULT_RATE_PER_IP_PER_MINUTE),
            rate_global_per_second=_number(env, "BOTOX_RATE_GLOBAL_PER_SECOND", DEFAULT_RATE_GLOBAL_PER_SECOND),
            trusted_proxies=tuple((_text(env, "BOTOX_TRUSTED_PROXIES") or "").replace(",", " ").split()),
            max_body_bytes=int(_number(env, "BOTOX_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
            log_tag_secret=_text(env, "BOTOX_LOG_TAG_SECRET"),
            signed_senders=_text(env, "BOTOX_SIGNED_SENDERS") != "0",
            sender_secret=_text(env, "BOTOX_SENDER_SECRET"),
            session_max_turns=int(_number(env, "BOTOX_SESSION_MAX_TURNS", DEFAULT_SESSION_MAX_TURNS)),
            cache_action_schema=_text(env, "BOTOX_CACHE_ACTION_SCHEMA") != "0",
            retention_days=retention,
            review_secret=_text(env, "REVIEW_PSEUDONYM_SECRET"),
            review_secret_file=Path(_text(env, "REVIEW_SECRET_FILE") or cls.review_secret_file),
            telegram_token=_text(env, "TELEGRAM_BOT_TOKEN"),
            telegram_secret=_text(env, "TELEGRAM_SECRET_TOKEN"),
            telegram_api_base_url=_text(env, "TELEGRAM_API_BASE_URL") or DEFAULT_TELEGRAM_API,
            telegram_webhook_url=_text(env, "TELEGRAM_WEBHOOK_URL"),
            retry_time_scale=time_scale,
        )


SETTINGS = Settings.from_env()
