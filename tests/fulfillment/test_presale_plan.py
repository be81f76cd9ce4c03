"""``GET /metrics/presale``: presale orders per ship-by day in Asia/Shanghai (an order due at
01:00 Beijing time on the 14th is the 14th's, though it is the 13th in UTC), due / shipped /
waiting / overdue, cancelled, test and ordinary orders left out; every overdue order (past its
ship-by, not shipped) listed with how long; the orders behind each figure."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import auth
from tests.fulfillment.conftest import sh
from tests.risk.helpers import order, publish, take_in

# id, channel, presale ship-by (Beijing time; None: not presale), status
ORDERS = [
    ("P1", "douyin", "2026-11-12 18:00", "awaiting_shipment"),
    ("P2", "douyin", "2026-11-12 20:00", "shipped"),
    ("P3", "douyin", "2026-11-13 09:00", "awaiting_shipment"),
    ("P4", "douyin", "2026-11-13 22:00", "paid_hold"),
    ("P5", "douyin", "2026-11-14 01:00", "awaiting_shipment"),
    ("P6", "douyin", "2026-11-14 12:00", "cancelled"),
    ("P7", "taobao", "2026-11-15 12:00", "awaiting_shipment"),
    ("P8", "taobao", "2026-11-20 12:00", "awaiting_shipment"),  # after the range
    ("N1", "douyin", None, "awaiting_shipment"),
]


@pytest.fixture
def presale(services: Any) -> Any:
    services.clock.set(sh("2026-11-10 12:00"))
    publish(services, "sources_six_channels")
    for oid, channel, ship_by, status in ORDERS:
        extra: dict[str, Any] = {"status": status}
        if ship_by is not None:
            extra.update(presale=True, presale_ship_by=sh(ship_by))
        take_in(services, order(oid, at=sh("2026-11-01 10:00"), channel=channel, phone=None, **extra))
    services.clock.set(sh("2026-11-13 10:00"))
    return services


URL = "/api/v1/metrics/presale"


def test_due_per_day_and_the_overdue_orders(client, tokens, presale) -> None:
    body = client.get(URL, query_string={"from": "2026-11-12", "to": "2026-11-15"},
                      headers=auth(tokens["warehouse"])).get_json()
    assert body["totals"] == {"due": 6, "shipped": 1, "waiting": 5, "overdue": 2}
    assert [(d["day"], d["due"], d["shipped"], d["waiting"], d["overdue"]) for d in body["by_day"]] == [
        ("2026-11-12", 2, 1, 1, 1), ("2026-11-13", 2, 0, 2, 1), ("2026-11-14", 1, 0, 1, 0), ("2026-11-15", 1, 0, 1, 0)]
    assert body["by_day"][3]["by_channel"] == {"taobao": {"due": 1, "shipped": 0, "waiting": 1, "overdue": 0}}
    assert body["overdue_total"] == 2
    assert [(o["order_id"], o["presale_ship_by"], o["overdue_s"]) for o in body["overdue"]] == [
        ("P1", "2026-11-12T10:00:00+00:00", 57600), ("P3", "2026-11-13T01:00:00+00:00", 3600)]


def test_the_default_range_is_the_next_14_days(client, tokens, presale) -> None:
    body = client.get(URL, headers=auth(tokens["ops"])).get_json()
    assert body["range"] == {"from": "2026-11-13", "to": "2026-11-26", "timezone": "Asia/Shanghai"}
    assert len(body["by_day"]) == 14 and body["totals"]["due"] == 5
    assert [d["due"] for d in body["by_day"] if d["due"]] == [2, 1, 1, 1]


def test_the_orders_behind_each_figure(client, tokens, presale) -> None:
    def ids(**params: Any) -> list[str]:
        got = client.get(URL + "/orders", query_string=params, headers=auth(tokens["warehouse"])).get_json()
        return [o["order_id"] for o in got["items"]]

    assert ids(day="2026-11-13") == ["P3", "P4"]
    assert ids(day="2026-11-12", state="shipped") == ["P2"]
    assert ids(day="2026-11-12", state="waiting") == ["P1"]
    assert ids(day="2026-11-14") == ["P5"]
    assert ids() == ["P1", "P3"] == ids(state="overdue")
    page = client.get(URL + "/orders", query_string={"limit": 1}, headers=auth(tokens["ops"])).get_json()
    rest = client.get(URL + "/orders", query_string={"limit": 1, "cursor": page["next_cursor"]},
                      headers=auth(tokens["ops"])).get_json()
    assert [o["order_id"] for o in page["items"] + rest["items"]] == ["P1", "P3"] and rest["next_cursor"] is None
    refused = client.get(URL + "/orders", query_string={"state": "waiting"}, headers=auth(tokens["ops"]))
    assert refused.status_code == 422 and "day" in str(refused.get_json()["error"]["details"])
    assert client.get(URL, headers=auth(tokens["finance"])).status_code == 403
