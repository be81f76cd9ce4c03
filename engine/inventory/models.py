"""Inventory tables: the stock master, reservation lines, the idempotency record of every
accepted operation, the append-only ledger, fencing tokens of background jobs, the
channels' reported stock snapshots, the per-channel quotas and buffers, and the coalesced
stock-push queue (one marker per SKU, one push state per channel and SKU).

Owns the schema only; the rules that change these rows live in ``engine.inventory.sql_store``.
Nothing updates or deletes ledger rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base
from engine.storage.types import JSONType, UTCDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")


class StockItem(Base):
    """One SKU's stock. ``available = total - reserved - safety``; never oversold (CHECK)."""

    __tablename__ = "inventory_stock"
    __table_args__ = (
        CheckConstraint(
            "reserved_stock >= 0 AND reserved_stock <= total_stock AND safety_stock >= 0",
            name="ck_inventory_stock_bounds",
        ),
    )

    sku_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    total_stock: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_stock: Mapped[int] = mapped_column(BigInteger, default=0)
    safety_stock: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(Integer, default=0)
    sync_timestamp: Mapped[datetime] = mapped_column(UTCDateTime)


class ReservationLine(Base):
    """One SKU of one order: reserved, then shipped and/or released, never back."""

    __tablename__ = "inventory_reservation_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "sku_id", name="uq_inventory_line_order_sku"),
        CheckConstraint(
            "qty > 0 AND qty_shipped >= 0 AND qty_released >= 0 AND qty_shipped + qty_released <= qty",
            name="ck_inventory_line_qty",
        ),
        Index("ix_inventory_lines_sku_status", "sku_id", "status"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    order_id: Mapped[str] = mapped_column(String(128))
    sku_id: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(Integer)
    qty_shipped: Mapped[int] = mapped_column(Integer, default=0)
    qty_released: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="reserved")
    channel: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InventoryRequest(Base):
    """The first answer to an accepted operation, keyed by (operation, idempotency key)."""

    __tablename__ = "inventory_requests"
    __table_args__ = (
        UniqueConstraint("operation", "key", name="uq_inventory_request_key"),
        # One reservation per order, whatever its key: a second key for the same order is refused
        # by the same insert that claims the key (no separate look-up).
        Index("uq_inventory_request_reserve_order", "order_id", unique=True,
              sqlite_where=text("operation = 'reserve'"), postgresql_where=text("operation = 'reserve'")),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    operation: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200))
    order_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    answer: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerEntry(Base):
    """Append-only: every change of a SKU's counters, with the values after it."""

    __tablename__ = "inventory_ledger"
    __table_args__ = (Index("ix_inventory_ledger_sku", "sku_id", "version"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    operation: Mapped[str] = mapped_column(String(16))
    sku_id: Mapped[str] = mapped_column(String(64))
    delta_total: Mapped[int] = mapped_column(BigInteger)
    delta_reserved: Mapped[int] = mapped_column(BigInteger)
    total_after: Mapped[int] = mapped_column(BigInteger)
    reserved_after: Mapped[int] = mapped_column(BigInteger)
    safety_after: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    channel: Mapped[str] = mapped_column(String(32), default="")
    actor: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    key: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobFence(Base):
    """The newest fencing token that has written for a background job (reconciler, puller)."""

    __tablename__ = "inventory_fences"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger, default=0)
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChannelSnapshot(Base):
    """The stock a channel last reported for a SKU, written by that channel's puller."""

    __tablename__ = "inventory_channel_snapshots"
    __table_args__ = (UniqueConstraint("channel", "sku_id", name="uq_inventory_snapshot"),
                      Index("ix_inventory_channel_snapshots_sku", "sku_id", "channel"))

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    sku_id: Mapped[str] = mapped_column(String(64))
    reported_stock: Mapped[int] = mapped_column(BigInteger)
    available_at_pull: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    fence_token: Mapped[int] = mapped_column(BigInteger)
    pulled_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PushPending(Base):
    """A SKU whose availability changed since the relay last queued its channel pushes.

    Written by every stock change in its own transaction (one upsert, latest version wins);
    the relay turns it into per-channel pushes and deletes it.
    """

    __tablename__ = "inventory_push_pending"

    sku_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ChannelSetting(Base):
    """What a channel is shown of a SKU: ``quota`` caps the figure (None: no cap), ``buffer``
    units are held back from it. ``sku_id = '*'`` is the channel's default for every SKU; a
    SKU row's non-null fields override it."""

    __tablename__ = "inventory_channel_settings"
    __table_args__ = (
        CheckConstraint("(quota IS NULL OR quota >= 0) AND (buffer IS NULL OR buffer >= 0)",
                        name="ck_inventory_channel_settings"),
    )

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    quota: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    buffer: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class ChannelPush(Base):
    """Push state of one SKU at one channel: the newest version and figure queued, the outbox
    row still pending for it (the coalescing target), and the newest version and figure pushed."""

    __tablename__ = "inventory_channel_pushes"
    __table_args__ = (Index("ix_inventory_channel_pushes_sku", "sku_id", "channel"),)  # a SKU's channels

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    sku_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    queued_version: Mapped[int] = mapped_column(Integer, default=0)
    queued_available: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    delivery_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    pushed_version: Mapped[int] = mapped_column(Integer, default=0)
    pushed_available: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pushed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
