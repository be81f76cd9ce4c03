"""Shipments are an alert collection: ``count(shipments) per day by channel`` and
``sum(qty of shipments where courier == "SF") per day`` published over shipments already made are
back-filled, then kept as shipments arrive, and equal a direct SQL count of ``order_shipments``
per Asia/Shanghai day (and the order's channel); the checker knows a shipment's fields."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from engine.alerts.models import AlertCounter
from engine.alerts.service import run_alerts
from engine.analytics.sql_time import local_date
from engine.clock import SHANGHAI
from engine.orders.model import Order
from engine.orders.pipeline_model import OrderShipment
from tests.alerts.support import alert_errors, drain, publish_new
from tests.alerts.test_backfill import _series_key
from tests.risk.helpers import order, publish, take_in

RULES = """\
channel 仓储群 feishu { webhook env OP_WH_HOOK, secret env OP_WH_SECRET }

alert 渠道日发货量 {
    measure count(shipments) per day by channel
    when value > 100000
    notify 仓储群 "{group} 今日发货 {value} 单"
}

alert 顺丰日发货件数 {
    measure sum(qty of shipments where courier == "SF") per day
    when value > 100000
    notify 仓储群 "顺丰今日 {value} 件"
}
"""
CHANNELS = ("douyin", "taobao", "pdd")


def sh(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=SHANGHAI)


def _ship(services: Any, pks: list[int], first: int, count: int) -> None:
    """``count`` shipments over the orders, two hours apart from 11-11 00:00 (so across days),
    every third by YTO, one to three pieces."""
    with services.db.transaction() as s:
        for i in range(first, first + count):
            s.add(OrderShipment(order_pk=pks[i % len(pks)], courier="YTO" if i % 3 == 0 else "SF",
                                tracking_no=f"T{i:06d}", lines=[{"line_no": 0, "sku_id": "TEA-COLD", "qty": 1 + i % 3}],
                                via="api", actor="user:wh", at=sh(11, 0) + timedelta(hours=2 * i),
                                writeback_status="accepted"))


def _sql(services: Any, *, by_channel: bool, sf_qty: bool) -> dict[tuple[str, str], int]:
    dialect = services.db.engine.dialect.name
    day = local_date(OrderShipment.at, dialect)
    with services.db.session() as s:
        if sf_qty:  # the pieces are in the lines' JSON: summed per day in Python, rows chosen in SQL
            out: dict[tuple[str, str], int] = {}
            for d, lines in s.execute(select(day, OrderShipment.lines).where(OrderShipment.courier == "SF")):
                key = (str(d), "")
                out[key] = out.get(key, 0) + sum(int(ln["qty"]) for ln in lines)
            return out
        cols = [day, Order.channel] if by_channel else [day]
        rows = s.execute(select(*cols, func.count()).join(Order, Order.id == OrderShipment.order_pk)
                         .group_by(*cols)).all()
    return {(str(r[0]), r[1] if by_channel else ""): int(r[-1]) for r in rows}


def _counters(services: Any, key: str, field: str) -> dict[tuple[str, str], int]:
    with services.db.session() as s:
        rows = s.execute(select(AlertCounter.bucket, AlertCounter.grp, getattr(AlertCounter, field))
                         .where(AlertCounter.series == key)).all()
    return {(r[0].astimezone(SHANGHAI).date().isoformat(), r[1]): int(r[2]) for r in rows if r[2]}


def test_shipment_measures_are_backfilled_then_kept_equal_to_sql(services) -> None:
    publish(services, "sources_six_channels")
    pks = [take_in(services, order(f"S{i}", at=sh(10, 8), channel=CHANNELS[i % 3], phone=None)) for i in range(9)]
    _ship(services, pks, 0, 30)
    drain(services)  # no alert yet: the consumer only moves past the rows
    publish_new(services, "wh_alerts", RULES)
    per_channel = _series_key("count(shipments)", "day", "channel")
    sf_pieces = _series_key('sum(qty of shipments where courier == "SF")', "day")
    run = run_alerts(services)
    assert run.backfilled == {per_channel: 30, sf_pieces: 30}
    expected = _sql(services, by_channel=True, sf_qty=False)
    assert len({day for day, _ in expected}) == 3 and len({ch for _, ch in expected}) == 3
    assert _counters(services, per_channel, "n") == expected
    assert _counters(services, sf_pieces, "total") == _sql(services, by_channel=False, sf_qty=True)

    _ship(services, pks, 30, 12)  # later shipments: counted incrementally, once
    while run_alerts(services).rows_read:
        pass
    assert _counters(services, per_channel, "n") == _sql(services, by_channel=True, sf_qty=False)
    assert _counters(services, sf_pieces, "total") == _sql(services, by_channel=False, sf_qty=True)
    assert sum(_counters(services, per_channel, "n").values()) == 42


def test_the_checker_knows_the_fields_of_a_shipment() -> None:
    assert alert_errors('count(shipments where via == "wms") per hour by courier when value > 1') == []
    errors = alert_errors('count(shipments where couirer == "SF") per day when value > 1')
    assert errors and "courier" in errors[0]
