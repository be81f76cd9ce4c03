"""Alert tables: where the measure consumer has read to, the counters it keeps, and the firings.

Owns the schema only; :mod:`engine.alerts.counters` and :mod:`engine.alerts.firings` write the rows.

- ``alert_cursors``: per event source (``orders``, ``returns``, ``tickets``, ``shipments``) the
  highest row id counted and the ids below it not yet seen (``gaps``: a row whose transaction
  had not committed when a later row was read; counted when it appears, forgotten after a
  while), plus one ``lock`` row that one consumer at a time holds.
- ``alert_series``: every counted series (one aggregate of one alert: its collection, filter,
  field, period and grouping) and how many existing rows its back-fill counted.
- ``alert_counters``: per (series, bucket start, group) the count, sum, min and max of the rows
  of that window — a bucket is an hour, day, ISO week or month of Asia/Shanghai business time,
  stored as its start in UTC.
- ``alert_distinct``: the distinct values a ``distinct(…)`` series saw per bucket and group.
- ``alert_firings``: every firing of an alert: the ruleset version, window, group, figures,
  message, deliveries, when it cleared and who acknowledged it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base
from engine.storage.types import JSONType, UTCDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")

__all__ = ["AlertCounter", "AlertCursor", "AlertDistinct", "AlertFiring", "AlertSeries"]


class AlertCursor(Base):
    """How far the measure consumer has read one event source."""

    __tablename__ = "alert_cursors"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps: Mapped[Any] = mapped_column(JSONType)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AlertSeries(Base):
    """One counted series and its back-fill."""

    __tablename__ = "alert_series"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    spec: Mapped[Any] = mapped_column(JSONType)
    backfilled_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertCounter(Base):
    """The figures of one series in one window and group."""

    __tablename__ = "alert_counters"
    __table_args__ = (UniqueConstraint("series", "bucket", "grp", name="uq_alert_counters_window"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    series: Mapped[str] = mapped_column(String(64))
    bucket: Mapped[datetime] = mapped_column(UTCDateTime)
    grp: Mapped[str] = mapped_column(String(128), default="")
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    lo: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    hi: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class AlertDistinct(Base):
    """A value a ``distinct(…)`` series saw in one window and group."""

    __tablename__ = "alert_distinct"
    __table_args__ = (UniqueConstraint("series", "bucket", "grp", "value", name="uq_alert_distinct_value"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    series: Mapped[str] = mapped_column(String(64))
    bucket: Mapped[datetime] = mapped_column(UTCDateTime)
    grp: Mapped[str] = mapped_column(String(128), default="")
    value: Mapped[str] = mapped_column(String(256))


class AlertFiring(Base):
    """One firing of an alert, from its message to its clearing."""

    __tablename__ = "alert_firings"
    __table_args__ = (
        Index("ix_alert_firings_at", "fired_at", "id"),
        Index("ix_alert_firings_alert", "ruleset", "alert", "grp", "fired_at"),
        Index("ix_alert_firings_state", "state", "fired_at"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    ruleset: Mapped[str] = mapped_column(String(128))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    alert: Mapped[str] = mapped_column(String(128))
    grp: Mapped[str] = mapped_column(String(128), default="")
    period: Mapped[str] = mapped_column(String(8))
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    figures: Mapped[Any] = mapped_column(JSONType)
    message: Mapped[str] = mapped_column(Text)
    channels: Mapped[str] = mapped_column(String(512), default="")
    deliveries: Mapped[Any] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16), default="firing")
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    clear_figures: Mapped[Any] = mapped_column(JSONType, nullable=True)
    clear_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(160), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
