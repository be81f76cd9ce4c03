"""The deviation reads the published ``late after``: an order taken in, reserved by the real
pipeline and shipped by a 仓储 user 2 h 30 min after its promise is late under the standard
template's 2 h and on time under a ruleset declaring 3 h; a query's own threshold still wins, and
the answer says where its threshold came from."""

from __future__ import annotations

from typing import Any

import pytest

from engine.inventory.service import inventory_for
from engine.orders.pipeline import Pipeline
from tests.conftest import auth
from tests.fulfillment.conftest import sh
from tests.risk.helpers import order, publish, take_in

URL = "/api/v1/metrics/fulfillment-deviation"
RANGE = {"from": "2026-11-11", "to": "2026-11-11"}


@pytest.fixture
def shipped_late(services: Any, client: Any, tokens: dict[str, str]) -> Any:
    services.clock.set(sh("2026-11-11 08:00"))
    publish(services, "sources_six_channels")
    publish(services, "fulfillment_standard")
    inventory_for(services).adjust("TEA-COLD", 10, "入库")
    late = take_in(services, order("D1", at=sh("2026-11-11 07:00"), phone=None, promised_ship_at=sh("2026-11-11 10:00")))
    take_in(services, order("D2", at=sh("2026-11-11 07:30"), phone=None, promised_ship_at=sh("2026-11-11 12:00")))
    assert Pipeline(services).run_due() == 2
    services.clock.set(sh("2026-11-11 12:30"))
    shipped = client.post(f"/api/v1/orders/{late}/ship", json={"courier": "顺丰", "tracking_no": "SF2001"},
                          headers=auth(tokens["warehouse"]))
    assert shipped.status_code == 201, shipped.get_json()
    return services


def test_a_late_shipment_counts_under_the_published_threshold(client, tokens, shipped_late) -> None:
    body = client.get(URL, query_string=RANGE, headers=auth(tokens["warehouse"])).get_json()
    assert (body["threshold_s"], body["threshold_from"]) == (7200, "fulfillment_standard@1 fulfillment 发货时效")
    assert body["totals"] == {"orders": 2, "late": 1, "late_rate_bp": 5000}
    assert [(o["order_id"], o["deviation_s"], o["shipped"], o["shipped_at"]) for o in body["late_orders"]] == [
        ("D1", 9000, True, "2026-11-11T04:30:00+00:00")]


def test_a_ruleset_declaring_three_hours_makes_it_on_time(client, tokens, shipped_late) -> None:
    from engine.rulesets import service as rulesets
    from tests.order_tickets.support import template_text

    text = template_text("fulfillment_standard").replace("late after 2h", "late after 3h")
    with shipped_late.db.transaction(immediate=True) as s:
        rulesets.put_draft(s, "fulfillment_standard", content=text, actor="admin", now=shipped_late.clock.now())
        rulesets.publish(s, "fulfillment_standard", actor="admin", now=shipped_late.clock.now(), note="3h")
    body = client.get(URL, query_string=RANGE, headers=auth(tokens["ops"])).get_json()
    assert (body["threshold_s"], body["threshold_from"]) == (10800, "fulfillment_standard@2 fulfillment 发货时效")
    assert body["totals"] == {"orders": 2, "late": 0, "late_rate_bp": 0}
    asked = client.get(URL, query_string={**RANGE, "threshold": "30m"}, headers=auth(tokens["ops"])).get_json()
    assert (asked["threshold_s"], asked["threshold_from"], asked["totals"]["late"]) == (1800, "query", 1)


def test_without_a_declaration_the_default_holds(client, tokens, services) -> None:
    body = client.get(URL, query_string=RANGE, headers=auth(tokens["ops"])).get_json()
    assert (body["threshold_s"], body["threshold_from"]) == (7200, "default")
