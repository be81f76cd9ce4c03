"""Payloads that cannot be mapped are parked: kept whole, listed with the reason, re-tryable,
counted once per distinct payload; nothing goes into the order tables."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.orders.intake import intake_platform_order, retry_parked
from engine.orders.model import Order, ParkedPayload
from tests.conftest import auth

PAYLOAD = {"order_id": "6920000000000000001", "post_tel": "13812345678", "post_receiver": "王小明",
           "post_addr": {"detail": "重庆市璧山区璧泉街道双星大道8号"}}


def test_a_payload_without_a_published_mapping_is_parked_and_listed(services, client, tokens) -> None:
    first = intake_platform_order(services, source="douyin", payload=PAYLOAD, via="push")
    assert (first.outcome, first.order_pk) == ("parked", None)
    assert "no published mapping named 'douyin'" in first.message
    again = intake_platform_order(services, source="douyin", payload=PAYLOAD, via="pull")
    assert again.parked_id == first.parked_id
    with services.db.session() as s:
        row = s.get(ParkedPayload, first.parked_id)
        assert (row.attempts, row.status, row.payload) == (2, "parked", PAYLOAD)
        assert s.scalar(select(func.count()).select_from(Order)) == 0

    listed = client.get("/api/v1/orders/parked", headers=auth(tokens["admin"])).get_json()["items"]
    assert [(p["id"], p["source"], p["attempts"]) for p in listed] == [(first.parked_id, "douyin", 2)]
    assert listed[0]["payload"] == PAYLOAD
    masked = client.get("/api/v1/orders/parked", headers=auth(tokens["ops"])).get_json()["items"][0]["payload"]
    assert (masked["post_tel"], masked["post_receiver"]) == ("138****5678", "王**")
    assert client.get("/api/v1/orders/parked", headers=auth(tokens["cs"])).status_code == 403

    retried = client.post(f"/api/v1/orders/parked/{first.parked_id}/retry", headers=auth(tokens["ops"]))
    assert retried.status_code == 200 and retried.get_json()["outcome"] == "parked"
    assert retry_parked(services, first.parked_id).outcome == "parked"
    with services.db.session() as s:
        assert s.get(ParkedPayload, first.parked_id).attempts == 4
    missing = client.post("/api/v1/orders/parked/999/retry", headers=auth(tokens["ops"]))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "parked_not_found"
