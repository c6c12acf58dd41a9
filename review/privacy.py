"""Pseudonyms for sender ids, and redaction of contact details in texts.

Sender ids (often a channel's user id or phone number) never appear in the
report. Each is replaced by a keyed hash, HMAC-SHA256(secret, sender_id): the
same sender gets the same pseudonym in every report made with the same secret,
so a clinic can follow one patient's conversations across reports, but the id
cannot be recovered from the report (nor guessed by hashing candidate ids)
without the secret.

The secret comes from the environment variable REVIEW_PSEUDONYM_SECRET, or from
a local file (default review/.secret, git-ignored by review/.gitignore,
override with REVIEW_SECRET_FILE) created with random bytes on first use,
readable by its owner only. Deleting that file makes all later pseudonyms new.
"""

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Optional

from faq.settings import SETTINGS, Settings

SECRET_ENV = "REVIEW_PSEUDONYM_SECRET"


def load_secret(path: Optional[Path] = None, settings: Settings = SETTINGS) -> bytes:
    if settings.review_secret:
        return settings.review_secret.encode()
    path = Path(path or settings.review_secret_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    return path.read_text().strip().encode()


class Pseudonymiser:
    def __init__(self, secret: bytes):
        if not secret:
            raise ValueError("empty pseudonym secret")
        self._secret = secret
        self._cache = {}

    def __call__(self, sender_id: str) -> str:
        pseudonym = self._cache.get(sender_id)
        if pseudonym is None:
            digest = hmac.new(self._secret, sender_id.encode(), hashlib.sha256).hexdigest()
            pseudonym = self._cache[sender_id] = f"patient-{digest[:10]}"
        return pseudonym


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# 7+ digits, possibly separated by spaces, dots, dashes or parentheses: phone numbers, ids.
LONG_NUMBER = re.compile(r"\+?\d[\d\s().-]{5,}\d")


def redact(text: str) -> str:
    """Removes e-mail addresses and long numbers (phone numbers) a patient typed."""
    text = EMAIL.sub("[email]", text)
    return LONG_NUMBER.sub(lambda m: "[number]" if sum(c.isdigit() for c in m.group()) >= 7 else m.group(), text)
