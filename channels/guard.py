"""The limits every message passes before any processing: rate and length.

channels/guarded.py applies them to every message of every channel:

    refusal = GUARD.refusal(sender_id, text, client="203.0.113.7")
    # None, or Refusal(reason="rate_limited" | "too_long", retry_after_s=...)

Numbers (defaults; environment variables override them, faq/settings.py;
0 switches a rate limit off):
- per sender: a token bucket with a burst of 10 messages (BOTOX_RATE_BURST),
  refilled at 30 messages per minute, one every 2 s (BOTOX_RATE_PER_MINUTE).
  A patient typing or tapping buttons never reaches it; a script hammering
  one conversation gets "slow down" replies that cost no action call and no
  database write.
- per client IP (REST only; Telegram's calls all come from Telegram): 60
  messages per minute, burst 60 (BOTOX_RATE_PER_IP_PER_MINUTE). A script
  that makes up a new sender id for every message (so the per-sender bucket
  is always full) is stopped here: it cannot fill the tracker store with
  conversations. IPv6 clients are counted per /64 (one household or host).
  The client IP is the peer's address, or the X-Forwarded-For entry added by
  a proxy listed in BOTOX_TRUSTED_PROXIES (`client_ip`): anyone can write
  that header, so it is only believed from a proxy we run.
- global: 20 messages per second for the whole process, burst 20
  (BOTOX_RATE_GLOBAL_PER_SECOND), whoever sends them: many IPs at once cannot
  queue more work than the process can do (a turn costs about 50-100 ms).
- length: more than MAX_MESSAGE_CHARS = 2000 characters is refused
  (BOTOX_MAX_MESSAGE_CHARS).
A rate-limited message is refused before any other bucket is charged, so
hammering one conversation does not use up the IP's or everyone's budget.
Each refused message is still read by the NLU for an emergency
(channels/guarded.py): a refusal must never hide an emergency.
The buckets live in the process: with N Rasa instances behind the proxy each
limit is per instance, and nginx (deploy/nginx.conf) adds its own per-IP
limit in front of all of them (docs/production.md).

Nothing here logs message text; senders are logged as a keyed hash
(`sender_tag`, HMAC with BOTOX_LOG_TAG_SECRET or a random per-process key):
an unsalted hash of a guessable id (a Telegram chat number) is reversible.
"""

import hashlib
import hmac
import ipaddress
import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional, Sequence, Tuple, Union

from faq.settings import SETTINGS, Settings

# Idle keys are forgotten beyond this many (their bucket would be full anyway).
MAX_TRACKED_SENDERS = 50_000
# IPv6 clients are counted per network of this size (one host or household).
IPV6_CLIENT_PREFIX = 64

_TAG_KEY = (SETTINGS.log_tag_secret or "").encode() or secrets.token_bytes(32)

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def sender_tag(sender_id: Any, key: bytes = _TAG_KEY) -> str:
    """A short, stable (per key), non-reversible tag for logs (never the raw id)."""
    return hmac.new(key, str(sender_id).encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:10]


def trusted_networks(proxies: Iterable[str]) -> Tuple[Network, ...]:
    """BOTOX_TRUSTED_PROXIES entries ("10.0.0.5", "10.0.0.0/8") as networks."""
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies if proxy.strip())


def _address(text: str) -> Optional[Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(peer: str, forwarded_for: Optional[str], trusted: Sequence[Network]) -> str:
    """The client to rate-limit: the peer, unless the peer is a trusted proxy;
    then the nearest X-Forwarded-For entry (right to left) that is not one of
    our proxies. Entries left of it were written by the client: never read."""
    client = _address(peer)
    if client is None:
        return peer
    hops = [hop for hop in (forwarded_for or "").split(",") if hop.strip()]
    while any(client in network for network in trusted) and hops:
        previous = _address(hops.pop())
        if previous is None:
            break  # garbage from a trusted proxy: limit the proxy's own address
        client = previous
    if client.version == 6:
        return str(ipaddress.ip_network(f"{client}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(client)


class TokenBuckets:
    """Token buckets by key: `capacity` tokens, refilled at `per_second`.
    Thread-safe, O(1) per call, at most `max_keys` keys (least recently seen
    forgotten). per_second=0 lets everything through."""

    def __init__(
        self, capacity: float, per_second: float, clock: Callable[[], float], max_keys: int = MAX_TRACKED_SENDERS
    ) -> None:
        self.capacity, self.per_second, self.clock, self.max_keys = float(capacity), per_second, clock, max_keys
        self._buckets: OrderedDict[str, Tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Takes one token: 0.0 if there was one, else the seconds until there is."""
        if self.per_second <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.per_second)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.per_second
            self._buckets[key] = (tokens - 1.0 if not wait else tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass(frozen=True)
class Refusal:
    reason: str  # "rate_limited" or "too_long" (channels/guarded.py REASONS)
    retry_after_s: int = 0  # for HTTP's Retry-After; 0 when waiting does not help


class Guard:
    """Length check and the per-sender, per-client and global token buckets."""

    def __init__(
        self,
        burst: int = Settings.rate_burst,
        per_minute: float = Settings.rate_per_minute,
        max_chars: int = SETTINGS.max_message_chars,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = MAX_TRACKED_SENDERS,
        per_ip_per_minute: float = Settings.rate_per_ip_per_minute,
        global_per_second: float = Settings.rate_global_per_second,
    ):
        self.burst, self.per_minute, self.max_chars = burst, per_minute, max_chars
        self.senders = TokenBuckets(burst, per_minute / 60.0, clock, max_senders)
        self.clients = TokenBuckets(per_ip_per_minute, per_ip_per_minute / 60.0, clock, max_senders)
        self.everyone = TokenBuckets(global_per_second, global_per_second, clock)

    @classmethod
    def from_settings(cls, settings: Settings = SETTINGS) -> "Guard":
        return cls(
            burst=settings.rate_burst,
            per_minute=settings.rate_per_minute,
            max_chars=settings.max_message_chars,
            per_ip_per_minute=settings.rate_per_ip_per_minute,
            global_per_second=settings.rate_global_per_second,
        )

    def allow(self, sender_id: str) -> bool:
        """Takes one token from the sender's bucket; False when it is empty."""
        return not self.senders.take(str(sender_id))

    def too_long(self, text: Optional[str]) -> bool:
        return len(text or "") > self.max_chars

    def refusal(self, sender_id: str, text: Optional[str], client: Optional[str] = None) -> Optional[Refusal]:
        """None when the message may be processed, else why not and for how long.
        Buckets are charged in order and only until one refuses."""
        wait = self.senders.take(str(sender_id))
        if not wait and client is not None:
            wait = self.clients.take(client)
        if not wait:
            wait = self.everyone.take("")
        if wait:
            return Refusal("rate_limited", max(1, math.ceil(wait)))
        if self.too_long(text):
            return Refusal("too_long")
        return None

    def check(self, sender_id: str, text: Optional[str], client: Optional[str] = None) -> Optional[str]:
        """None when the message may be processed, else the refusal reason."""
        refused = self.refusal(sender_id, text, client)
        return refused.reason if refused else None


GUARD = Guard.from_settings()
