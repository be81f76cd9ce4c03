"""``POST /orders/{id}/hold`` and ``/release``, and the ``pipeline`` and ``reservation`` sections of
``GET /orders/{id}``: who may, what they answer, what goes on the timeline."""

from __future__ import annotations

from typing import Any

from engine.orders.pipeline import Pipeline
from engine.services import Services
from tests.conftest import auth
from tests.pipeline.helpers import figures, kinds, order, put, row, status_tags, stock


def _moved(services: Services, *orders: dict[str, Any]) -> list[int]:
    stored = put(services, *orders)
    Pipeline(services).run_due()
    return [s.order_pk for s in stored]


def test_an_operator_holds_and_releases_an_order_with_who_and_why_on_its_timeline(
        services: Services, client: Any, tokens: dict[str, str]) -> None:
    stock(services, SKU_A=4)
    [pk] = _moved(services, order("H1", lines=[("SKU-A", 2)]))

    answer = client.post(f"/api/v1/orders/{pk}/hold", json={"reason": "客户要求改地址"}, headers=auth(tokens["ops"]))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["status"] == "paid_hold"
    assert body["pipeline"]["hold"] == {"reason": "客户要求改地址", "held_by": "user:user_ops", "short_skus": []}
    assert body["pipeline"]["status"] == "held"
    assert body["reservation"] == {"key": "douyin/H1", "open_units": 2, "lines": [
        {"sku_id": "SKU-A", "qty": 2, "shipped": 0, "released": 0, "open": 2, "status": "reserved"}]}
    held = body["timeline"][-1]
    assert (held["kind"], held["actor"], held["detail"]["reason"], held["detail"]["role"]) == (
        "held", "user:user_ops", "客户要求改地址", "ops")

    again = client.post(f"/api/v1/orders/{pk}/hold", json={"reason": "再挂一次"}, headers=auth(tokens["cs_lead"]))
    assert again.status_code == 409 and again.json["error"]["code"] == "already_held"

    freed = client.post(f"/api/v1/orders/{pk}/release", headers=auth(tokens["cs_lead"]))
    assert freed.status_code == 200, freed.json
    assert freed.json["status"] == "awaiting_shipment"
    assert freed.json["pipeline"]["hold"] is None and freed.json["pipeline"]["status"] == "done"
    released = [e for e in freed.json["timeline"] if e["kind"] == "hold_released"][0]
    assert (released["actor"], released["detail"]["reason"], released["detail"]["held_by"]) == (
        "user:user_cs_lead", "客户要求改地址", "user:user_ops")
    assert figures(services, "SKU-A") == (4, 2)  # holding and releasing moved no stock

    twice = client.post(f"/api/v1/orders/{pk}/release", headers=auth(tokens["admin"]))
    assert twice.status_code == 409 and twice.json["error"]["code"] == "not_held"


def test_only_ops_cs_lead_and_admin_may_hold_and_bad_requests_change_nothing(
        services: Services, client: Any, tokens: dict[str, str]) -> None:
    stock(services, SKU_A=4)
    pk, cancelled = _moved(services, order("H2"), order("H3", status="cancelled"))
    for role in ("warehouse", "finance", "cs"):
        refused = client.post(f"/api/v1/orders/{pk}/hold", json={"reason": "x"}, headers=auth(tokens[role]))
        assert refused.status_code == 403, role
    for bad in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "长" * 201}, {"reason": 7}):
        answer = client.post(f"/api/v1/orders/{pk}/hold", json=bad, headers=auth(tokens["ops"]))
        assert answer.status_code == 422, bad
        assert answer.json["error"]["details"][0]["path"].endswith("reason")
    not_holdable = client.post(f"/api/v1/orders/{cancelled}/hold", json={"reason": "x"}, headers=auth(tokens["ops"]))
    assert not_holdable.status_code == 409 and not_holdable.json["error"]["code"] == "order_not_holdable"
    missing = client.post("/api/v1/orders/99999/hold", json={"reason": "x"}, headers=auth(tokens["ops"]))
    assert missing.status_code == 404
    assert status_tags(services, pk)[0] == "awaiting_shipment"
    assert kinds(services, pk) == ["created", "risk_passed", "price_skipped", "reserved", "ticket_skipped"]


def test_releasing_an_order_held_for_stock_retries_it_now(services: Services, client: Any,
                                                          tokens: dict[str, str]) -> None:
    stock(services, SKU_A=1)
    [pk] = _moved(services, order("H4", lines=[("SKU-A", 2)]))
    detail = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["cs"])).json
    assert detail["pipeline"]["hold"] == {"reason": "缺货", "held_by": "pipeline:reserve", "short_skus": ["SKU-A"]}
    assert detail["reservation"] is None

    still = client.post(f"/api/v1/orders/{pk}/release", headers=auth(tokens["ops"]))
    assert still.status_code == 409 and still.json["error"]["code"] == "still_short"
    assert still.json["error"]["details"][0]["short_skus"] == ["SKU-A"]
    assert row(services, pk).status == "held" and kinds(services, pk) == ["created", "risk_passed", "price_skipped", "short"]

    # stock arrives through the back door (no worker running here): a person releases it
    with services.db.transaction() as s:
        from engine.inventory.models import StockItem

        s.get(StockItem, "SKU-A").total_stock = 5  # type: ignore[union-attr]
    freed = client.post(f"/api/v1/orders/{pk}/release", headers=auth(tokens["ops"]))
    assert freed.status_code == 200, freed.json
    assert freed.json["status"] == "awaiting_shipment" and freed.json["tags"] == []
    assert freed.json["reservation"]["open_units"] == 2


def test_releasing_a_risk_hold_runs_the_stages_left(services: Services, client: Any, tokens: dict[str, str]) -> None:
    stock(services, SKU_A=3)
    [pk] = _moved(services, order("H5", lines=[("SKU-A", 1)], tags=["挂起:地址待核实"]))
    assert figures(services, "SKU-A") == (3, 0)
    freed = client.post(f"/api/v1/orders/{pk}/release", headers=auth(tokens["cs_lead"]))
    assert freed.status_code == 200, freed.json
    assert freed.json["status"] == "awaiting_shipment"
    assert [e["kind"] for e in freed.json["timeline"]] == ["created", "risk_hold", "hold_released", "price_skipped", "reserved",
                                                          "ticket_skipped"]
    assert figures(services, "SKU-A") == (3, 1)
