"""A pipeline batch writes its new tickets together, and what it writes is what one order at a
time writes: the same tickets, history, deadlines, links, outbox rows and timeline entries for
paid, completed, presale and refunded orders and for an order whose ticket the machine refuses.
An order whose step fails after its ticket was opened keeps nothing of it (the others keep
theirs, and its retry opens it once); a shared write that fails runs the batch again one order
at a time. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from engine.orders.model import OrderEvent
from engine.orders.order_tickets import ticket_stage
from engine.orders.pipeline import Pipeline
from engine.orders.pipeline_model import OrderPipeline, OrderTicket
from engine.orders.pipeline_stages import PublishedPin
from engine.orders.stages import OrderRef, StageNote
from engine.orders.store import Incoming, store_order
from engine.orders.ticket_batch import TicketScope
from engine.storage.models import OutboxMessage
from engine.workflow.models import WorkflowDeadline, WorkflowInstance, WorkflowTransition
from tests.order_tickets.support import publish, publish_content, template_text
from tests.orders.order_factory import T0, order_py

TEMPLATES = ("order_lifecycle", "order_presale", "aftersales_refund_only", "aftersales_return_refund")


def _orders(prefix: str) -> list[dict[str, Any]]:
    """Orders of every kind the ticket stage meets, ids starting with ``prefix``."""
    return [
        order_py(f"{prefix}-PAID", buyer_phone="13812345678"),
        order_py(f"{prefix}-DONE", channel="taobao", status="completed", shipped_at=T0 + timedelta(hours=5),
                 tracking={"courier": "ZTO", "number": "7531000001"}),
        order_py(f"{prefix}-PRESALE", presale=True),
        order_py(f"{prefix}-REFUNDED", channel="pdd", refunds=[
            {"refund_id": f"{prefix}-R1", "line_id": "1", "amount": 5000, "reason": "拍错/不想要",
             "status": "success"}]),
        order_py(f"{prefix}-RETURN", channel="kuaishou", status="shipped", shipped_at=T0 + timedelta(hours=2),
                 tracking={"courier": "SF", "number": "SF100"}, refunds=[
                     {"refund_id": f"{prefix}-R2", "line_id": "1", "amount": 5000, "reason": "尺码偏差",
                      "status": "pending"}]),
        order_py(f"{prefix}-UNPAID", status="pending_payment", paid_at=None),
        order_py(f"{prefix}-NOPHONE", buyer_phone=None),  # refused by a machine that requires the phone
    ]


def _store(services: Any, orders: list[dict[str, Any]]) -> list[int]:
    return [store_order(services.db, Incoming(o, o["channel"], "pull"), now=services.clock.now()).order_pk
            for o in orders]


def _ids_out(value: Any, prefix: str, tickets: dict[int, int]) -> Any:
    """``value`` with the order prefix and ticket ids made comparable between two runs."""
    if isinstance(value, dict):
        return {k: f"T{tickets[v]}" if k in ("ticket", "instance_id", "id") and isinstance(v, int) and v in tickets
                else _ids_out(v, prefix, tickets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_ids_out(v, prefix, tickets) for v in value]
    if isinstance(value, str):
        value = value.replace(f"{prefix}-", "X-")
        return re.sub(r"^workflow:([^:]+):(\d+):", lambda m: f"workflow:{m[1]}:T{tickets.get(int(m[2]))}:", value)
    return value if value is None or isinstance(value, bool | int) else str(value)


def _snapshot(services: Any, pks: list[int], prefix: str) -> list[Any]:
    """Everything the ticket stage left for ``pks``, row ids replaced by their order of creation."""
    with services.db.session() as s:
        links = s.execute(select(OrderTicket).where(OrderTicket.order_pk.in_(pks))
                          .order_by(OrderTicket.order_pk, OrderTicket.id)).scalars().all()
        tickets = {link.instance_id: n for n, link in enumerate(links)}
        out: list[Any] = []
        for link in links:
            inst = s.get(WorkflowInstance, link.instance_id)
            assert inst is not None
            history = s.execute(select(WorkflowTransition).where(WorkflowTransition.instance_id == inst.id)
                                .order_by(WorkflowTransition.seq)).scalars().all()
            deadlines = s.execute(select(WorkflowDeadline).where(WorkflowDeadline.instance_id == inst.id)
                                  .order_by(WorkflowDeadline.id)).scalars().all()
            outbox = s.execute(select(OutboxMessage).where(OutboxMessage.source.like(f"workflow:%:{inst.id}:%"))
                               .order_by(OutboxMessage.id)).scalars().all()
            out.append(_ids_out({
                "link": {k: getattr(link, k) for k in ("kind", "refund_id", "line_id", "machine", "platform_status",
                                                       "created_at")},
                "ticket": {k: getattr(inst, k) for k in ("id", "machine", "ruleset", "ruleset_version", "state",
                                                         "data", "version", "order_id", "closed", "created_by",
                                                         "created_at", "updated_at", "state_entered_at",
                                                         "closed_at", "processing_seconds")},
                "history": [{k: getattr(h, k) for k in ("seq", "from_state", "to_state", "action", "actor",
                                                        "actor_role", "at", "payload", "ruleset_version",
                                                        "idempotency_key", "seconds_in_state", "result")}
                            for h in history],
                "deadlines": [{k: getattr(d, k) for k in ("state", "entry_seq", "due_at", "status", "outcome")}
                              for d in deadlines],
                "outbox": [{k: getattr(o, k) for k in ("topic", "payload", "status", "attempts", "max_attempts",
                                                       "retry_schedule", "source", "ruleset_version")}
                           for o in outbox],
            }, prefix, tickets))
        events = s.execute(select(OrderEvent.order_pk, OrderEvent.kind, OrderEvent.actor, OrderEvent.detail,
                                  OrderEvent.ruleset, OrderEvent.ruleset_version)
                           .where(OrderEvent.order_pk.in_(pks), OrderEvent.actor == "pipeline:ticket")
                           .order_by(OrderEvent.order_pk, OrderEvent.id)).all()
        out.append(_ids_out([[pks.index(e.order_pk), *e[1:]] for e in events], prefix, tickets))
        return out


def test_a_batch_writes_what_one_order_at_a_time_writes(services: Any) -> None:
    publish(services, *TEMPLATES)
    # a machine that refuses the ticket of an order without a buyer phone, to see the refusal too
    publish_content(services, "order_lifecycle", template_text("order_lifecycle").replace(
        "consumer_phone: text?", "consumer_phone: text"))
    one_by_one, batched = _store(services, _orders("ONE")), _store(services, _orders("BAT"))
    stages = [("ticket", ticket_stage)]
    Pipeline(services, stages=stages, batch_scopes=[]).run_batch(size=len(one_by_one))
    Pipeline(services, stages=stages).run_batch(size=len(batched))
    expected = _snapshot(services, one_by_one, "ONE")
    assert _snapshot(services, batched, "BAT") == expected
    kinds = [kind for _, kind, *_ in expected[-1]]
    assert (kinds.count("ticket_opened"), kinds.count("ticket_refused")) == (8, 1) and "ticket_action" in kinds
    assert any(t["deadlines"] and t["deadlines"][0]["status"] == "cancelled" for t in expected[:-1])


def test_an_order_failing_after_its_ticket_keeps_none_of_it_and_its_retry_opens_it_once(services: Any) -> None:
    publish(services, *TEMPLATES)
    pks = _store(services, [order_py(f"F-{i}") for i in range(4)])
    fail = {pks[1]}

    def after(session: Any, svc: Any, ref: OrderRef, now: Any) -> list[StageNote]:
        if ref.pk in fail:
            raise RuntimeError("the stage after the ticket failed")
        return []

    pipeline = Pipeline(services, stages=[("ticket", ticket_stage), ("after", after)])
    result = pipeline.run_batch(size=10)
    assert (result.moved, result.failed) == (3, 1)
    with services.db.session() as s:
        linked = dict(s.execute(select(OrderTicket.order_pk, OrderTicket.instance_id)).all())
        assert sorted(linked) == sorted(set(pks) - fail)
        opened = s.scalars(select(WorkflowTransition.instance_id).where(WorkflowTransition.action == "create")).all()
        assert sorted(opened) == sorted(linked.values())  # no ticket of the failed order was left behind
    fail.clear()
    services.clock.advance(60)
    assert pipeline.run_due() == 1
    with services.db.session() as s:
        assert s.scalar(select(OrderPipeline.status).where(OrderPipeline.order_pk == pks[1])) == "done"
        assert len(s.scalars(select(OrderTicket.id).where(OrderTicket.order_pk == pks[1])).all()) == 1
        assert len(s.scalars(select(WorkflowInstance.id)).all()) == 4


class _FailingWrite:
    """A batch scope whose shared write fails the first time."""

    writes = 0

    @classmethod
    def begin(cls, session: Any, services: Any, order_pks: list[int]) -> _FailingWrite:
        return cls()

    def mark(self) -> None:
        return None

    def rollback(self, mark: Any) -> None:
        return None

    def write(self, session: Any) -> None:
        type(self).writes += 1
        if type(self).writes == 1:
            raise RuntimeError("the shared write failed")

    def close(self, session: Any) -> None:
        return None


def test_a_shared_write_that_fails_runs_the_batch_again_one_order_at_a_time(services: Any) -> None:
    publish(services, *TEMPLATES)
    pks = _store(services, [order_py(f"W-{i}") for i in range(3)])
    pipeline = Pipeline(services, stages=[("ticket", ticket_stage)],
                        batch_scopes=[PublishedPin.begin, TicketScope.begin, _FailingWrite.begin])
    result = pipeline.run_batch(size=10)
    assert (result.claimed, result.moved, result.failed) == (3, 3, 0)
    assert _FailingWrite.writes == 1  # the second run had no scopes
    with services.db.session() as s:
        assert sorted(s.scalars(select(OrderTicket.order_pk)).all()) == sorted(pks)
        assert len(s.scalars(select(WorkflowInstance.id)).all()) == 3
        opened = s.scalars(select(OrderEvent.order_pk).where(OrderEvent.kind == "ticket_opened")).all()
        assert sorted(opened) == sorted(pks)
