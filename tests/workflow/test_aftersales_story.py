"""The seed's after-sales story, end to end through the HTTP API: a ticket from the
aftersales_standard template goes 待审核 → 待退货 → 待质检 → 待处理 → 待退款 and a signed DingTalk
approval closes it, archiving a finance voucher; every step is in the history with its actor."""

from __future__ import annotations

from sqlalchemy import select

from engine.storage.models import OutboxMessage
from engine.workflow.models import FinanceVoucher
from tests.conftest import auth
from tests.workflow.helpers import (
    DINGTALK_AES_KEY,
    DINGTALK_TOKEN,
    dingtalk_sender,
    fire,
    post_dingtalk,
    publish_template,
)


def test_aftersales_ticket_from_template_to_closed_by_dingtalk_approval(client, services, tokens, clock,
                                                                         monkeypatch) -> None:
    monkeypatch.setenv("DINGTALK_CALLBACK_TOKEN", DINGTALK_TOKEN)
    monkeypatch.setenv("DINGTALK_AES_KEY", DINGTALK_AES_KEY)
    published = publish_template(client, tokens, "aftersales_standard")
    assert published["version"] == 1

    created = client.post("/api/v1/machines/aftersales/instances",
                          json={"data": {"order_id": "TB20261111001", "consumer_id": "c-88",
                                         "consumer_phone": "13800138000"}},
                          headers=auth(tokens["cs"]))
    assert created.status_code == 201, created.get_json()
    ticket = created.get_json()
    tid = ticket["id"]
    assert ticket["state"] == "待审核" and ticket["owner"] == "cs"
    assert ticket["ruleset"] == "aftersales_standard" and ticket["ruleset_version"] == 1
    assert ticket["allowed_actions"] == ["审核通过"]
    assert ticket["deadline_at"] is not None

    clock.advance(3600)
    step = fire(client, tokens["cs"], tid, "审核通过")
    assert step.status_code == 200, step.get_json()
    assert step.get_json()["state"] == "待退货"

    clock.advance(86400)
    step = fire(client, tokens["cs"], tid, "登记退货物流", {"return_tracking_no": "SF1234567890"})
    assert step.status_code == 200, step.get_json()
    assert step.get_json()["data"]["return_tracking_no"] == "SF1234567890"

    clock.advance(7200)
    step = fire(client, tokens["warehouse"], tid, "质检通过", {"qc_result": "合格"})
    assert step.status_code == 200, step.get_json()
    assert step.get_json()["state"] == "待处理"
    with services.db.session() as s:
        wecom = s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify.wecom")).all()
    assert len(wecom) == 1
    assert wecom[0].payload["channel"] == "客服组长群"
    assert wecom[0].payload["message"] == f"售后单 {tid} 质检通过，请处理"
    assert wecom[0].payload["settings"] == {"key": {"env": "WECOM_CS_LEAD_KEY"}}
    assert wecom[0].ruleset_version == "aftersales_standard@1"

    step = fire(client, tokens["cs"], tid, "申请退款")
    assert step.status_code == 200 and step.get_json()["state"] == "待退款"
    # finance's approval arrives only through DingTalk: staff cannot fire it by hand
    by_hand = fire(client, tokens["finance"], tid, "财务终审", {"result": "agree"})
    assert by_hand.status_code == 403 and by_hand.get_json()["error"]["code"] == "webhook_only"

    clock.advance(1800)
    event = dingtalk_sender().approval_event(str(tid), result="agree", event_id="evt-approve-1")
    resp = post_dingtalk(client, event, timestamp_ms=int(clock.now().timestamp() * 1000))
    assert resp.status_code == 200, resp.get_json()
    reply = resp.get_json()
    assert set(reply) == {"msg_signature", "timeStamp", "nonce", "encrypt"}
    assert dingtalk_sender().crypto.decrypt(reply["encrypt"]) == "success"

    final = client.get(f"/api/v1/instances/{tid}", headers=auth(tokens["cs"])).get_json()
    assert final["state"] == "已关闭" and final["closed"] is True
    assert final["allowed_actions"] == []
    assert final["processing_seconds"] == 3600 + 86400 + 7200 + 1800
    history = [(h["seq"], h["from"], h["to"], h["action"], h["actor"]) for h in final["history"]]
    assert history == [
        (1, None, "待审核", "create", "user:user_cs"),
        (2, "待审核", "待退货", "审核通过", "user:user_cs"),
        (3, "待退货", "待质检", "登记退货物流", "user:user_cs"),
        (4, "待质检", "待处理", "质检通过", "user:user_warehouse"),
        (5, "待处理", "待退款", "申请退款", "user:user_cs"),
        (6, "待退款", "已关闭", "财务终审", "webhook:dingtalk_approval"),
    ]
    assert all(h["ruleset_version"] == "aftersales_standard@1" for h in final["history"])
    assert [h["seconds_in_state"] for h in final["history"]][1:] == [3600, 86400, 7200, 0, 1800]
    with services.db.session() as s:
        vouchers = s.scalars(select(FinanceVoucher)).all()
    assert len(vouchers) == 1
    assert vouchers[0].instance_id == tid and vouchers[0].action == "财务终审"
    assert vouchers[0].data["order_id"] == "TB20261111001"
    assert vouchers[0].payload["processInstanceId"] == event["processInstanceId"]


def test_idempotency_key_replay_returns_first_answer_and_changes_nothing(client, services, tokens) -> None:
    publish_template(client, tokens, "aftersales_standard")
    tid = client.post("/api/v1/machines/aftersales/instances",
                      json={"data": {"order_id": "O-1", "consumer_id": "c-1"}},
                      headers=auth(tokens["cs"])).get_json()["id"]
    first = fire(client, tokens["cs"], tid, "审核通过", key="k-1")
    again = fire(client, tokens["cs"], tid, "审核通过", key="k-1")
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    other = fire(client, tokens["cs"], tid, "申请退款", key="k-1")
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "idempotency_key_reused"
    body = client.get(f"/api/v1/instances/{tid}", headers=auth(tokens["cs"])).get_json()
    assert body["version"] == 2 and [h["action"] for h in body["history"]] == ["create", "审核通过"]


def test_time_in_state_and_processing_time_metrics(client, services, tokens, clock) -> None:
    publish_template(client, tokens, "aftersales_standard")
    ids = [client.post("/api/v1/machines/aftersales/instances",
                       json={"data": {"order_id": f"M-{i}", "consumer_id": "c"}},
                       headers=auth(tokens["cs"])).get_json()["id"] for i in range(3)]
    clock.advance(600)
    fire(client, tokens["cs"], ids[0], "审核通过")
    clock.advance(600)
    fire(client, tokens["cs"], ids[1], "审核通过")
    clock.advance(300)
    body = client.get("/api/v1/machines/aftersales/metrics", headers=auth(tokens["cs_lead"])).get_json()
    waiting = body["states"]["待审核"]
    assert (waiting["left"], waiting["avg_seconds"], waiting["max_seconds"]) == (2, 900, 1200)
    assert (waiting["open"], waiting["open_oldest_seconds"]) == (1, 1500)
    assert body["states"]["待退货"]["open"] == 2 and body["closed"] == 0
