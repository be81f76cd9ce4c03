"""Tables of the shipping desk: ``waybills`` (one e-waybill per order, its tracking number and
print data, and the shipment it became) and ``sku_locations`` (where a SKU is picked from).

The unique ``order_pk`` is what makes issuing idempotent: a retry or a second click finds the
stored waybill and never asks the counterpart for a second number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base
from engine.storage.types import JSONType, UTCDateTime

__all__ = ["SkuLocation", "Waybill"]

_BigId = BigInteger().with_variant(Integer, "sqlite")


class Waybill(Base):
    """An e-waybill issued for an order (status ``issued`` → ``shipped``)."""

    __tablename__ = "waybills"
    __table_args__ = (
        UniqueConstraint("order_pk", name="uq_waybills_order"),
        UniqueConstraint("provider", "tracking_no", name="uq_waybills_provider_tracking"),
        Index("ix_waybills_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(32))  # kdniao | taobao | pdd | douyin | kuaishou | xiaohongshu
    request_id: Mapped[str] = mapped_column(String(64))  # our id of the request (OrderCode / object_id)
    courier: Mapped[str] = mapped_column(String(16))  # our carrier code (engine/orders/data/carriers.json)
    carrier_code: Mapped[str] = mapped_column(String(64))  # the provider's code for the carrier
    tracking_no: Mapped[str] = mapped_column(String(64))
    print_html: Mapped[str | None] = mapped_column(Text, nullable=True)  # Kdniao PrintTemplate
    print_data: Mapped[str | None] = mapped_column(Text, nullable=True)  # platforms' cloud-print data
    detail: Mapped[Any] = mapped_column(JSONType, nullable=True)  # sort code, destination … as answered
    status: Mapped[str] = mapped_column(String(16), default="issued")
    shipment_id: Mapped[int | None] = mapped_column(_BigId, nullable=True)
    actor: Mapped[str] = mapped_column(String(160))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SkuLocation(Base):
    """Where the warehouse keeps a SKU (库位, e.g. ``A-01-03``): the picking wave's order."""

    __tablename__ = "sku_locations"

    sku_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    location: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
