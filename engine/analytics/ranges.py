"""A business date range (Asia/Shanghai dates, both ends included) and the UTC instants it
covers; the period just before it, of the same length, for growth figures. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from engine.analytics.sql_time import shanghai_midnight

__all__ = ["MAX_DAYS", "DateRange"]

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
