"""Business time in SQL: the Asia/Shanghai date, weekday and hour of a stored UTC time, and the
seconds between two times, written for each back end.

Owns these SQL expressions only. Times are stored in UTC (naive text on SQLite, ``timestamptz``
on PostgreSQL); Asia/Shanghai has kept UTC+8 without daylight saving since 1991, which is what
SQLite's ``'+8 hours'`` relies on, while PostgreSQL converts with the zone's own rules. Weekdays
are ISO: 1 Monday … 7 Sunday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import Date, Float, Integer, cast, extract, func
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["SHANGHAI", "local_date", "local_hour", "local_weekday", "seconds_between", "shanghai_midnight"]

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def shanghai_midnight(day: date) -> datetime:
    """The UTC instant at which ``day`` begins in Asia/Shanghai."""
    return datetime.combine(day, time(0), SHANGHAI).astimezone(UTC)


def _local(col: Any, dialect: str) -> Any:
    return func.timezone("Asia/Shanghai", col) if dialect == "postgresql" else col


def local_hour(col: Any, dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return cast(extract("hour", _local(col, dialect)), Integer)
    return cast(func.strftime("%H", col, "+8 hours"), Integer)


def local_weekday(col: Any, dialect: str) -> ColumnElement[int]:
    if dialect == "postgresql":
        return cast(extract("isodow", _local(col, dialect)), Integer)
    return (cast(func.strftime("%w", col, "+8 hours"), Integer) + 6) % 7 + 1


def local_date(col: Any, dialect: str) -> ColumnElement[Any]:
    """The Asia/Shanghai date as ``YYYY-MM-DD`` text on SQLite, a ``date`` on PostgreSQL."""
    if dialect == "postgresql":
        return cast(_local(col, dialect), Date)
    return func.date(col, "+8 hours")


def seconds_between(later: Any, earlier: Any, dialect: str) -> ColumnElement[int]:
    """Whole seconds from ``earlier`` to ``later`` (negative when it is earlier), rounded."""
    if dialect == "postgresql":
        return cast(func.round(extract("epoch", later - earlier)), Integer)
    return cast(func.round((func.julianday(later) - func.julianday(earlier)) * cast(86400.0, Float)), Integer)
