"""``GET /analytics/return-reasons``: after-sales tickets (the platform refunds the published
``aftersales_return_refund`` follow opens, through the real ticket stage) per Asia/Shanghai week
per reason, each week against the one before (面料起球 3 after 2 is +50.00%), a refund with no
reason counted as 未注明, weeks padded to Monday–Sunday; the drill-down lists the tickets of one
week and reason."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.analytics.return_reasons import change_bp
from engine.orders.order_tickets import ticket_stage
from engine.orders.stages import load_ref, record
from engine.orders.store import Incoming, store_order
from tests.conftest import auth
from tests.fulfillment.conftest import sh
from tests.order_tickets.support import publish
from tests.orders.order_factory import T0, order_py

# (Beijing time the refund ticket opens, reason or None, channel)
REFUNDS = [
    ("2026-11-03 10:00", "面料起球", "douyin"), ("2026-11-08 23:30", "面料起球", "douyin"),
    ("2026-11-09 00:10", "面料起球", "douyin"), ("2026-11-10 12:00", "面料起球", "kuaishou"),
    ("2026-11-15 23:59", "面料起球", "douyin"), ("2026-11-11 09:00", "尺码偏差", "douyin"),
    ("2026-11-16 08:00", "面料起球", "douyin"), ("2026-11-17 10:00", "面料起球", "kuaishou"),
    ("2026-11-18 10:00", "面料起球", "douyin"),
    ("2026-11-16 09:00", "尺码偏差", "douyin"), ("2026-11-17 09:00", "尺码偏差", "douyin"),
    ("2026-11-22 23:00", "尺码偏差", "kuaishou"), ("2026-11-19 09:00", None, "douyin"),
    ("2026-11-23 00:30", "面料起球", "douyin"),  # the week after the range
]


@pytest.fixture
def returns(services: Any) -> Any:
    publish(services, "order_lifecycle", "aftersales_return_refund")
    for i, (at, reason, channel) in enumerate(REFUNDS):
        services.clock.set(sh(at))
        refund = {"refund_id": f"R{i}", "line_id": "1", "sku_id": "SKU-1", "amount": 5000, "status": "requested"}
        if reason is not None:
            refund["reason"] = reason
        order = order_py(f"T{i}", channel=channel, status="shipped", shipped_at=T0 + timedelta(hours=2),
                         refunds=[refund])
        pk = store_order(services.db, Incoming(order, channel, "pull"), now=services.clock.now()).order_pk
        with services.db.transaction() as s:
            ref = load_ref(s, pk)
            assert ref is not None
            record(s, ref, ticket_stage(s, services, ref, services.clock.now()), actor="pipeline",
                   now=services.clock.now())
    services.clock.set(sh("2026-11-25 12:00"))
    return services


URL = "/api/v1/analytics/return-reasons"


def test_returns_per_week_per_reason_week_over_week(client, tokens, returns) -> None:
    body = client.get(URL, query_string={"from": "2026-11-11", "to": "2026-11-18"},
                      headers=auth(tokens["cs_lead"])).get_json()
    assert body["range"] == {"from": "2026-11-09", "to": "2026-11-22", "timezone": "Asia/Shanghai"}
    assert body["weeks"] == ["2026-11-09", "2026-11-16"]
    assert body["totals"] == [{"week": "2026-11-09", "returns": 4, "previous": 2, "change_bp": 10000},
                              {"week": "2026-11-16", "returns": 7, "previous": 4, "change_bp": 7500}]
    assert body["reasons"] == [
        {"reason": "面料起球", "total": 6, "weeks": [
            {"week": "2026-11-09", "returns": 3, "previous": 2, "change_bp": 5000},
            {"week": "2026-11-16", "returns": 3, "previous": 3, "change_bp": 0}]},
        {"reason": "尺码偏差", "total": 4, "weeks": [
            {"week": "2026-11-09", "returns": 1, "previous": 0, "change_bp": None},
            {"week": "2026-11-16", "returns": 3, "previous": 1, "change_bp": 20000}]},
        {"reason": "未注明", "total": 1, "weeks": [
            {"week": "2026-11-09", "returns": 0, "previous": 0, "change_bp": None},
            {"week": "2026-11-16", "returns": 1, "previous": 0, "change_bp": None}]}]
    kuaishou = client.get(URL, query_string={"from": "2026-11-09", "to": "2026-11-22", "channel": "kuaishou"},
                          headers=auth(tokens["ops"])).get_json()
    assert [(r["reason"], [w["returns"] for w in r["weeks"]]) for r in kuaishou["reasons"]] == [
        ("面料起球", [1, 1]), ("尺码偏差", [0, 1])]


def test_the_drill_down_lists_the_tickets_of_one_week_and_reason(client, tokens, returns) -> None:
    url = URL + "/tickets"
    first = client.get(url, query_string={"week": "2026-11-20", "reason": "尺码偏差", "limit": 2},
                       headers=auth(tokens["ops"])).get_json()
    assert first["week"] == "2026-11-16"
    assert [(t["order"]["order_id"], t["refund_id"], t["reason"], t["machine"], t["state"])
            for t in first["items"]] == [("T11", "R11", "尺码偏差", "return_refund", "待审核"),
                                         ("T10", "R10", "尺码偏差", "return_refund", "待审核")]
    rest = client.get(url, query_string={"week": "2026-11-20", "reason": "尺码偏差", "limit": 2,
                                         "cursor": first["next_cursor"]}, headers=auth(tokens["ops"])).get_json()
    assert [t["order"]["order_id"] for t in rest["items"]] == ["T9"] and rest["next_cursor"] is None
    every = client.get(url, query_string={"week": "2026-11-09"}, headers=auth(tokens["ops"])).get_json()
    assert sorted(t["order"]["order_id"] for t in every["items"]) == ["T2", "T3", "T4", "T5"]


def test_change_is_in_basis_points_half_away_from_zero() -> None:
    assert [change_bp(c, p) for c, p in ((3, 2), (1, 3), (2, 3), (0, 4), (5, 0), (1, 7))] == [
        5000, -6667, -3333, -10000, None, -8571]


def test_warehouse_and_finance_do_not_read_it(client, tokens, returns) -> None:
    assert client.get(URL, headers=auth(tokens["finance"])).status_code == 403
    assert client.get(URL + "/tickets", query_string={"week": "2026-11-20"},
                      headers=auth(tokens["warehouse"])).status_code == 403
    bad = client.get(URL + "/tickets", headers=auth(tokens["ops"]))
    assert bad.status_code == 422 and "week" in str(bad.get_json()["error"]["details"])
