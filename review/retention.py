"""The retention window: the review never reports what the purge would delete.

The same setting as the purge command (`scripts/conversations.py purge`):
BOTOX_RETENTION_DAYS (faq.settings), default 180 days. Events older than now
minus that many days are left out of every figure and list, whether or not
the purge has run yet (the purge keeps a whole session that started before the
window; the review still drops its older events).
"""

import time
from typing import Optional

from faq.settings import SETTINGS, Settings


def retention_days(settings: Settings = SETTINGS) -> float:
    return settings.retention_days


def cutoff_timestamp(days: float, now: Optional[float] = None) -> float:
    """Events before this Unix time are outside the retention window."""
    return (time.time() if now is None else now) - days * 86400
