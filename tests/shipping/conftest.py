"""Fixtures of the shipping tests: the six fake platforms and the published sources (from the
orders-in tests), the write-back handler registered, and helpers that bring a platform order
into the store with its stock reserved, ship it and run the outbox."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.inventory.service import inventory_for
from engine.orders.intake import intake_platform_order
from engine.orders.model import Order, OrderEvent
from engine.orders.pipeline_model import OrderShipment
from engine.orders.sources import order_client, order_sources
from engine.orders.writeback import register_writeback_handler
from engine.outbox.dispatcher import Dispatcher
from engine.storage.models import OutboxMessage
from tests.conftest import auth
from tests.orders_in.conftest import platform_order_id, platforms  # noqa: F401 - the fixture

__all__ = ["auth", "bring_in", "dispatch", "outbox_rows", "platforms", "shipments", "timeline_kinds"]


@pytest.fixture(autouse=True)
def _writeback_handler(services: Any) -> None:
    register_writeback_handler(services)


def client_of(services: Any, channel: str) -> Any:
    client = order_client(services, order_sources(services)[channel])
    assert client is not None, f"no order client for {channel}"
    return client


def bring_in(services: Any, fake: Any, channel: str, lines: list[tuple[str, int]], *,
             stock: int = 50) -> tuple[int, str, Any]:
    """A paid order on the fake platform, pulled into the store, its stock reserved (keyed by
    the order as the pipeline keys it). Returns (order pk, platform order id, scenario order)."""
    order = fake.scenario.create(lines, freight=0, platform_discount=0, seller_discount=0)
    order_id = platform_order_id(channel, order)
    detail = client_of(services, channel).order_detail(order_id)
    outcome = intake_platform_order(services, source=channel, payload=detail, via="pull")
    assert outcome.order_pk is not None, outcome.message
    inventory = inventory_for(services)
    with services.db.session() as s:
        row = s.get(Order, outcome.order_pk)
        assert row is not None and row.status == "awaiting_shipment", row and row.status
        wanted = [{"sku_id": ln["sku_id"], "qty": ln["qty"]} for ln in row.doc["lines"]]
    for line in wanted:
        if inventory.get(line["sku_id"]) is None:
            inventory.adjust(line["sku_id"], stock, "入库")
    inventory.reserve(f"{channel}/{order_id}", wanted, channel=channel)
    return outcome.order_pk, order_id, order


def dispatch(services: Any, *, limit: int = 100) -> int:
    return Dispatcher(services, worker_id="test").dispatch_due(now=services.clock.now(), limit=limit)


def outbox_rows(services: Any, topic: str = "order.writeback") -> list[OutboxMessage]:
    with services.db.session() as s:
        rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id)))
        for r in rows:
            s.expunge(r)
        return rows


def shipments(services: Any, order_pk: int) -> list[OrderShipment]:
    with services.db.session() as s:
        rows = list(s.scalars(select(OrderShipment).where(OrderShipment.order_pk == order_pk)
                              .order_by(OrderShipment.id)))
        for r in rows:
            s.expunge(r)
        return rows


def timeline_kinds(services: Any, order_pk: int) -> list[str]:
    with services.db.session() as s:
        return list(s.scalars(select(OrderEvent.kind).where(OrderEvent.order_pk == order_pk).order_by(OrderEvent.id)))
