"""The retention window: the review never reports what the purge would delete.

Until the purge command (scripts/conversations.py) defines a shared setting,
the window is RETENTION_DAYS days (default 365), counted back from now.
"""
import os
import time

DEFAULT_RETENTION_DAYS = 365
RETENTION_ENV = "RETENTION_DAYS"


def retention_days() -> int:
    value = os.environ.get(RETENTION_ENV)
    if value is None or not value.strip():
        return DEFAULT_RETENTION_DAYS
    days = int(value)
    if days <= 0:
        raise ValueError(f"{RETENTION_ENV} must be a positive number of days, not {value!r}")
    return days


def cutoff_timestamp(days: int, now: float = None) -> float:
    """Events before this Unix time are outside the retention window."""
    return (time.time() if now is None else now) - days * 86400
