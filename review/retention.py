"""The retention window: the review never reports what the purge would delete.

The same setting as the purge command (`scripts/conversations.py purge`):
BOTOX_RETENTION_DAYS, else that command's default (180 days). Events older than
now minus that many days are left out of every figure and list, whether or not
the purge has run yet (the purge keeps a whole session that started before the
window; the review still drops its older events).
"""
import os
import time

RETENTION_ENV = "BOTOX_RETENTION_DAYS"


def _purge_default() -> float:
    try:
        from scripts.conversations import DEFAULT_RETENTION_DAYS
    except Exception:  # the purge command is not installed here
        return 180.0
    return float(DEFAULT_RETENTION_DAYS)


def retention_days() -> float:
    value = os.environ.get(RETENTION_ENV)
    if value is None or not value.strip():
        return _purge_default()
    days = float(value)
    if days < 0:
        raise ValueError(f"{RETENTION_ENV} must be >= 0 days, not {value!r}")
    return days


def cutoff_timestamp(days: float, now: float = None) -> float:
    """Events before this Unix time are outside the retention window."""
    return (time.time() if now is None else now) - days * 86400
