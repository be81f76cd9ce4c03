"""A rule edit cannot stand in for an approval: names of hooks, channels, machines and sources
are unique across published rulesets, secrets are only env references, and who may publish
follows the declaration kinds (管理员 for hooks, channels and sources; 运营 for the rest)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.storage.models import Ruleset, RulesetVersion
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

DECLARATIONS = {
    "hook": 'hook carrier signed {\n    secret env TEST_CARRIER_SECRET\n    ticket = payload.ticket_id\n}\n',
    "channel": 'channel 品控群 feishu { webhook env FEISHU_QC_HOOK, secret env FEISHU_QC_SECRET }\n',
    "source": 'source xhs "小红书店" {\n    platform xiaohongshu\n    credentials env XHS_APP_ID, env XHS_APP_SECRET, env XHS_TOKEN\n'
              '    pull stock every 90s\n}\n',
    "machine": 'machine 发票 "发票" {\n    data { order_id: text }\n    initial 待开\n    state 待开 owner 财务\n'
               '    state 已开 final\n    action 开票 from 待开 to 已开 by 财务\n}\n',
    "promotion": 'promotion 满减 {\n    order store_coupon\n    tier store_coupon "店铺券" pick best {\n'
                 '        rule "满300减40" when current_total >= ¥300 { amount_off ¥40 split by amount }\n    }\n}\n',
    "risk": 'risk 大额订单 { when order.payment.paid_amount >= ¥5000 then flag "大额订单" }\n',
    "mapping": 'mapping douyin {\n    order_id = order_id\n    buyer_phone = post_tel\n}\n',
    "cleaning": 'cleaning 标准化 {\n    normalize receiver.address to region\n}\n',
}
ADMIN_ONLY = {"hook", "channel", "source"}
ROLES = ("admin", "ops", "warehouse", "finance", "cs", "cs_lead")


def _publish(client, tokens, role: str, name: str, content: str) -> tuple[int, dict]:
    created = client.post("/api/v1/rulesets", json={"name": name, "content": content}, headers=auth(tokens["admin"]))
    assert created.status_code == 201, created.get_json()
    resp = client.post(f"/api/v1/rulesets/{name}/publish", json={}, headers=auth(tokens[role]))
    return resp.status_code, resp.get_json()


@pytest.mark.parametrize("kind", sorted(DECLARATIONS))
def test_who_may_publish_each_kind_of_declaration(client, services, tokens, kind) -> None:
    outcomes = {}
    for role in ROLES:
        status, body = _publish(client, tokens, role, f"{kind}-by-{role}", DECLARATIONS[kind])
        outcomes[role] = status
        if status == 201:
            # the name is now owned: unpublishable elsewhere; the matrix continues on fresh names
            with services.db.transaction() as s:
                s.execute(RulesetVersion.__table__.delete())
                s.execute(Ruleset.__table__.update().values(latest_version=0))
        elif role == "ops":
            assert body["error"]["code"] == "publish_forbidden"
            assert body["error"]["message"] == (
                f"role ops (运营) may not publish a ruleset declaring {kind}; that needs admin (管理员)")
    expected = {"admin": 201, "ops": 403 if kind in ADMIN_ONLY else 201,
                "warehouse": 403, "finance": 403, "cs": 403, "cs_lead": 403}
    assert outcomes == expected


def test_a_literal_secret_is_a_check_error(client, tokens) -> None:
    literal = 'hook carrier signed {\n    secret "let-me-in"\n    ticket = payload.ticket_id\n}\n'
    created = client.post("/api/v1/rulesets", json={"name": "carrier", "content": literal}, headers=auth(tokens["admin"]))
    assert created.status_code == 201
    check = client.post("/api/v1/rulesets/carrier/check", json={}, headers=auth(tokens["admin"])).get_json()
    assert check["ok"] is False
    [problem] = check["problems"]
    assert (problem["line"], problem["col"], problem["code"]) == (2, 12, "literal-secret")
    assert problem["message"].startswith("hook carrier: 'secret' must be an env reference")
    resp = client.post("/api/v1/rulesets/carrier/publish", json={}, headers=auth(tokens["admin"]))
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "invalid_ruleset"


def test_an_ops_edit_cannot_stand_in_for_the_dingtalk_approval(client, services, tokens, clock, monkeypatch) -> None:
    monkeypatch.setenv("DINGTALK_CALLBACK_TOKEN", DINGTALK_TOKEN)
    monkeypatch.setenv("DINGTALK_AES_KEY", DINGTALK_AES_KEY)
    monkeypatch.setenv("EVIL_SECRET", "chosen-by-ops")
    publish_template(client, tokens, "aftersales_standard")
    tid = client.post("/api/v1/machines/aftersales/instances",
                      json={"data": {"order_id": "TB1", "consumer_id": "c-1"}}, headers=auth(tokens["cs"])).get_json()["id"]
    for action, role, payload in (("审核通过", "cs", {}), ("登记退货物流", "cs", {"return_tracking_no": "SF1"}),
                                  ("质检通过", "warehouse", {"qc_result": "合格"}), ("申请退款", "cs", {})):
        assert fire(client, tokens[role], tid, action, payload).status_code == 200

    rogue = 'hook dingtalk_approval signed {\n    secret env EVIL_SECRET\n    ticket = payload.ticket\n}\n'
    client.post("/api/v1/rulesets", json={"name": "rogue", "content": rogue}, headers=auth(tokens["ops"]))
    by_ops = client.post("/api/v1/rulesets/rogue/publish", json={}, headers=auth(tokens["ops"]))
    assert by_ops.status_code == 403 and by_ops.get_json()["error"]["code"] == "publish_forbidden"
    by_admin = client.post("/api/v1/rulesets/rogue/publish", json={}, headers=auth(tokens["admin"]))
    assert by_admin.status_code == 409
    error = by_admin.get_json()["error"]
    assert error["code"] == "name_taken"
    assert "hook dingtalk_approval is already declared by published ruleset 'aftersales_standard'" in error["message"]
    assert error["details"][0]["ruleset"] == "aftersales_standard"
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RulesetVersion)) == 1

    # the genuine DingTalk approval still closes the ticket
    event = dingtalk_sender().approval_event(str(tid), result="agree", event_id="evt-genuine")
    resp = post_dingtalk(client, event, timestamp_ms=int(clock.now().timestamp() * 1000))
    assert resp.status_code == 200, resp.get_json()
    final = client.get(f"/api/v1/instances/{tid}", headers=auth(tokens["cs"])).get_json()
    assert (final["state"], final["history"][-1]["actor"]) == ("已关闭", "webhook:dingtalk_approval")
    with services.db.session() as s:
        assert len(s.scalars(select(FinanceVoucher)).all()) == 1


def test_a_machine_name_is_unique_and_the_refusal_names_its_owner(client, tokens) -> None:
    assert _publish(client, tokens, "ops", "invoices", DECLARATIONS["machine"])[0] == 201
    status, body = _publish(client, tokens, "ops", "invoices-2", DECLARATIONS["machine"])
    assert status == 409
    assert body["error"]["message"].startswith(
        "ruleset 'invoices-2' cannot be published: machine 发票 is already declared by published ruleset 'invoices'")


def test_the_oldest_ruleset_keeps_a_name_duplicated_before_the_rule(client, services, tokens, clock) -> None:
    """Rulesets published before names were unique may share a hook: the ruleset that was
    created first is the one read, whatever the other's name sorts as."""
    from engine.rulesets import publish_guards
    from engine.rulesets import service as rulesets
    from engine.workflow.registry import registry_of

    first = 'hook zz signed {\n    secret env FIRST_SECRET\n    ticket = payload.ticket_id\n}\n'
    second = 'hook zz signed {\n    secret env SECOND_SECRET\n    ticket = payload.ticket_id\n}\n'
    with services.db.transaction() as s:
        for name, content in (("zz-first", first), ("aa-second", second)):
            rulesets.create_ruleset(s, name=name, actor="admin", now=clock.now(), content=content)
    original = publish_guards.check_unique_names
    try:
        publish_guards.check_unique_names = lambda *a, **k: None  # the state before this rule existed
        with services.db.transaction() as s:
            for name in ("zz-first", "aa-second"):
                rulesets.publish(s, name, actor="admin", now=clock.now())
    finally:
        publish_guards.check_unique_names = original
    with services.db.session() as s:
        decl, owner, _ = registry_of(services).find_hook(s, "zz")
    assert owner == "zz-first" and decl.settings[0].value.var == "FIRST_SECRET"
