"""Races: 20 threads firing conflicting actions at one ticket get exactly one transition per
step (the rest 409) and a gap-free history; a passing deadline runs its handler once even
when two runners call ``run_due_deadlines`` at the same time."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.errors import ApiError
from engine.storage.models import OutboxMessage
from engine.workflow import service
from engine.workflow.deadlines import run_due_deadlines
from engine.workflow.models import WorkflowDeadline, WorkflowTransition
from tests.conftest import auth
from tests.workflow.helpers import fire, publish_template, publish_text

RACE = """
machine race "抢单" {
    data { order_id: text, note: text? }
    initial 新建
    state 新建 owner 客服
    state 甲 owner 客服
    state 乙 owner 客服
    state 完成 final
    action 去甲 from 新建 to 甲 by 客服
    action 去乙 from 新建 to 乙 by 客服
    action 完成甲 from 甲 to 完成 by 客服
    action 完成乙 from 乙 to 完成 by 客服
}
"""


def _race(services: Any, tid: int, actions: list[str]) -> Counter[str]:
    barrier = threading.Barrier(len(actions))
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def worker(action: str) -> None:
        barrier.wait()
        try:
            service.fire_action(services, tid, action, {}, actor=f"user:{action}", role="cs")
            result = "ok"
        except ApiError as err:
            result = str(err.status)
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=worker, args=(a,)) for a in actions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_conflicting_actions_from_many_threads_make_one_transition_per_step(client, services, tokens) -> None:
    assert publish_text(client, tokens, "races", RACE)["status"] == 201
    tid = client.post("/api/v1/machines/race/instances", json={"data": {"order_id": "R-1"}},
                      headers=auth(tokens["cs"])).get_json()["id"]
    first = _race(services, tid, ["去甲", "去乙"] * 10)
    assert first == Counter({"ok": 1, "409": 19})
    second = _race(services, tid, ["完成甲", "完成乙"] * 10)
    assert second == Counter({"ok": 1, "409": 19})
    body = service.get_instance(services, tid, "cs")
    assert body["state"] == "完成" and body["version"] == 3
    seqs = [h["seq"] for h in body["history"]]
    assert seqs == [1, 2, 3]
    steps = body["history"]
    assert steps[1]["from"] == "新建" and steps[2]["to"] == "完成" and steps[2]["from"] == steps[1]["to"]


@pytest.mark.postgres
def test_twenty_threads_on_postgresql_one_transition_per_step_rest_409(client, services, tokens) -> None:
    assert services.db.is_postgres
    assert publish_text(client, tokens, "races", RACE)["status"] == 201
    tid = client.post("/api/v1/machines/race/instances", json={"data": {"order_id": "R-2"}},
                      headers=auth(tokens["cs"])).get_json()["id"]
    for step in (["去甲", "去乙"], ["完成甲", "完成乙"]):
        outcome = _race(services, tid, step * 10)
        assert outcome == Counter({"ok": 1, "409": 19})
    with services.db.session() as s:
        rows = s.scalars(select(WorkflowTransition).where(WorkflowTransition.instance_id == tid)
                         .order_by(WorkflowTransition.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[1].from_state == "新建" and rows[2].from_state == rows[1].to_state


def test_deadline_handler_runs_once_with_two_runners(client, services, tokens, clock) -> None:
    publish_template(client, tokens, "aftersales_standard")
    tid = client.post("/api/v1/machines/aftersales/instances",
                      json={"data": {"order_id": "D-1", "consumer_id": "c"}},
                      headers=auth(tokens["cs"])).get_json()["id"]
    assert fire(client, tokens["cs"], tid, "审核通过").status_code == 200
    assert fire(client, tokens["cs"], tid, "登记退货物流", {"return_tracking_no": "SF9"}).status_code == 200
    clock.advance(timedelta(hours=47, minutes=59))
    assert run_due_deadlines(services, clock.now()) == 0
    clock.advance(timedelta(minutes=2))

    fired: list[int] = []
    barrier = threading.Barrier(2)

    def runner() -> None:
        barrier.wait()
        fired.append(run_due_deadlines(services, clock.now()))

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(fired) == [0, 1]
    assert run_due_deadlines(services, clock.now()) == 0
    with services.db.session() as s:
        notes = s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify.feishu")).all()
        deadline = s.scalars(select(WorkflowDeadline).where(WorkflowDeadline.instance_id == tid,
                                                            WorkflowDeadline.state == "待质检")).one()
    assert len(notes) == 1 and notes[0].payload["message"] == f"售后单 {tid} 质检超时"
    assert notes[0].payload["channel"] == "仓储群" and deadline.status == "fired"
    body = service.get_instance(services, tid, "warehouse")
    assert body["state"] == "待质检"
    assert body["history"][-1]["actor"] == "timer" and body["history"][-1]["action"] == "on deadline"
    assert [h["seq"] for h in body["history"]] == [1, 2, 3, 4]


def test_deadline_is_cancelled_when_the_ticket_leaves_in_time(client, services, tokens, clock) -> None:
    publish_template(client, tokens, "aftersales_standard")
    tid = client.post("/api/v1/machines/aftersales/instances",
                      json={"data": {"order_id": "D-2", "consumer_id": "c"}},
                      headers=auth(tokens["cs"])).get_json()["id"]
    clock.advance(timedelta(hours=23))
    assert fire(client, tokens["cs"], tid, "审核通过").status_code == 200
    clock.advance(timedelta(hours=2))
    assert run_due_deadlines(services, clock.now()) == 0
    with services.db.session() as s:
        first = s.scalars(select(WorkflowDeadline).where(WorkflowDeadline.state == "待审核")).one()
    assert first.status == "cancelled"


def test_deadline_action_fires_as_timer(client, services, tokens, clock) -> None:
    publish_template(client, tokens, "order_presale")
    tid = client.post("/api/v1/machines/presale_order/instances",
                      json={"data": {"order_id": "YS-1", "channel": "taobao", "deposit": 5000, "balance": 25000}},
                      headers=auth(tokens["ops"])).get_json()["id"]
    service.fire_action(services, tid, "付定金", {}, actor="user:x", role="ops")
    clock.advance(timedelta(days=3, seconds=1))
    assert run_due_deadlines(services, clock.now()) == 1
    body = service.get_instance(services, tid, "ops")
    assert body["state"] == "已取消"
    assert (body["history"][-1]["action"], body["history"][-1]["actor"]) == ("尾款超时", "timer")
