"""Order store tables: one row per (channel, order_id), its lines, every raw platform payload
as received, the order's timeline, and the payloads that failed their mapping (parked).

Owns the schema only; :mod:`engine.orders.store` holds the rules that write these rows.

- ``orders`` keeps the columns users filter and sort on (channel, status, shop, times, buyer
  phone and its last four digits, the receiver's region) next to ``doc``, the whole normalized
  order in its JSON form. ``updated_at`` is the platform's modified time: the order's version;
  ``created_at`` is the platform's creation time (else the paid, else the version time, so
  every order sorts by it; ``doc`` keeps what the platform said). ``revision`` counts the
  versions stored here (1 on creation), so a later stage can key its work by (order,
  revision). Where the order came from: ``source``, ``via`` (pull, push,
  import, api), ``mapping``, ``ruleset`` and ``ruleset_version`` of the mapping that produced
  it. A dropped order (a cleaning's ``drop when``) stays, with ``dropped_rule`` and
  ``dropped_by`` (``cleaning:line``) set; it is shown as dropped, never deleted.
- ``order_lines``: one row per line, in order (``line_no`` from 0); ``sku_id`` is the
  merchant's SKU code stock uses; money in fen.
- ``order_payloads``: each distinct payload received for an order (sha-256 ``digest`` of its
  canonical JSON), with source, via, received time and the version it carried.
- ``order_timeline``: append-only; what happened to the order (``kind``: created, updated,
  dropped, …), the field-level ``changes`` (``[{"path", "from", "to"}]``), the payload that
  caused it, by what (``actor``) and under which ruleset version. Later stages (price,
  reservation, tickets, holds) append their own kinds.
- ``order_parked``: a payload whose mapping failed (path, mapping line and message kept), one
  row per (source, digest); retried by :func:`engine.orders.intake.retry_parked`.

Later areas extend the order by tables keyed on ``orders.id`` (price, reservation, tickets,
holds) and by the ``tags`` column; nothing here needs to change for them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base
from engine.storage.types import JSONType, UTCDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")


class Order(Base):
    """The current version of one platform order."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "order_id", name="uq_orders_channel_order"),
        Index("ix_orders_channel_status", "channel", "status"),
        Index("ix_orders_promised_ship", "promised_ship_at"),
        Index("ix_orders_buyer_phone", "buyer_phone", "created_at"),
        Index("ix_orders_phone_tail", "phone_tail", "created_at"),
        Index("ix_orders_created", "created_at", "id"),
        Index("ix_orders_paid", "paid_at"),
        Index("ix_orders_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(128))
    shop: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    promised_ship_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    buyer_phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    phone_tail: Mapped[str | None] = mapped_column(String(4), nullable=True)
    province: Mapped[str | None] = mapped_column(String(32), nullable=True)
    city: Mapped[str | None] = mapped_column(String(32), nullable=True)
    district: Mapped[str | None] = mapped_column(String(32), nullable=True)
    adcode: Mapped[str | None] = mapped_column(String(12), nullable=True)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    freight: Mapped[int] = mapped_column(BigInteger, default=0)
    tags: Mapped[Any] = mapped_column(JSONType)
    doc: Mapped[Any] = mapped_column(JSONType)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(128), default="")
    via: Mapped[str] = mapped_column(String(16), default="")
    mapping: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ruleset: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ruleset_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dropped_rule: Mapped[str | None] = mapped_column(Text, nullable=True)
    dropped_by: Mapped[str | None] = mapped_column(String(160), nullable=True)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderLine(Base):
    """One line of an order's current version."""

    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_pk", "line_no", name="uq_order_lines_no"),
        Index("ix_order_lines_sku", "sku_id"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    line_no: Mapped[int] = mapped_column(Integer)
    line_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    sku_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    platform_sku_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    title: Mapped[str | None] = mapped_column(String(512), nullable=True)
    qty: Mapped[int] = mapped_column(Integer, default=0)
    unit_price: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    paid_amount: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class OrderTag(Base):
    """One tag of an order (缺货, 价格异常, a risk flag …), one row per (order, tag): the
    ``tags`` list of ``orders`` kept as rows, with the order's ``created_at``, so a list filtered
    by a tag is one walk of an index in the list's own order (:mod:`engine.orders.order_tags`
    keeps both in step)."""

    __tablename__ = "order_tags"
    __table_args__ = (Index("ix_order_tags_tag", "tag", "created_at", "order_pk"),)

    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(Text, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderPayload(Base):
    """A payload as received for an order: one row per distinct payload (by digest)."""

    __tablename__ = "order_payloads"
    __table_args__ = (
        UniqueConstraint("order_pk", "digest", name="uq_order_payloads_digest"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version_at: Mapped[datetime] = mapped_column(UTCDateTime)
    digest: Mapped[str] = mapped_column(String(64))
    payload: Mapped[Any] = mapped_column(JSONType)


class OrderEvent(Base):
    """One entry of an order's timeline (append-only)."""

    __tablename__ = "order_timeline"
    __table_args__ = (Index("ix_order_timeline_order", "order_pk", "id"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(160))
    payload_id: Mapped[int | None] = mapped_column(ForeignKey("order_payloads.id"), nullable=True)
    changes: Mapped[Any] = mapped_column(JSONType)
    detail: Mapped[Any] = mapped_column(JSONType)
    ruleset: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ruleset_version: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ParkedPayload(Base):
    """A payload whose mapping failed: kept whole, visible and re-tryable, never lost."""

    __tablename__ = "order_parked"
    __table_args__ = (
        UniqueConstraint("source", "digest", name="uq_order_parked_digest"),
        Index("ix_order_parked_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(128))
    via: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    payload: Mapped[Any] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="parked")
    mapping: Mapped[str | None] = mapped_column(String(128), nullable=True)
    error: Mapped[str] = mapped_column(Text)
    error_path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    error_line: Mapped[int | None] = mapped_column(Integer, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    order_pk: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), nullable=True)
