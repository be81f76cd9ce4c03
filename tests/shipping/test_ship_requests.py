"""What ``POST /orders/{id}/ship`` refuses, and that a refused request changes nothing; who may
ship; and the WMS shipping callback, signed with the secret of a published ``signed`` hook."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.inventory.service import inventory_for
from engine.orders.model import Order
from engine.storage.models import OutboxMessage
from engine.workflow.webhooks import sign_body
from tests.conftest import auth
from tests.shipping.conftest import bring_in, dispatch, shipments, timeline_kinds
from tests.workflow.helpers import publish_text


def snapshot(services: Any, pk: int) -> tuple[Any, ...]:
    with services.db.session() as s:
        order = s.get(Order, pk)
        assert order is not None
        outbox = s.scalar(select(func.count()).select_from(OutboxMessage))
        stock = inventory_for(services).get("TEA-LJ-250")
        return (order.status, order.revision, dict(order.doc), outbox, len(shipments(services, pk)),
                len(timeline_kinds(services, pk)), stock["total_stock"], stock["reserved_stock"])


@pytest.mark.parametrize(("body", "paths"), [
    ({}, ["/courier", "/tracking_no"]),
    ({"courier": "顺风", "tracking_no": "SF1234567890"}, ["/courier"]),
    ({"courier": "SF", "tracking_no": "SF 12"}, ["/tracking_no"]),
    ({"courier": "SF", "tracking_no": "SF1234567890", "note": "x"}, ["/note"]),
    ({"courier": "SF", "tracking_no": "SF1234567890", "lines": []}, ["/lines"]),
    ({"courier": "SF", "tracking_no": "SF1234567890", "lines": [{"sku_id": "TEA-LJ-250", "qty": 0}]},
     ["/lines/0/qty"]),
    ({"courier": "SF", "tracking_no": "SF1234567890", "lines": [{"sku_id": "TEA-LJ-250", "qty": 3}]},
     ["/lines/0/qty"]),
    ({"courier": "SF", "tracking_no": "SF1234567890", "lines": [{"sku_id": "SCARF-SILK", "qty": 1}]},
     ["/lines/0/sku_id"]),
    ([], [""]),
])
def test_a_bad_request_names_each_field_and_changes_nothing(
        body: Any, paths: list[str], services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    pk, _, _ = bring_in(services, platforms["taobao"], "taobao", [("TEA-LJ-250", 2)])
    before = snapshot(services, pk)
    answer = client.post(f"/api/v1/orders/{pk}/ship", json=body, headers=auth(tokens["warehouse"]))
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "invalid_ship_request"
    assert [d["path"] for d in error["details"]] == paths
    assert snapshot(services, pk) == before


def test_unknown_courier_lists_the_ones_we_know(services: Any, platforms: Any, client: Any,
                                                tokens: dict[str, str]) -> None:
    pk, _, _ = bring_in(services, platforms["pdd"], "pdd", [("TEA-LJ-250", 1)])
    answer = client.post(f"/api/v1/orders/{pk}/ship", json={"courier": "顺风", "tracking_no": "SF1234567890"},
                         headers=auth(tokens["ops"])).get_json()
    (detail,) = answer["error"]["details"]
    assert "SF 顺丰速运" in detail["known"] and "DBKD 德邦快递" in detail["known"] and len(detail["known"]) == 10


def test_an_order_without_a_reservation_or_not_awaiting_shipment_is_refused_unchanged(
        services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    pk, order_id, _ = bring_in(services, platforms["douyin"], "douyin", [("TEA-LJ-250", 1)])
    inventory_for(services).release(f"douyin/{order_id}")  # e.g. a person released it by hand
    before = snapshot(services, pk)
    answer = client.post(f"/api/v1/orders/{pk}/ship", json={"courier": "SF", "tracking_no": "SF1234567890"},
                         headers=auth(tokens["ops"]))
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "ship_refused"
    assert snapshot(services, pk) == before
    with services.db.transaction() as s:
        s.execute(Order.__table__.update().where(Order.id == pk).values(status="paid_hold"))
    held = client.post(f"/api/v1/orders/{pk}/ship", json={"courier": "SF", "tracking_no": "SF1234567890"},
                       headers=auth(tokens["ops"]))
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "order_not_shippable"
    assert "已付款挂起" in held.get_json()["error"]["message"]
    missing = client.post("/api/v1/orders/999999/ship", json={"courier": "SF", "tracking_no": "SF1234567890"},
                          headers=auth(tokens["ops"]))
    assert missing.status_code == 404


@pytest.mark.parametrize(("role", "status"), [("warehouse", 201), ("ops", 201), ("admin", 201), ("cs", 403),
                                              ("cs_lead", 403), ("finance", 403)])
def test_who_may_ship(role: str, status: int, services: Any, platforms: Any, client: Any,
                      tokens: dict[str, str]) -> None:
    pk, _, _ = bring_in(services, platforms["taobao"], "taobao", [("TEA-LJ-250", 1)])
    answer = client.post(f"/api/v1/orders/{pk}/ship", json={"courier": "SF", "tracking_no": "SF1234567890"},
                         headers=auth(tokens[role]))
    assert answer.status_code == status
    assert client.post(f"/api/v1/orders/{pk}/ship", json={}).status_code == 401


WMS_HOOK = """
hook wms_shipping signed {
    secret env TEST_WMS_CALLBACK_SECRET
}
"""


def post_wms(client: Any, body: dict[str, Any], *, secret: str = "wms-secret", at: float | None = None) -> Any:
    raw = json.dumps(body, ensure_ascii=False).encode()
    ts = str(int(at if at is not None else time.time()))
    return client.post("/api/v1/orders/shipments/wms_shipping", data=raw, content_type="application/json",
                       headers={"X-OrderPulse-Timestamp": ts, "X-OrderPulse-Signature": sign_body(secret, ts, raw)})


def test_a_signed_wms_callback_ships_the_order_once(services: Any, platforms: Any, client: Any,
                                                    tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WMS_CALLBACK_SECRET", "wms-secret")
    assert publish_text(client, tokens, "wms_callbacks", WMS_HOOK)["status"] == 201
    fake = platforms["kuaishou"]
    pk, order_id, _ = bring_in(services, fake, "kuaishou", [("TEA-LJ-250", 1)])
    now = services.clock.now().timestamp()
    event = {"event_id": "wms-evt-1", "channel": "kuaishou", "order_id": order_id, "courier": "韵达",
             "tracking_no": "4318000000001"}
    assert post_wms(client, event, secret="not-the-secret", at=now).status_code == 401
    assert post_wms(client, event, at=now - 3600).status_code == 401  # stale timestamp
    assert len(shipments(services, pk)) == 0
    first = post_wms(client, event, at=now)
    assert first.status_code == 201, first.get_json()
    again = post_wms(client, event, at=now)  # a WMS delivers at least once
    assert again.status_code == 200 and again.get_json()["shipment"]["id"] == first.get_json()["shipment"]["id"]
    (shipment,) = shipments(services, pk)
    assert (shipment.via, shipment.actor, shipment.courier) == ("wms", "webhook:wms_shipping", "YUNDA")
    dispatch(services)
    (accepted,) = [m for m in fake.messages if m.get("tracking_no")]
    assert (accepted["company_code"], accepted["tracking_no"]) == (11, "4318000000001")
    unknown = post_wms(client, {**event, "event_id": "wms-evt-2", "order_id": "404"}, at=now)
    assert unknown.status_code == 404
