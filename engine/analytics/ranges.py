"""A business date range (Asia/Shanghai dates, both ends included) and the UTC instants it
covers; the period just before it, of the same length, for growth figures; the whole calendar
months inside a range (the monthly counters' part of it). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from engine.analytics.sql_time import shanghai_midnight

__all__ = ["MAX_DAYS", "DateRange", "month_of", "whole_months"]

MAX_DAYS = 3660


@dataclass(frozen=True)
class DateRange:
    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        """The UTC instant the first day begins (included)."""
        return shanghai_midnight(self.first)

    @property
    def end(self) -> datetime:
        """The UTC instant after the last day ends (excluded)."""
        return shanghai_midnight(self.last + timedelta(days=1))

    def previous(self) -> DateRange:
        """The same number of days just before this range."""
        return DateRange(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def as_json(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat(), "timezone": "Asia/Shanghai"}


def month_of(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def whole_months(first: date, last: date) -> tuple[date, date] | None:
    """``[start, end)``: the calendar months lying wholly in ``first``…``last`` (first days of
    months); None if none does."""
    start = first if first.day == 1 else month_of(first.replace(day=28) + timedelta(days=4))
    end = month_of(last + timedelta(days=1))
    return (start, end) if start < end else None
