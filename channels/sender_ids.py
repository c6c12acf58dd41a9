"""Conversation ids the server issues and signs, so nobody can guess or reuse one.

A REST conversation id is a random nonce followed by its HMAC with a server
secret (BOTOX_SENDER_SECRET; a random per-process key when unset, which
is fine for one process but must be set to one shared value when several
instances serve the same conversations):

    ids = SenderIds(b"secret")
    sender = ids.issue()       # 44 characters of [A-Za-z0-9_-]
    ids.valid(sender)          # True; False for any id the server did not sign

The widget sends its first message without a `sender`; the REST channel
(channels/rest.py) issues one and returns it in the `X-Botox-Sender`
response header, and the widget sends it back with every later message. An
id that is not signed by this server is refused (403), so knowing or
guessing somebody's id (the README used to say "me") does not give access
to their conversation: its topic ("where does it say that?"), its context
("/restart") or its rate limit. BOTOX_SIGNED_SENDERS=0 turns the check off
for trusted server-to-server callers and load tests (docs/production.md).
"""

import base64
import hashlib
import hmac
import secrets

from faq.settings import SETTINGS

NONCE_BYTES = 16  # 128 random bits: unguessable
SIGNATURE_BYTES = 16  # 128 bits of the HMAC: unforgeable
_NONCE_CHARS = 22  # base64url of 16 bytes, without padding


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class SenderIds:
    def __init__(self, secret: bytes) -> None:
        self._key = secret

    def _signature(self, nonce: str) -> str:
        mac = hmac.new(self._key, b"rest-sender:" + nonce.encode(), hashlib.sha256).digest()
        return _b64(mac[:SIGNATURE_BYTES])

    def issue(self) -> str:
        nonce = _b64(secrets.token_bytes(NONCE_BYTES))
        return nonce + self._signature(nonce)

    def valid(self, sender: str) -> bool:
        nonce, signature = sender[:_NONCE_CHARS], sender[_NONCE_CHARS:]
        return len(nonce) == _NONCE_CHARS and hmac.compare_digest(signature, self._signature(nonce))


SENDER_IDS = SenderIds((SETTINGS.sender_secret or "").encode() or secrets.token_bytes(32))
