"""The presale ship-by time of an order in SQL, written exactly as the partial index
``ix_orders_presale_ship_by`` (migration ``0017_fulfillment``) is, so range queries use it.

Owns this expression only. The time is the ISO 8601 UTC text the order document holds
(``2026-11-11T10:00:00+00:00``): text order is time order, so ranges compare it with
:func:`iso_text` of their bounds, and the Asia/Shanghai day is read from the same text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Date, cast, func, literal_column
from sqlalchemy.sql.elements import ColumnElement

__all__ = ["iso_text", "ship_by_day", "ship_by_text", "ship_by_time"]


def ship_by_text(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return literal_column("(orders.doc ->> 'presale_ship_by')")
    return literal_column("json_extract(orders.doc, '$.presale_ship_by')")


def ship_by_time(dialect: str) -> Any:
    """As a time: ``timestamptz`` on PostgreSQL, UTC text SQLite's date functions read."""
    if dialect == "postgresql":
        return literal_column("((orders.doc ->> 'presale_ship_by')::timestamptz)")
    return func.strftime("%Y-%m-%d %H:%M:%f", ship_by_text(dialect))


def ship_by_day(dialect: str) -> ColumnElement[Any]:
    """The Asia/Shanghai date of the ship-by time (text ``YYYY-MM-DD`` on SQLite, a date on PostgreSQL)."""
    if dialect == "postgresql":
        return cast(func.timezone("Asia/Shanghai", ship_by_time(dialect)), Date)
    return func.date(ship_by_text(dialect), "+8 hours")


def iso_text(when: datetime) -> str:
    """A bound in the document's own spelling of a time."""
    return when.astimezone(UTC).isoformat()
