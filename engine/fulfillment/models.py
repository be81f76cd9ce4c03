"""The table of ship warnings sent: one row per (order, warning), written in the same
transaction as the warning's outbox row, so a warning is sent once however many workers run
and however often they restart.

Owns this table's shape only (created by migration ``0017_fulfillment``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base
from engine.storage.types import UTCDateTime

__all__ = ["ShipWarningSent"]

_BigId = BigInteger().with_variant(Integer(), "sqlite")


class ShipWarningSent(Base):
    """A warning sent for one order: ``warning`` is ``<due field>:<lead seconds>`` (e.g.
    ``promised_ship_at:7200``), ``due_at`` the ship time it counted back from."""

    __tablename__ = "ship_warnings_sent"
    __table_args__ = (
        UniqueConstraint("order_pk", "warning", name="uq_ship_warnings_order_warning"),
        Index("ix_ship_warnings_sent_at", "sent_at"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    warning: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(128))
    ruleset: Mapped[str] = mapped_column(String(128))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    delivery_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
