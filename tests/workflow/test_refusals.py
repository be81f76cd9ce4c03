"""Refused actions and webhooks: each says which check refused it and changes nothing — same
state, same version, same history, no outbox row."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from engine.storage.models import OutboxMessage
from engine.workflow.models import WebhookEvent, WorkflowTransition
from tests.conftest import auth
from tests.workflow.helpers import (
    DINGTALK_AES_KEY,
    DINGTALK_TOKEN,
    HOOK_SECRET,
    dingtalk_sender,
    fire,
    post_dingtalk,
    post_signed,
    publish_template,
    publish_text,
)

PARCEL = """
hook carrier signed {
    secret env TEST_CARRIER_SECRET
    ticket = payload.ticket_id
}
machine parcel "包裹" {
    data { order_id: text }
    initial 运输中
    state 运输中 owner 平台 deadline 3d
    state 已签收 final
    action 签收 from 运输中 to 已签收 via webhook carrier
}
"""


def snapshot(client: Any, services: Any, tokens: dict[str, str], tid: int) -> tuple[Any, ...]:
    body = client.get(f"/api/v1/instances/{tid}", headers=auth(tokens["admin"])).get_json()
    with services.db.session() as s:
        outbox = s.scalar(select(func.count()).select_from(OutboxMessage))
        history = s.scalar(select(func.count()).select_from(WorkflowTransition))
        events = s.scalar(select(func.count()).select_from(WebhookEvent))
    return body["state"], body["version"], body["data"], len(body["history"]), outbox, history, events


@pytest.fixture
def ticket_in_qc(client, services, tokens) -> int:
    """A standard after-sales ticket waiting for quality control (待质检)."""
    publish_template(client, tokens, "aftersales_standard")
    tid = client.post("/api/v1/machines/aftersales/instances",
                      json={"data": {"order_id": "O-9", "consumer_id": "c-9"}},
                      headers=auth(tokens["cs"])).get_json()["id"]
    assert fire(client, tokens["cs"], tid, "审核通过").status_code == 200
    assert fire(client, tokens["cs"], tid, "登记退货物流", {"return_tracking_no": "YT1"}).status_code == 200
    return tid


def test_action_from_the_wrong_state_is_refused_and_changes_nothing(client, services, tokens, ticket_in_qc) -> None:
    before = snapshot(client, services, tokens, ticket_in_qc)
    resp = fire(client, tokens["cs"], ticket_in_qc, "申请退款")
    assert resp.status_code == 409
    err = resp.get_json()["error"]
    assert err["code"] == "wrong_state"
    assert err["message"] == "action 申请退款 is not allowed from state 待质检 (only from 待处理)"
    assert snapshot(client, services, tokens, ticket_in_qc) == before


def test_action_by_the_wrong_role_is_refused_and_changes_nothing(client, services, tokens, ticket_in_qc) -> None:
    before = snapshot(client, services, tokens, ticket_in_qc)
    resp = fire(client, tokens["cs"], ticket_in_qc, "质检通过", {"qc_result": "合格"})
    assert resp.status_code == 403
    err = resp.get_json()["error"]
    assert err["code"] == "wrong_role"
    assert err["message"] == "role cs may not fire 质检通过; allowed: warehouse"
    assert snapshot(client, services, tokens, ticket_in_qc) == before


def test_action_whose_guard_is_false_is_refused_and_changes_nothing(client, services, tokens, ticket_in_qc) -> None:
    before = snapshot(client, services, tokens, ticket_in_qc)
    resp = fire(client, tokens["warehouse"], ticket_in_qc, "质检通过", {"qc_result": "不合格"})
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "guard_failed"
    assert err["message"] == 'condition of 质检通过 is false: qc_result == "合格"'
    assert snapshot(client, services, tokens, ticket_in_qc) == before


def test_action_missing_a_required_field_is_refused_and_changes_nothing(client, services, tokens,
                                                                        ticket_in_qc) -> None:
    before = snapshot(client, services, tokens, ticket_in_qc)
    resp = fire(client, tokens["warehouse"], ticket_in_qc, "质检通过", {})
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "missing_required"
    assert err["message"] == "action 质检通过 requires qc_result"
    assert err["details"][0]["path"] == "/qc_result"
    assert snapshot(client, services, tokens, ticket_in_qc) == before


def test_wrongly_typed_field_and_unknown_action_are_refused(client, services, tokens, ticket_in_qc) -> None:
    before = snapshot(client, services, tokens, ticket_in_qc)
    resp = fire(client, tokens["warehouse"], ticket_in_qc, "质检通过", {"qc_result": 1})
    assert resp.status_code == 422 and resp.get_json()["error"]["details"][0]["path"] == "/qc_result"
    resp = fire(client, tokens["warehouse"], ticket_in_qc, "飞走")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "unknown_action"
    assert snapshot(client, services, tokens, ticket_in_qc) == before


def test_creating_a_ticket_checks_declared_data(client, tokens) -> None:
    publish_template(client, tokens, "aftersales_standard")
    resp = client.post("/api/v1/machines/aftersales/instances", json={"data": {"order_id": 5, "color": "red"}},
                       headers=auth(tokens["cs"]))
    assert resp.status_code == 422
    paths = sorted(d["path"] for d in resp.get_json()["error"]["details"])
    assert paths == ["/color", "/consumer_id", "/order_id"]
    resp = client.post("/api/v1/machines/nope/instances", json={"data": {}}, headers=auth(tokens["cs"]))
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "unknown_machine"


@pytest.fixture
def parcel(client, services, tokens, monkeypatch) -> int:
    monkeypatch.setenv("TEST_CARRIER_SECRET", HOOK_SECRET)
    assert publish_text(client, tokens, "parcels", PARCEL)["status"] == 201
    return client.post("/api/v1/machines/parcel/instances", json={"data": {"order_id": "P-1"}},
                       headers=auth(tokens["ops"])).get_json()["id"]


def test_signed_webhook_fires_its_action_once(client, services, tokens, clock, parcel) -> None:
    now = int(clock.now().timestamp())
    resp = post_signed(client, "carrier", {"ticket_id": parcel, "event_id": "e-1"}, timestamp=now)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["instance"]["state"] == "已签收"
    body = client.get(f"/api/v1/instances/{parcel}", headers=auth(tokens["ops"])).get_json()
    assert body["history"][-1]["actor"] == "webhook:carrier"


def test_webhook_with_a_bad_signature_is_refused_and_changes_nothing(client, services, tokens, clock,
                                                                     parcel) -> None:
    before = snapshot(client, services, tokens, parcel)
    now = int(clock.now().timestamp())
    resp = post_signed(client, "carrier", {"ticket_id": parcel, "event_id": "e-2"}, timestamp=now,
                       secret="not-the-secret")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "bad_signature"
    assert snapshot(client, services, tokens, parcel) == before


def test_webhook_with_a_stale_timestamp_is_refused_and_changes_nothing(client, services, tokens, clock,
                                                                       parcel) -> None:
    before = snapshot(client, services, tokens, parcel)
    stale = int(clock.now().timestamp()) - 301
    resp = post_signed(client, "carrier", {"ticket_id": parcel, "event_id": "e-3"}, timestamp=stale)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "stale_timestamp"
    assert snapshot(client, services, tokens, parcel) == before


def test_replayed_webhook_event_is_refused_and_changes_nothing(client, services, tokens, clock, parcel) -> None:
    now = int(clock.now().timestamp())
    assert post_signed(client, "carrier", {"ticket_id": parcel}, timestamp=now, event_id="e-4").status_code == 200
    before = snapshot(client, services, tokens, parcel)
    resp = post_signed(client, "carrier", {"ticket_id": parcel}, timestamp=now + 1, event_id="e-4")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "replayed_event"
    assert snapshot(client, services, tokens, parcel) == before


def test_dingtalk_callback_with_bad_signature_or_stale_time_changes_nothing(client, services, tokens, clock,
                                                                           monkeypatch) -> None:
    monkeypatch.setenv("DINGTALK_CALLBACK_TOKEN", DINGTALK_TOKEN)
    monkeypatch.setenv("DINGTALK_AES_KEY", DINGTALK_AES_KEY)
    publish_template(client, tokens, "aftersales_refund_only")
    tid = client.post("/api/v1/machines/refund_only/instances",
                      json={"data": {"order_id": "O-2", "consumer_id": "c", "refund_amount": 3990,
                                     "reason": "尺码偏差"}}, headers=auth(tokens["cs"])).get_json()["id"]
    assert fire(client, tokens["cs"], tid, "审核通过").status_code == 200
    before = snapshot(client, services, tokens, tid)
    now_ms = int(clock.now().timestamp() * 1000)
    event = dingtalk_sender().approval_event(str(tid), event_id="d-1")
    assert post_dingtalk(client, event, timestamp_ms=now_ms, tamper=True).status_code == 401
    assert post_dingtalk(client, event, timestamp_ms=now_ms - 301_000).status_code == 401
    assert snapshot(client, services, tokens, tid) == before
    # a refused approval (result=refuse) is acknowledged to DingTalk but moves nothing
    refused = dingtalk_sender().approval_event(str(tid), result="refuse", event_id="d-2")
    assert post_dingtalk(client, refused, timestamp_ms=now_ms).status_code == 200
    assert snapshot(client, services, tokens, tid)[:4] == before[:4]
    # the approval closes it; DingTalk's duplicate delivery is acknowledged and ignored
    assert post_dingtalk(client, event, timestamp_ms=now_ms).status_code == 200
    closed = snapshot(client, services, tokens, tid)
    assert closed[0] == "已关闭"
    assert post_dingtalk(client, event, timestamp_ms=now_ms + 5).status_code == 200
    assert snapshot(client, services, tokens, tid) == closed


MIXED = """
hook ops_bot signed {
    secret env TEST_CARRIER_SECRET
    ticket = payload.ticket_id
    fire_action = payload.action
}
machine mixed "混合" {
    data { order_id: text }
    initial 新建
    state 新建 owner 客服
    state 已审 owner 客服
    state 已关闭 final
    action 审核 from 新建 to 已审 by 客服
    action 关闭 from 已审 to 已关闭
}
"""


def test_a_webhook_cannot_fire_an_action_reserved_for_a_role(client, services, tokens, clock, monkeypatch) -> None:
    monkeypatch.setenv("TEST_CARRIER_SECRET", HOOK_SECRET)
    assert publish_text(client, tokens, "mixed_rules", MIXED)["status"] == 201
    tid = client.post("/api/v1/machines/mixed/instances", json={"data": {"order_id": "X-1"}},
                      headers=auth(tokens["cs"])).get_json()["id"]
    before = snapshot(client, services, tokens, tid)
    now = int(clock.now().timestamp())
    resp = post_signed(client, "ops_bot", {"ticket_id": tid, "action": "审核"}, timestamp=now, event_id="m-1")
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "wrong_role"
    assert snapshot(client, services, tokens, tid) == before
    assert fire(client, tokens["cs"], tid, "审核").status_code == 200
    resp = post_signed(client, "ops_bot", {"ticket_id": tid, "action": "关闭"}, timestamp=now, event_id="m-2")
    assert resp.status_code == 200 and resp.get_json()["instance"]["state"] == "已关闭"


def test_dingtalk_check_url_gets_the_encrypted_success_reply(client, tokens, clock, monkeypatch) -> None:
    monkeypatch.setenv("DINGTALK_CALLBACK_TOKEN", DINGTALK_TOKEN)
    monkeypatch.setenv("DINGTALK_AES_KEY", DINGTALK_AES_KEY)
    publish_template(client, tokens, "aftersales_standard")
    now_ms = int(clock.now().timestamp() * 1000)
    resp = post_dingtalk(client, {"EventType": "check_url"}, timestamp_ms=now_ms)
    assert resp.status_code == 200
    reply = resp.get_json()
    assert reply["timeStamp"] == str(now_ms)
    assert dingtalk_sender().crypto.decrypt(reply["encrypt"]) == "success"
