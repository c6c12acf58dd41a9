"""The limits every message passes before any processing: length and rate.

channels/guarded.py applies them to every message of every channel:

    reason = GUARD.check(sender_id, text)      # None, "rate_limited" or "too_long"

Numbers (defaults; environment variables override them):
- length: more than MAX_MESSAGE_CHARS = 2000 characters is refused
  (BOTOX_MAX_MESSAGE_CHARS).
- rate: a token bucket per sender: a burst of 10 messages
  (BOTOX_RATE_BURST), refilled at 30 messages per minute, one every 2 s
  (BOTOX_RATE_PER_MINUTE). A patient typing or tapping buttons never
  reaches it; a script hammering one conversation gets "slow down" replies
  that cost no action call and no database write. Each refused message is
  still read by the NLU for an emergency (channels/guarded.py): a refusal must never hide an
  emergency.
  BOTOX_RATE_PER_MINUTE=0 switches the limit off (benchmarks only).
The bucket lives in the process: with N Rasa instances behind the proxy a
sender is limited per instance, and nginx (deploy/nginx.conf) adds a per-IP
limit in front of all of them.

Nothing here logs message text; senders are logged as a short hash.
"""

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any, Callable, Optional, Tuple

from faq.settings import SETTINGS, Settings

# Idle senders are forgotten beyond this many (their bucket would be full anyway).
MAX_TRACKED_SENDERS = 50_000


def sender_tag(sender_id: Any) -> str:
    """A short, stable, non-reversible tag for logs (never the raw id)."""
    return hashlib.sha256(str(sender_id).encode()).hexdigest()[:10]


class Guard:
    """Length check and per-sender token bucket. Thread-safe, O(1) per message."""

    def __init__(
        self,
        burst: int = Settings.rate_burst,
        per_minute: float = Settings.rate_per_minute,
        max_chars: int = SETTINGS.max_message_chars,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = MAX_TRACKED_SENDERS,
    ):
        self.burst, self.per_minute, self.max_chars = burst, per_minute, max_chars
        self.clock, self.max_senders = clock, max_senders
        self._buckets: OrderedDict[str, Tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings = SETTINGS) -> "Guard":
        return cls(burst=settings.rate_burst, per_minute=settings.rate_per_minute, max_chars=settings.max_message_chars)

    def allow(self, sender_id: str) -> bool:
        """Takes one token from the sender's bucket; False when it is empty."""
        if self.per_minute <= 0:
            return True
        rate = self.per_minute / 60.0
        now = self.clock()
        key = str(sender_id)
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self.max_senders:
                self._buckets.popitem(last=False)  # least recently seen
        return allowed

    def too_long(self, text: Optional[str]) -> bool:
        return len(text or "") > self.max_chars

    def check(self, sender_id: str, text: Optional[str]) -> Optional[str]:
        """None when the message may be processed, else the refusal reason."""
        if not self.allow(sender_id):
            return "rate_limited"
        if self.too_long(text):
            return "too_long"
        return None


GUARD = Guard.from_settings()
