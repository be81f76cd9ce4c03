"""The warnings of the published ``fulfillment_standard`` template, run on the background
scheduler's schedule with an injected clock: 2 hours before an unshipped order's promised ship
time one message reaches the warehouse's Feishu group (signed; the fake bot checks it), never
before, never twice (a second run, a second scheduler, a restart), never for an order shipped,
cancelled or dropped as a test order; a presale order is warned 72 h and 24 h before its
presale ship-by on the DingTalk robot. The orders are found through the ship-time indexes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from engine.fulfillment.models import ShipWarningSent
from engine.fulfillment.warnings import left_text, send_due_warnings
from engine.scheduler import Scheduler, load_periodic_jobs
from tests.fulfillment.conftest import dispatch, sh, warning_rows
from tests.risk.helpers import order, publish, take_in

PROMISE = "2026-11-11 18:00"


def _orders(services: Any) -> dict[str, int]:
    pks = {}
    placed = sh("2026-11-11 09:00")
    for oid, promised, status in (("W1", PROMISE, "awaiting_shipment"), ("W2", PROMISE, "shipped"),
                                  ("W3", PROMISE, "cancelled"), ("W4", "2026-11-11 19:00", "paid_hold"),
                                  ("W5", "2026-11-11 17:00", "pending_payment")):
        extra: dict[str, Any] = {"promised_ship_at": sh(promised), "status": status}
        if status == "shipped":
            extra["shipped_at"] = sh("2026-11-11 12:00")
        pks[oid] = take_in(services, order(oid, at=placed, phone=None, **extra))
    pks["P1"] = take_in(services, order("P1", at=placed, phone=None, channel="taobao", presale=True,
                                        presale_ship_by=sh("2026-11-15 12:00")))
    return pks


@pytest.fixture
def shop(services):
    services.clock.set(sh("2026-11-11 09:30"))
    publish(services, "sources_six_channels")
    publish(services, "fulfillment_standard")
    return _orders(services)


@pytest.fixture
def scheduler(services):
    s = Scheduler(services, holder="worker-a")
    load_periodic_jobs(s, ["engine.fulfillment.jobs"])
    return s


def _tick(services, scheduler, at: str) -> list[str]:
    services.clock.set(sh(at))
    return scheduler.run_pending()


def test_two_hours_before_the_promise_the_warehouse_feishu_group_is_warned_once(services, shop, scheduler,
                                                                                 bots) -> None:
    feishu, dingtalk = bots
    assert _tick(services, scheduler, "2026-11-11 15:59:59") == ["fulfillment.warnings"]
    assert warning_rows(services) == []
    assert _tick(services, scheduler, "2026-11-11 16:00:59") == ["fulfillment.warnings"]
    [row] = warning_rows(services)
    assert row.topic == "notify.feishu" and row.order_ref == "douyin/W1"
    assert row.ruleset_version == "fulfillment_standard@1"
    # the same minute again, another worker's scheduler, and a restarted one: nothing more
    assert send_due_warnings(services, services.clock.now()) == 0
    other = Scheduler(services, holder="worker-b")
    load_periodic_jobs(other, ["engine.fulfillment.jobs"])
    services.clock.advance(61)
    other.run_pending()
    assert len(warning_rows(services)) == 1

    assert dispatch(services) == 1
    assert feishu.messages == [{"token": "warehouse-hook",
                                "text": "订单 W1（douyin）距承诺发货还有 1小时59分，承诺 2026-11-11 18:00 前发出"}]
    body = feishu.requests[0].json
    assert body["timestamp"].isdigit() and body["sign"]  # the fake bot refuses a bad signature (code 19021)
    assert dingtalk.messages == []

    # W4 (held, promised 19:00) at 17:00; W2 shipped, W3 cancelled and W5 unpaid never
    _tick(services, scheduler, "2026-11-11 17:00:30")
    _tick(services, scheduler, "2026-11-11 23:00")
    assert [r.order_ref for r in warning_rows(services)] == ["douyin/W1", "douyin/W4"]
    dispatch(services)
    assert [m["text"] for m in feishu.messages][1] == "订单 W4（douyin）距承诺发货还有 1小时59分，承诺 2026-11-11 19:00 前发出"
    with services.db.session() as s:
        sent = s.execute(select(ShipWarningSent.order_pk, ShipWarningSent.warning, ShipWarningSent.channel)
                         .order_by(ShipWarningSent.id)).all()
    assert sent == [(shop["W1"], "promised_ship_at:7200", "仓储群"), (shop["W4"], "promised_ship_at:7200", "仓储群")]


def test_an_order_shipped_before_its_warning_is_not_warned(services, shop, scheduler, client, tokens, bots) -> None:
    from engine.inventory.service import inventory_for
    from engine.orders.pipeline import Pipeline
    from tests.conftest import auth

    services.clock.set(sh("2026-11-11 15:00"))
    inventory_for(services).adjust("TEA-COLD", 10, "入库")
    Pipeline(services).run_due()  # risk, price, reserve, ticket: the real stages
    shipped = client.post(f"/api/v1/orders/{shop['W1']}/ship", json={"courier": "顺丰", "tracking_no": "SF1001"},
                          headers=auth(tokens["warehouse"]))
    assert shipped.status_code == 201, shipped.get_json()
    _tick(services, scheduler, "2026-11-11 16:00")
    assert warning_rows(services) == []


def test_a_presale_order_is_warned_at_its_lead_times_on_the_dingtalk_robot(services, shop, scheduler, bots) -> None:
    feishu, dingtalk = bots
    _tick(services, scheduler, "2026-11-12 11:59")
    assert [r.order_ref for r in warning_rows(services) if r.topic == "notify.dingtalk"] == []
    _tick(services, scheduler, "2026-11-12 12:00")
    _tick(services, scheduler, "2026-11-13 12:00")
    presale = [r for r in warning_rows(services) if r.topic == "notify.dingtalk"]
    assert [r.order_ref for r in presale] == ["taobao/P1"]
    _tick(services, scheduler, "2026-11-14 12:00")
    _tick(services, scheduler, "2026-11-15 13:00")
    assert [r.order_ref for r in warning_rows(services) if r.topic == "notify.dingtalk"] == ["taobao/P1"] * 2
    dispatch(services)
    assert [m["content"] for m in dingtalk.messages] == [
        "预售订单 P1（taobao）距预售发货截止还有 3天0小时（2026-11-15 12:00），请备货",
        "预售订单 P1（taobao）距预售发货截止只剩 1天0小时（2026-11-15 12:00）"]
    assert dingtalk.requests[0].query["sign"] and dingtalk.requests[0].query["timestamp"].isdigit()


def test_left_reads_in_chinese() -> None:
    assert [left_text(s) for s in (259200, 7200, 7140, 2700, 90000)] == [
        "3天0小时", "2小时0分", "1小时59分", "45分", "1天1小时"]


def _plan(services: Any, sql: str) -> str:
    with services.db.session() as s:
        if services.db.is_postgres:
            s.execute(text("SET LOCAL enable_seqscan = off"))
            return "\n".join(r[0] for r in s.execute(text(f"EXPLAIN {sql}")))
        return "\n".join(str(r[-1]) for r in s.execute(text(f"EXPLAIN QUERY PLAN {sql}")))


def test_the_warnings_read_index_ranges_of_ship_times(services, shop) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    from engine.fulfillment.declared import declared_fulfillment
    from engine.fulfillment.warnings import candidates_statement

    with services.db.session() as s:
        declared = declared_fulfillment(s)
    dialect = postgresql.dialect() if services.db.is_postgres else sqlite.dialect()
    indexes = {"promised_ship_at": "ix_orders_promised_ship", "presale_ship_by": "ix_orders_presale_ship_by"}
    for w in declared.warnings:
        stmt = candidates_statement(dialect.name, w, sh("2026-11-11 16:00"))
        sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        assert indexes[w.warning.due] in _plan(services, sql), sql
    assert timedelta(seconds=declared.warnings[0].warning.lead) == timedelta(hours=2)
