"""Order pipeline tables: where each order stands in its stages, its price, its tickets and its
shipments. Owns the schema only; the pipeline, pricing, ticket and shipping modules write them.

- ``order_pipeline``: one row per order, the durable driver of its stages (risk → price →
  reserve → ticket). ``next_stage`` is the stage still to run (``done`` once all ran);
  ``status`` is ``ready`` (a worker may take it when ``due_at`` has come), ``held`` (a stage
  or a person held it: ``hold_reason``, ``held_by``) or ``done``. ``seen_revision`` is the
  order revision the pipeline last acted on; a stored newer revision sets ``status`` back to
  ``ready`` so the worker moves the order on from where it is (a cancellation releases stock,
  a platform status change fires the ticket's action). ``short_skus`` lists the SKUs an order
  waits for while it is held as 缺货, so a stock adjustment finds the orders to retry.
  ``seen_doc`` is the order document at ``seen_revision`` (kept by the store when it stores
  a newer revision), the ``previous_doc`` the follow-up of that revision is given.
- ``order_prices``: the price the pipeline decided for one order: the published promotion's
  quote (own channel: the order's price; marketplace: the check against the platform's
  amounts), the platform's payable, the difference, the tolerance applied, and the ruleset
  version that decided it.
- ``order_tickets``: the workflow instances opened for an order: its order ticket (``kind``
  ``order``, ``refund_id`` empty) and one after-sales ticket per platform refund id.
- ``order_shipments``: each shipment of an order (courier, tracking number, the lines it
  carried), how it was asked for (``api``, ``machine``, ``wms``), by whom, and the state of
  its write-back to the platform (``pending``, ``accepted``, ``dead``) with the outbox
  delivery that carries it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base
from engine.storage.types import JSONType, UTCDateTime

_BigId = BigInteger().with_variant(Integer, "sqlite")

__all__ = ["OrderPipeline", "OrderPrice", "OrderShipment", "OrderTicket"]


class OrderPipeline(Base):
    """Where one order stands in the pipeline's stages."""

    __tablename__ = "order_pipeline"
    __table_args__ = (Index("ix_order_pipeline_due", "status", "due_at"),)

    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    next_stage: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    seen_revision: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    hold_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    held_by: Mapped[str | None] = mapped_column(String(160), nullable=True)
    short_skus: Mapped[Any] = mapped_column(JSONType, nullable=True)
    seen_doc: Mapped[Any] = mapped_column(JSONType, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderPrice(Base):
    """The price the pipeline decided for one order, with the version that decided it."""

    __tablename__ = "order_prices"

    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    quote: Mapped[Any] = mapped_column(JSONType)
    quoted_payable: Mapped[int] = mapped_column(BigInteger)
    platform_payable: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    difference: Mapped[int] = mapped_column(BigInteger, default=0)
    tolerance: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    ruleset: Mapped[str | None] = mapped_column(String(128), nullable=True)
    ruleset_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    priced_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderTicket(Base):
    """A workflow instance opened for an order: its order ticket or an after-sales ticket."""

    __tablename__ = "order_tickets"
    __table_args__ = (
        UniqueConstraint("order_pk", "kind", "refund_id", name="uq_order_tickets_kind_refund"),
        Index("ix_order_tickets_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    refund_id: Mapped[str] = mapped_column(String(128), default="")
    line_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("workflow_instances.id"))
    machine: Mapped[str] = mapped_column(String(128))
    platform_status: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderShipment(Base):
    """One shipment of an order and the state of its write-back to the platform."""

    __tablename__ = "order_shipments"
    __table_args__ = (
        UniqueConstraint("order_pk", "tracking_no", name="uq_order_shipments_tracking"),
        Index("ix_order_shipments_delivery", "delivery_id"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    courier: Mapped[str] = mapped_column(String(32))
    tracking_no: Mapped[str] = mapped_column(String(64))
    lines: Mapped[Any] = mapped_column(JSONType)
    via: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(160))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivery_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    writeback_status: Mapped[str] = mapped_column(String(16), default="pending")
    writeback_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    writeback_error: Mapped[str | None] = mapped_column(Text, nullable=True)
