"""``GET /metrics/fulfillment-deviation``: shipped minus promised ship time per order (the
platform's shipped time, or our own first shipment), late beyond the threshold (2 h by default,
exactly 2 h is on time), an unshipped order late once the clock is past its promise by more than
the threshold, cancelled orders left out; late rates per channel, day and hour of promise; the
late orders listed by promise time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engine.analytics.deviation_counts import refresh_orders
from engine.analytics.sql_time import SHANGHAI
from engine.orders.pipeline_model import OrderShipment
from tests.conftest import auth
from tests.risk.helpers import order, publish, take_in


def sh(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# id, channel, promised (Shanghai), shipped after promise (minutes; None: not shipped), status
CASES = [
    ("F1", "douyin", "2026-11-11 10:00", 60, "shipped"),
    ("F2", "douyin", "2026-11-11 10:00", 120, "shipped"),       # exactly 2 h: on time
    ("F3", "douyin", "2026-11-11 14:00", 121, "shipped"),       # late by 2 h 1 min
    ("F4", "taobao", "2026-11-12 09:00", None, "awaiting_shipment"),  # 3 h past promise at 12:00: late
    ("F5", "taobao", "2026-11-12 11:00", None, "awaiting_shipment"),  # 1 h past: not yet late
    ("F6", "taobao", "2026-11-12 09:00", None, "cancelled"),    # left out
    ("F8", "taobao", "2026-11-12 11:30", -30, "shipped"),       # shipped early
]


@pytest.fixture
def placed(services):
    publish(services, "sources_six_channels")
    services.clock.set(sh("2026-11-12 12:00"))
    pks = {}
    for oid, channel, promised, after, status in CASES:
        extra = {"promised_ship_at": sh(promised), "status": status}
        if after is not None:
            extra["shipped_at"] = sh(promised) + timedelta(minutes=after)
        pks[oid] = take_in(services, order(oid, at=sh(promised) - timedelta(days=1), channel=channel, phone=None,
                                           **extra))
    # F7: shipped by us (an order_shipments row), 3 h 30 min after its promise; the shipment
    # moves the deviation counters in its own transaction, as the ship use case does
    pk = take_in(services, order("F7", at=sh("2026-11-10 16:00"), phone=None, promised_ship_at=sh("2026-11-11 16:00")))
    with services.db.transaction() as s:
        s.add(OrderShipment(order_pk=pk, courier="SF", tracking_no="SF100", lines=[], via="api", actor="user:wh",
                            at=sh("2026-11-11 19:30"), writeback_status="accepted"))
        s.flush()
        refresh_orders(s.connection(), [pk])
    return services


URL = "/api/v1/metrics/fulfillment-deviation"
RANGE = {"from": "2026-11-11", "to": "2026-11-12"}


def _get(client, token, **params):
    return client.get(URL, query_string=params, headers=auth(token))


def test_late_rates_per_channel_day_and_hour_with_the_late_orders(client, tokens, placed) -> None:
    body = _get(client, tokens["warehouse"], **RANGE).get_json()
    assert body["threshold_s"] == 7200
    assert body["totals"] == {"orders": 7, "late": 3, "late_rate_bp": 4286}
    assert body["by_channel"] == [{"channel": "douyin", "orders": 4, "late": 2, "late_rate_bp": 5000},
                                  {"channel": "taobao", "orders": 3, "late": 1, "late_rate_bp": 3333}]
    assert body["by_day"] == [{"day": "2026-11-11", "orders": 4, "late": 2, "late_rate_bp": 5000},
                              {"day": "2026-11-12", "orders": 3, "late": 1, "late_rate_bp": 3333}]
    assert body["by_hour"] == [{"hour": 9, "orders": 1, "late": 1, "late_rate_bp": 10000},
                               {"hour": 10, "orders": 2, "late": 0, "late_rate_bp": 0},
                               {"hour": 11, "orders": 2, "late": 0, "late_rate_bp": 0},
                               {"hour": 14, "orders": 1, "late": 1, "late_rate_bp": 10000},
                               {"hour": 16, "orders": 1, "late": 1, "late_rate_bp": 10000}]
    assert [(o["order_id"], o["deviation_s"], o["deviation"], o["shipped"], o["shipped_at"])
            for o in body["late_orders"]] == [
        ("F3", 7260, "2小时1分", True, "2026-11-11T08:01:00+00:00"),
        ("F7", 12600, "3小时30分", True, "2026-11-11T11:30:00+00:00"),
        ("F4", 10800, "3小时0分", False, None)]
    assert body["late_orders"][0]["promised_ship_at"] == "2026-11-11T06:00:00+00:00"


def test_a_declared_threshold_and_a_channel(client, tokens, placed) -> None:
    body = _get(client, tokens["ops"], threshold="3h", **RANGE).get_json()
    assert body["threshold_s"] == 10800
    assert body["totals"] == {"orders": 7, "late": 1, "late_rate_bp": 1429}
    assert [o["order_id"] for o in body["late_orders"]] == ["F7"]
    taobao = _get(client, tokens["ops"], threshold="30m", channel="taobao", **RANGE).get_json()
    assert taobao["totals"] == {"orders": 3, "late": 2, "late_rate_bp": 6667}
    assert [o["order_id"] for o in taobao["late_orders"]] == ["F4", "F5"]


def test_the_late_list_pages_by_promise_time(client, tokens, placed) -> None:
    first = _get(client, tokens["ops"], limit=2, **RANGE).get_json()
    assert [o["order_id"] for o in first["late_orders"]] == ["F3", "F7"]
    rest = _get(client, tokens["ops"], limit=2, cursor=first["next_cursor"], **RANGE).get_json()
    assert [o["order_id"] for o in rest["late_orders"]] == ["F4"] and rest["next_cursor"] is None
    assert rest["totals"] == first["totals"]


@pytest.mark.parametrize("params,field", [({"threshold": "2 hours"}, "threshold"), ({"threshold": "-1h"}, "threshold"),
                                          ({"limit": "500"}, "limit")])
def test_bad_arguments_name_the_field(client, tokens, placed, params, field) -> None:
    resp = _get(client, tokens["ops"], **params)
    assert resp.status_code == 422 and field in str(resp.get_json()["error"]["details"])


def test_finance_and_cs_do_not_read_it(client, tokens, placed) -> None:
    assert _get(client, tokens["finance"]).status_code == 403
    assert _get(client, tokens["cs"]).status_code == 403
