"""流程沙盒 over HTTP: nothing is stored, refusals come back explained in Chinese, and once real
tickets of the machine exist the swimlanes show the average time spent in each state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from engine.rulesets import service
from engine.storage.models import RulesetVersion
from engine.templates import import_template
from engine.workflow.models import WorkflowInstance
from engine.workflow.service import create_instance, fire_action
from tests.builder.conftest import csrf_of

R = "aftersales_standard"


def test_sandbox_walks_the_draft_and_shows_time_spent_by_real_tickets(signed_in: Any, services: Any,
                                                                       clock: Any) -> None:
    with services.db.transaction() as s:
        import_template(s, R, actor="setup", now=clock.now())
        service.publish(s, R, actor="setup", now=clock.now())
        content = service.get_ruleset(s, R).draft_content
    ticket = create_instance(services, "aftersales", {"order_id": "DY-1", "consumer_id": "C1"}, actor="kf")
    clock.advance(timedelta(hours=3))
    fire_action(services, ticket["id"], "审核通过", {}, actor="kf", role="cs")

    client = signed_in("cs")
    csrf = csrf_of(client.get(f"/rulesets/{R}").data)
    with services.db.session() as s:
        before = (s.scalar(select(func.count()).select_from(WorkflowInstance)),
                  s.scalar(select(func.count()).select_from(RulesetVersion)))

    def press(**body: Any) -> dict[str, Any]:
        resp = client.post(f"/rulesets/{R}/sandbox", json={"content": content, **body}, headers={"X-CSRFToken": csrf})
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    start = press()
    assert (start["state"], start["owner"], start["deadline"]) == ("待审核", "客服", "24h")
    assert [a["name"] for a in start["actions"]] == ["审核通过"]
    assert "平均停留 3h" in start["svg"]  # 待审核, from the real ticket
    refused = press(role="warehouse", state="待审核", action="审核通过")
    assert refused["refused"] == {"action": "审核通过", "code": "wrong_role",
                                  "message": "角色「仓储」不能执行「审核通过」，只有客服可以"}
    assert refused["state"] == "待审核"
    moved = press(role="cs", state="待审核", action="审核通过")
    assert moved["moved"]["to"] == "待退货" and moved["state"] == "待退货"
    missing = press(role="cs", state="待退货", action="登记退货物流")
    assert missing["refused"]["message"] == "执行「登记退货物流」需要先填写：return_tracking_no"
    with services.db.session() as s:
        after = (s.scalar(select(func.count()).select_from(WorkflowInstance)),
                 s.scalar(select(func.count()).select_from(RulesetVersion)))
    assert after == before  # the sandbox stores nothing
