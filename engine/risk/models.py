"""Risk tables: the keys orders are grouped by, which keys are back-filled, and the flags raised.

Owns the schema only; :mod:`engine.risk.windows` and :mod:`engine.risk.flags` write the rows.

- ``risk_keys``: one row per (order, dimension) a published risk rule groups by
  (``buyer_phone``, ``customer.device_id`` …): the order's value of that field and its time
  (created, else paid, else version time). The index ``(dimension, value, at)`` makes a rule's
  window one range read whose cost depends on that key's orders, not on the size of the store.
  Written by the risk stage in the pipeline's transaction, so they are exact across processes
  and restarts.
- ``risk_dimensions``: for each dimension, from when on its keys are complete
  (``covered_from``; NULL: all orders). A rule published over existing orders back-fills the
  keys of the orders its window reaches once, then moves this mark.
- ``risk_flags``: every rule that fired on an order: rule, flag, whether it held the order,
  the ruleset version that decided it and the evidence (each figure, its key, the orders it
  counted). One per (order, rule): a stage run again does not flag twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base
from engine.storage.types import JSONType, UTCDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")

__all__ = ["RiskDimension", "RiskFlag", "RiskKey"]


class RiskKey(Base):
    """An order's value of one field risk rules group by."""

    __tablename__ = "risk_keys"
    __table_args__ = (
        UniqueConstraint("order_pk", "dimension", name="uq_risk_keys_order_dimension"),
        Index("ix_risk_keys_window", "dimension", "value", "at"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    dimension: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class RiskDimension(Base):
    """From when on the keys of one dimension are complete."""

    __tablename__ = "risk_dimensions"

    dimension: Mapped[str] = mapped_column(String(64), primary_key=True)
    covered_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    filled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    filled_orders: Mapped[int] = mapped_column(Integer, default=0)


class RiskFlag(Base):
    """A risk rule that fired on an order, with its evidence."""

    __tablename__ = "risk_flags"
    __table_args__ = (
        UniqueConstraint("order_pk", "rule", name="uq_risk_flags_order_rule"),
        Index("ix_risk_flags_at", "at", "id"),
        Index("ix_risk_flags_rule", "rule", "at"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(128))
    flag: Mapped[str] = mapped_column(String(128))
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    ruleset: Mapped[str] = mapped_column(String(128))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[Any] = mapped_column(JSONType)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
