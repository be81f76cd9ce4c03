"""``GET /analytics/hourly``: orders stored through the real intake counted per weekday × hour in
Asia/Shanghai (an order at 00:30 Monday Shanghai time is Sunday in UTC and counts on Monday),
per channel, dropped test orders and orders outside the range left out; the orders behind a
cell listed; bad arguments refused with the field."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.analytics.sql_time import SHANGHAI
from tests.conftest import auth
from tests.risk.helpers import order, publish, take_in


def sh(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# (order id, channel, Shanghai time)
PLACED = [
    ("H1", "douyin", "2026-11-11 10:05"), ("H2", "douyin", "2026-11-11 10:40"), ("H3", "douyin", "2026-11-11 10:59"),
    ("H4", "taobao", "2026-11-11 10:30"),                                      # Wednesday 10:00-11:00: 4
    ("H5", "taobao", "2026-11-14 21:10"), ("H6", "taobao", "2026-11-14 21:50"),  # Saturday 21: 2
    ("H7", "douyin", "2026-11-15 23:30"),                                      # Sunday 23: 1
    ("H8", "pdd", "2026-11-16 00:30"),                                         # Monday 0 (Sunday 16:30 UTC)
    ("H9", "douyin", "2026-11-18 10:15"),                                      # next Wednesday 10: 1
    ("OUT", "douyin", "2026-11-19 00:00"),                                     # the day after the range
]


@pytest.fixture
def placed(services):
    publish(services, "sources_six_channels")
    services.clock.set(sh("2026-11-20 12:00"))
    pks = {}
    for oid, channel, when in PLACED:
        pks[oid] = take_in(services, order(oid, at=sh(when), channel=channel, phone=None))
    # a test order (dropped by the template's cleaning) in a counted hour
    take_in(services, order("TEST1", at=sh("2026-11-11 10:20"), phone=None,
                            receiver={"name": "测试", "address": "浙江省杭州市西湖区文三路90号"}))
    return pks


def _get(client, token, url="/api/v1/analytics/hourly", **params):
    return client.get(url, query_string=params, headers=auth(token))


def test_orders_per_weekday_and_hour_in_shanghai_time(client, tokens, placed) -> None:
    body = _get(client, tokens["ops"], **{"from": "2026-11-09", "to": "2026-11-18"}).get_json()
    assert body["range"] == {"from": "2026-11-09", "to": "2026-11-18", "timezone": "Asia/Shanghai"}
    assert body["total"] == 9
    m = body["matrix"]
    assert (m[2][10], m[5][21], m[6][23], m[0][0]) == (5, 2, 1, 1)
    assert sum(map(sum, m)) == 9
    assert body["peak"] == {"weekday": 3, "weekday_label": "周三", "hour": 10, "orders": 5}
    by = body["by_channel"]
    assert {k: v["total"] for k, v in by.items()} == {"douyin": 5, "pdd": 1, "taobao": 3}
    assert (by["douyin"]["matrix"][2][10], by["taobao"]["matrix"][2][10], by["pdd"]["matrix"][0][0]) == (4, 1, 1)


def test_one_channel_and_a_shorter_range(client, tokens, placed) -> None:
    body = _get(client, tokens["admin"], channel="taobao,pdd", **{"from": "2026-11-14", "to": "2026-11-16"}).get_json()
    assert body["total"] == 3 and body["channels"] == ["taobao", "pdd"]
    assert (body["matrix"][5][21], body["matrix"][0][0]) == (2, 1)


def test_the_orders_of_one_cell(client, tokens, placed) -> None:
    args = {"from": "2026-11-09", "to": "2026-11-18", "weekday": 3, "hour": 10}
    page = _get(client, tokens["ops"], "/api/v1/analytics/hourly/orders", limit=3, **args).get_json()
    assert [i["order_id"] for i in page["items"]] == ["H9", "H3", "H2"]
    rest = _get(client, tokens["ops"], "/api/v1/analytics/hourly/orders", cursor=page["next_cursor"], **args).get_json()
    assert [i["order_id"] for i in rest["items"]] == ["H4", "H1"] and rest["next_cursor"] is None
    monday = _get(client, tokens["ops"], "/api/v1/analytics/hourly/orders",
                  **{"from": "2026-11-09", "to": "2026-11-18", "weekday": 1, "hour": 0}).get_json()
    assert [(i["order_id"], i["created_at"]) for i in monday["items"]] == [("H8", "2026-11-15T16:30:00+00:00")]


@pytest.mark.parametrize("params,field", [
    ({"from": "2026-11-10", "to": "2026-11-09"}, "from"),
    ({"from": "2026-02-30"}, "from"),
    ({"channel": "jd"}, "channel"),
    ({"from": "2000-01-01", "to": "2026-01-01"}, "to"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
    ({"to": "9999-12-31"}, "to"),
])
def test_bad_arguments_name_the_field(client, tokens, placed, params, field) -> None:
    resp = _get(client, tokens["ops"], **params)
    assert resp.status_code == 422
    assert field in str(resp.get_json()["error"]["details"])


def test_who_may_read(client, tokens, placed) -> None:
    assert _get(client, tokens["cs"]).status_code == 403
    assert _get(client, tokens["cs_lead"]).status_code == 200


def test_without_arguments_the_last_seven_days_up_to_today(client, tokens, placed) -> None:
    body = _get(client, tokens["ops"]).get_json()
    assert body["range"]["from"] == "2026-11-14" and body["range"]["to"] == "2026-11-20"
    assert body["total"] == 6  # H5..H9 and OUT
