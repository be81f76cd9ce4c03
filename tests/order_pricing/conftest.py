"""Fixtures of the price stage tests: the six fake platforms with the published sources (from
the orders-in tests), the published 女装节大促 promotion, and helpers that take one order from a
fake over real HTTP through the published mapping into the store, and run the price stage on
it in one transaction the way the pipeline does (notes recorded on the timeline)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from connectors.fakes.order_scenario import ScenarioOrder
from engine.orders.intake import intake_platform_order
from engine.orders.model import Order, OrderEvent, OrderLine
from engine.orders.order_pricing import price_stage
from engine.orders.pipeline_model import OrderPrice
from engine.orders.sources import order_client, order_sources
from engine.orders.stages import StageNote, load_ref, record
from tests.orders_in.conftest import platform_order_id, platforms  # noqa: F401 - the fixture

PROMOTION = "promotion_apparel_festival"


def publish_template(services: Any, name: str) -> None:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction(immediate=True) as s:
        import_template(s, name, actor="admin", now=services.clock.now())
        rulesets.publish(s, name, actor="admin", now=services.clock.now(), note="test")


@pytest.fixture
def promotion(services: Any) -> None:
    """女装节大促 (templates_library/promotion_apparel_festival.op) published as version 1."""
    publish_template(services, PROMOTION)


def arrive(services: Any, channel: str, order: ScenarioOrder) -> int:
    """The order's detail fetched from the fake by its order client, mapped by the published
    mapping and stored; its order pk."""
    client = order_client(services, order_sources(services)[channel])
    assert client is not None
    payload = client.order_detail(platform_order_id(channel, order))
    outcome = intake_platform_order(services, source=channel, payload=payload, via="pull")
    assert outcome.order_pk is not None, outcome.message
    return outcome.order_pk


def price(services: Any, order_pk: int) -> list[StageNote]:
    """Run the price stage on the stored order, as the pipeline does: one transaction, the
    notes recorded on its timeline."""
    now = services.clock.now()
    with services.db.transaction(immediate=True) as s:
        ref = load_ref(s, order_pk)
        assert ref is not None
        notes = price_stage(s, services, ref, now)
        record(s, ref, notes, actor="pipeline", now=now)
    return notes


def stored_lines(services: Any, order_pk: int) -> list[tuple[str | None, int, int | None, int | None]]:
    """(sku, qty, amount, paid_amount) of each stored line, in order."""
    with services.db.session() as s:
        return [(r.sku_id, r.qty, r.amount, r.paid_amount) for r in s.scalars(
            select(OrderLine).where(OrderLine.order_pk == order_pk).order_by(OrderLine.line_no))]


def stored_price(services: Any, order_pk: int) -> OrderPrice | None:
    with services.db.session() as s:
        row = s.get(OrderPrice, order_pk)
        if row is not None:
            s.expunge(row)
        return row


def stored_order(services: Any, order_pk: int) -> Order:
    with services.db.session() as s:
        row = s.get(Order, order_pk)
        assert row is not None
        s.expunge(row)
        return row


def events(services: Any, order_pk: int) -> list[OrderEvent]:
    with services.db.session() as s:
        rows = list(s.scalars(select(OrderEvent).where(OrderEvent.order_pk == order_pk).order_by(OrderEvent.id)))
        for r in rows:
            s.expunge(r)
        return rows
