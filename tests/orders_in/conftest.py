"""Fixtures of the pull and push tests (orders in from the platforms): the six fake platforms (stock and orders) on
the test's manual clock, the environment that points the published sources at them, the
published ``sources_six_channels`` rules, and look-ups of stored orders."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from connectors.fakes import (
    PLATFORM_CREDENTIALS,
    FakeDouyinStock,
    FakeKuaishouStock,
    FakeMiniprogramStock,
    FakePddStock,
    FakeTaobaoStock,
    FakeXiaohongshuStock,
    kuaishou_orders,
    miniprogram_orders,
    xiaohongshu_orders,
)
from connectors.fakes.douyin_orders import order_id_of
from connectors.fakes.order_scenario import ScenarioOrder
from connectors.fakes.pdd_orders import order_sn
from connectors.fakes.taobao_orders import tid_of
from connectors.platform_stock import base_url_variable
from engine.orders.model import Order, OrderEvent

FAKES = {"taobao": FakeTaobaoStock, "pdd": FakePddStock, "douyin": FakeDouyinStock, "kuaishou": FakeKuaishouStock,
         "xiaohongshu": FakeXiaohongshuStock, "miniprogram": FakeMiniprogramStock}


def platform_order_id(channel: str, order: ScenarioOrder) -> str:
    """The order's id on the platform (Kuaishou: its first line's one-item order)."""
    return {"taobao": lambda: str(tid_of(order)), "pdd": lambda: order_sn(order),
            "douyin": lambda: str(order_id_of(order)),
            "kuaishou": lambda: str(kuaishou_orders.oid_of(order, order.lines[0])),
            "xiaohongshu": lambda: xiaohongshu_orders.order_id_of(order),
            "miniprogram": lambda: miniprogram_orders.out_trade_no_of(order)}[channel]()


def credentials(channel: str) -> dict[str, str]:
    return {param: value for _, value, param in PLATFORM_CREDENTIALS[channel]}


def publish_sources(services: Any) -> None:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction(immediate=True) as s:
        import_template(s, "sources_six_channels", actor="admin", now=services.clock.now())
        rulesets.publish(s, "sources_six_channels", actor="admin", now=services.clock.now(), note="test")


@pytest.fixture
def platforms(services: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The six fakes on the services' clock, the environment pointing at them, the sources
    template published."""
    now = lambda: services.clock.now().timestamp()
    fakes = {channel: cls(now=now, **credentials(channel)).start() for channel, cls in FAKES.items()}
    for channel, fake in fakes.items():
        monkeypatch.setenv(base_url_variable(channel), fake.url)
        for variable, value, _ in PLATFORM_CREDENTIALS[channel]:
            monkeypatch.setenv(variable, value)
    publish_sources(services)
    yield fakes
    for fake in fakes.values():
        fake.stop()


def stored(services: Any, channel: str, order_id: str) -> Order | None:
    with services.db.session() as s:
        row = s.scalar(select(Order).where(Order.channel == channel, Order.order_id == order_id))
        if row is not None:
            s.expunge(row)
        return row


def count_orders(services: Any, channel: str | None = None) -> int:
    with services.db.session() as s:
        q = select(func.count()).select_from(Order)
        if channel:
            q = q.where(Order.channel == channel)
        return int(s.scalar(q) or 0)


def timeline(services: Any, order_pk: int) -> list[OrderEvent]:
    with services.db.session() as s:
        rows = list(s.scalars(select(OrderEvent).where(OrderEvent.order_pk == order_pk).order_by(OrderEvent.id)))
        for r in rows:
            s.expunge(r)
        return rows
