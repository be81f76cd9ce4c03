"""Business-time windows of alert measures: the hour, day, ISO week (Monday first) or month of
Asia/Shanghai that an instant falls in, as the UTC instant it starts at. Pure; no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache

from engine.clock import SHANGHAI

__all__ = ["PERIODS", "bucket_end", "bucket_start", "previous_bucket"]

PERIODS = ("hour", "day", "week", "month")


def bucket_start(at: datetime, period: str) -> datetime:
    """The start (UTC) of the ``period`` of Shanghai time that ``at`` falls in."""
    # Shanghai is a whole number of hours from UTC, so every window starts on a UTC hour
    return _bucket_of_hour(at.astimezone(UTC).replace(minute=0, second=0, microsecond=0), period)


@lru_cache(maxsize=4096)
def _bucket_of_hour(hour: datetime, period: str) -> datetime:
    local = hour.astimezone(SHANGHAI)
    if period == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
    elif period == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif period == "week":
        start = (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    elif period == "month":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        raise ValueError(f"unknown period {period!r}")
    return start.astimezone(UTC)


def bucket_end(start: datetime, period: str) -> datetime:
    """The start of the window after the one starting at ``start``."""
    local = start.astimezone(SHANGHAI)
    if period == "hour":
        return start + timedelta(hours=1)
    if period == "day":
        return (local + timedelta(days=1)).astimezone(UTC)
    if period == "week":
        return (local + timedelta(days=7)).astimezone(UTC)
    if period == "month":
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        return local.replace(year=year, month=month).astimezone(UTC)
    raise ValueError(f"unknown period {period!r}")


def previous_bucket(start: datetime, period: str) -> datetime:
    """The start of the window before the one starting at ``start``."""
    return bucket_start(start - timedelta(seconds=1), period)
