"""The writes of one transition: which statements reach the database, that a lost version race
writes nothing at all (no outbox row, no history row, no deadline change), that workflow outbox
rows look exactly like :func:`engine.outbox.enqueue`'s, and that a prepared statement whose
columns have Python-side defaults still gets them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, func, insert, select

from engine.errors import Conflict
from engine.outbox import enqueue
from engine.storage.models import OutboxMessage
from engine.workflow import service
from engine.workflow.models import WorkflowDeadline, WorkflowTransition
from engine.workflow.registry import registry_of
from engine.workflow.stepwrite import Prepared
from tests.conftest import auth
from tests.workflow.helpers import publish_template

OUTBOX_COLUMNS = ("topic", "status", "attempts", "max_attempts", "retry_schedule", "next_attempt_at", "source",
                  "ruleset_version", "created_at", "claim_token", "claimed_until", "last_error", "delivered_at")


def _ticket_awaiting_qc(client: Any, services: Any, tokens: dict[str, str], order: str) -> int:
    publish_template(client, tokens, "aftersales_standard")
    tid = client.post("/api/v1/machines/aftersales/instances",
                      json={"data": {"order_id": order, "consumer_id": "c", "consumer_phone": "13800000000"}},
                      headers=auth(tokens["cs"])).get_json()["id"]
    service.fire_action(services, tid, "审核通过", {}, actor="user:a", role="cs")
    service.fire_action(services, tid, "登记退货物流", {"return_tracking_no": "SF1"}, actor="user:a", role="cs")
    return int(tid)


@contextmanager
def _statements(services: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()[:3]))

    def on_commit(conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(services.db.engine, "before_cursor_execute", on_execute)
    event.listen(services.db.engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(services.db.engine, "before_cursor_execute", on_execute)
        event.remove(services.db.engine, "commit", on_commit)


def _counts(services: Any, tid: int) -> tuple[int, int, list[tuple[str, str]]]:
    with services.db.session() as s:
        outbox = s.scalar(select(func.count()).select_from(OutboxMessage))
        history = s.scalar(select(func.count()).where(WorkflowTransition.instance_id == tid))
        deadlines = [(d.state, d.status) for d in s.scalars(
            select(WorkflowDeadline).where(WorkflowDeadline.instance_id == tid).order_by(WorkflowDeadline.id))]
    return int(outbox or 0), int(history or 0), deadlines


def test_statements_of_one_transition(client, services, tokens) -> None:
    tid = _ticket_awaiting_qc(client, services, tokens, "W-1")
    with _statements(services) as seen:
        service.fire_action(services, tid, "质检通过", {"qc_result": "合格"}, actor="user:w", role="warehouse",
                            idempotency_key="k-1")
    if services.db.is_postgres:
        # the ticket, its history row, the cancelled deadline and the outbox row in one statement
        assert seen == ["SELECT workflow_instances.id, workflow_instances.machine,", "WITH adv AS", "COMMIT"]
    else:
        assert seen == ["BEGIN IMMEDIATE", "SELECT workflow_instances.id, workflow_instances.machine,",
                        "UPDATE workflow_instances SET", "INSERT INTO outbox", "UPDATE workflow_deadlines SET",
                        "INSERT INTO workflow_transitions", "COMMIT"]
    outbox, history, deadlines = _counts(services, tid)
    assert (outbox, history) == (1, 4)
    assert deadlines == [("待审核", "cancelled"), ("待退货", "cancelled"), ("待质检", "cancelled")]


def test_a_lost_version_race_writes_nothing(client, services, tokens, clock) -> None:
    tid = _ticket_awaiting_qc(client, services, tokens, "W-2")
    registry = registry_of(services)
    with services.db.session() as s:
        stale = service.load_ticket(s, tid)
    assert stale is not None and stale.state == "待质检"
    # someone else moves the ticket on (same action): the stale copy still passes every check
    service.fire_action(services, tid, "质检通过", {"qc_result": "合格"}, actor="user:w", role="warehouse")
    before = _counts(services, tid)
    with pytest.raises(Conflict) as err, service.write_transaction(services) as session:
        compiled = registry.compiled(session, stale.ruleset, stale.ruleset_version, stale.machine)
        service.fire_in(session, services, compiled, stale, "质检通过", {"qc_result": "合格"}, actor="user:late",
                        role="warehouse", via="user", idempotency_key="late", now=clock.now())
    assert err.value.code == "version_conflict"
    assert _counts(services, tid) == before
    body = service.get_instance(services, tid, "cs")
    assert body["state"] == "待处理" and body["version"] == 4
    assert [h["actor"] for h in body["history"]][-1] == "user:w"


def test_workflow_outbox_rows_match_enqueue(client, services, tokens, clock) -> None:
    tid = _ticket_awaiting_qc(client, services, tokens, "W-3")
    service.fire_action(services, tid, "质检通过", {"qc_result": "合格"}, actor="user:w", role="warehouse")
    service.fire_action(services, tid, "生成补发单", {}, actor="user:a", role="cs")
    with services.db.session() as s:
        ours = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.topic for m in ours] == ["notify.wecom", "call.wms.outbound", "notify.sms"]
    for mine in ours:
        with services.db.transaction() as s:
            reference = enqueue(s, mine.topic, mine.payload, now=mine.created_at, source=mine.source,
                                ruleset_version=mine.ruleset_version)
            s.flush()
            ref_id = reference.id
        with services.db.session() as s:
            ref = s.get(OutboxMessage, ref_id)
            assert ref is not None
            assert {c: getattr(mine, c) for c in OUTBOX_COLUMNS} == {c: getattr(ref, c) for c in OUTBOX_COLUMNS}
            assert mine.payload == ref.payload and len(mine.delivery_id) == 36
    second = ours[1]
    assert second.payload["args"] == ["W-3"] and second.source == f"workflow:aftersales:{tid}:5"


def test_prepared_statement_keeps_python_side_defaults(services, clock) -> None:
    prepared = Prepared(insert(cast(Table, OutboxMessage.__table__)))
    now = clock.now()
    row = {"delivery_id": "00000000-0000-0000-0000-000000000001", "topic": "t.x", "payload": {"n": 1},
           "retry_schedule": [30], "next_attempt_at": now, "created_at": now}  # no status/attempts/source
    with services.db.transaction() as s:
        prepared.execute(s.connection(), row)
        prepared.execute(s.connection(), [{**row, "delivery_id": f"00000000-0000-0000-0000-00000000000{i}"}
                                          for i in (2, 3)])
    with services.db.session() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "t.x").order_by(OutboxMessage.id)).all()
    assert [(r.status, r.attempts, r.max_attempts, r.source) for r in rows] == [("pending", 0, 4, "")] * 3
    assert rows[0].payload == {"n": 1} and rows[0].next_attempt_at == now


@pytest.mark.parametrize(("phone", "skipped"), [("138****0000", "recipient_masked"), (None, "no_recipient")])
def test_an_sms_to_a_phone_the_platform_masked_is_not_sent_and_the_answer_says_why(
        client, services, tokens, phone, skipped) -> None:
    publish_template(client, tokens, "aftersales_standard")
    data = {"order_id": "W-9", "consumer_id": "c", **({"consumer_phone": phone} if phone else {})}
    tid = client.post("/api/v1/machines/aftersales/instances", json={"data": data},
                      headers=auth(tokens["cs"])).get_json()["id"]
    service.fire_action(services, tid, "审核通过", {}, actor="user:a", role="cs")
    service.fire_action(services, tid, "登记退货物流", {"return_tracking_no": "SF1"}, actor="user:a", role="cs")
    service.fire_action(services, tid, "质检通过", {"qc_result": "合格"}, actor="user:w", role="warehouse")
    answer = service.fire_action(services, tid, "生成补发单", {}, actor="user:a", role="cs")
    with services.db.session() as s:
        topics = list(s.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id)))
    assert topics == ["notify.wecom", "call.wms.outbound"]  # the outbound still goes; no SMS row
    assert answer["action"]["name"] == "生成补发单"
    assert [e for e in answer["action"]["effects"] if e.get("effect") == "notify"] == [
        {"effect": "notify", "channel": "短信", "topic": "notify.sms", "skipped": skipped}]
