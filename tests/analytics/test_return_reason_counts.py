"""The return-reason counters give what one ``GROUP BY`` over the tickets gave: refund tickets the
real pipeline opened (one order at a time, in a batch, from a later platform version), per
Asia/Shanghai week and reason, per channel, 未注明 for a refund without a reason; a test order a
cleaning drops later leaves the figures and comes back when restored, a ticket whose reason a
person changes (or a deadline sets) moves to its new reason; the migration's back-fill derives the same counters from
the tickets; on PostgreSQL two writers of one ticket at once take turns. Exact numbers, on SQLite
and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Date, cast, func, literal_column, select

from engine.analytics import return_reasons as report
from engine.analytics.ranges import DateRange
from engine.analytics.return_reason_counts import ReasonCount, ReasonTicket, rebuild
from engine.orders.model import Order
from engine.orders.order_tickets import follow_platform, ticket_stage
from engine.orders.pipeline import Pipeline
from engine.orders.pipeline_model import OrderTicket
from engine.orders.store import Incoming, store_order
from engine.storage.migrate import alembic_config, upgrade
from engine.workflow.deadlines import run_due_deadlines
from engine.workflow.models import WorkflowInstance
from engine.workflow.registry import registry_of
from engine.workflow.service import fire_action, fire_in, load_ticket
from tests.fulfillment.conftest import sh
from tests.order_tickets.support import publish, publish_content, template_text
from tests.orders.order_factory import T0, order_py

# --------------------------------------------------------------------------- the query it replaces


def _tickets_reason(dialect: str) -> Any:
    if dialect == "postgresql":
        return func.coalesce(literal_column("(workflow_instances.data ->> 'reason')"), "未注明")
    return func.coalesce(func.json_extract(WorkflowInstance.data, "$.reason"), "未注明")


def _tickets_week(dialect: str) -> Any:
    if dialect == "postgresql":
        return cast(func.date_trunc("week", func.timezone("Asia/Shanghai", OrderTicket.created_at)), Date)
    return func.date(OrderTicket.created_at, "+8 hours", "weekday 0", "-6 days")


def counted_from_tickets(session: Any, counted: DateRange, channels: Sequence[str]) -> dict[str, dict[str, int]]:
    """The report's counting before the counters: one ``GROUP BY`` (week, reason) over the refund
    tickets joined to their data and orders, test orders a cleaning dropped left out."""
    dialect = session.get_bind().dialect.name
    week, reason = _tickets_week(dialect), _tickets_reason(dialect)
    stmt = (select(week.label("week"), reason.label("reason"), func.count().label("n"))
            .select_from(OrderTicket).join(WorkflowInstance, WorkflowInstance.id == OrderTicket.instance_id)
            .join(Order, Order.id == OrderTicket.order_pk)
            .where(OrderTicket.kind == "refund", OrderTicket.created_at >= counted.start,
                   OrderTicket.created_at < counted.end, Order.dropped_by.is_(None))
            .group_by(week, reason))
    if channels:
        stmt = stmt.where(Order.channel.in_(list(channels)))
    counts: dict[str, dict[str, int]] = {}
    for row in session.execute(stmt):
        monday = row.week if isinstance(row.week, str) else row.week.isoformat()
        counts.setdefault(row.reason, {})[monday] = row.n
    return counts


def answers(services: Any, first: str, last: str, channels: Sequence[str] = ()) -> tuple[Any, Any]:
    """The report from the counters, and from the tickets as it was counted before."""
    rng = DateRange(date.fromisoformat(first), date.fromisoformat(last))
    with services.db.session() as s:
        kept = report.return_reasons(s, rng, channels)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(report, "_weekly", counted_from_tickets)
            before = report.return_reasons(s, rng, channels)
    return kept, before


# --------------------------------------------------------------------------- the tickets


def _order(name: str, channel: str, reason: str | None, *, minutes: int = 0, **extra: Any) -> dict[str, Any]:
    refund: dict[str, Any] = {"refund_id": f"R-{name}", "line_id": "1", "sku_id": "SKU-1", "amount": 5000,
                              "status": "requested"}
    if reason is not None:
        refund["reason"] = reason
    return order_py(name, channel=channel, status="shipped", shipped_at=T0 + timedelta(hours=2), refunds=[refund],
                    minutes=minutes, **extra)


def _run(services: Any, *, batch: bool) -> None:
    pipeline = Pipeline(services, stages=[("ticket", ticket_stage)], follow_ups=[("ticket", follow_platform)],
                        batch_scopes=None if batch else [])
    pipeline.run_batch(size=50)


def _store(services: Any, order: dict[str, Any], dropped: tuple[str, str] | None = None) -> int:
    return store_order(services.db, Incoming(order, order["channel"], "pull", dropped=dropped),
                       now=services.clock.now()).order_pk


# (Beijing time the ticket opens, order, channel, reason or None, opened in a pipeline batch)
OPENED = [
    ("2026-11-03 10:00", "A1", "douyin", "面料起球", False),
    ("2026-11-08 23:30", "A2", "douyin", "面料起球", True),
    ("2026-11-09 00:10", "B1", "kuaishou", "面料起球", True),  # Monday 00:10 in Beijing, Sunday in UTC
    ("2026-11-10 12:00", "B2", "douyin", None, False),
    ("2026-11-11 09:00", "B3", "douyin", "尺码偏差", True),
    ("2026-11-16 08:00", "C1", "kuaishou", "尺码偏差", False),
    ("2026-11-17 10:00", "C2", "douyin", "面料起球", True),  # a test order: dropped later
    ("2026-11-18 10:00", "C3", "douyin", "面料起球", False),  # a person changes its reason to 色差
    ("2026-11-20 12:00", "C5", "douyin", None, True),  # dropped, then restored
]


@pytest.fixture
def returns(services: Any) -> Iterator[Any]:
    publish(services, "order_lifecycle", "aftersales_return_refund")
    services.clock.set(sh("2026-11-12 08:00"))  # C4 arrives without a refund: its order ticket only
    _store(services, order_py("C4", channel="kuaishou", status="shipped", shipped_at=T0 + timedelta(hours=2)))
    _run(services, batch=True)
    for at, name, channel, reason, batch in OPENED:
        services.clock.set(sh(at))
        _store(services, _order(name, channel, reason))
        _run(services, batch=batch)
    services.clock.set(sh("2026-11-19 09:00"))  # its refund comes with a later platform version
    _store(services, _order("C4", "kuaishou", "尺码偏差", minutes=10))
    _run(services, batch=True)
    services.clock.set(sh("2026-11-20 15:00"))
    with services.db.session() as s:
        c3 = s.scalar(select(OrderTicket.instance_id).join(Order, Order.id == OrderTicket.order_pk)
                      .where(Order.order_id == "C3", OrderTicket.kind == "refund"))
    fire_action(services, c3, "审核通过", {"reason": "色差"}, actor="user:zhao_kf", role="cs")
    _store(services, _order("C2", "douyin", "面料起球", minutes=20), dropped=("测试单", "cleaning:line"))
    _store(services, _order("C5", "douyin", None, minutes=20), dropped=("测试单", "cleaning:line"))
    _store(services, _order("C5", "douyin", None, minutes=30))
    services.clock.set(sh("2026-11-25 12:00"))
    yield services


def _week(monday: str, returns: int, previous: int, change_bp: int | None) -> dict[str, Any]:
    return {"week": monday, "returns": returns, "previous": previous, "change_bp": change_bp}


def test_the_counters_answer_what_the_tickets_answered(returns: Any) -> None:
    kept, before = answers(returns, "2026-11-09", "2026-11-22")
    assert kept == before
    assert kept["totals"] == [_week("2026-11-09", 3, 2, 5000), _week("2026-11-16", 4, 3, 3333)]
    assert kept["reasons"] == [
        {"reason": "尺码偏差", "total": 3, "weeks": [_week("2026-11-09", 1, 0, None), _week("2026-11-16", 2, 1, 10000)]},
        {"reason": "未注明", "total": 2, "weeks": [_week("2026-11-09", 1, 0, None), _week("2026-11-16", 1, 1, 0)]},
        {"reason": "色差", "total": 1, "weeks": [_week("2026-11-09", 0, 0, None), _week("2026-11-16", 1, 0, None)]},
        {"reason": "面料起球", "total": 1, "weeks": [_week("2026-11-09", 1, 2, -5000),
                                                 _week("2026-11-16", 0, 1, -10000)]}]


def test_per_channel_and_over_other_ranges_too(returns: Any) -> None:
    kept, before = answers(returns, "2026-11-09", "2026-11-22", ["kuaishou"])
    assert kept == before
    assert [(r["reason"], [w["returns"] for w in r["weeks"]]) for r in kept["reasons"]] == [
        ("尺码偏差", [0, 2]), ("面料起球", [1, 0])]
    for first, last, channels in (("2026-11-01", "2026-11-30", ()), ("2026-11-04", "2026-11-08", ["douyin"]),
                                  ("2026-11-10", "2026-11-10", ["douyin", "kuaishou"]),
                                  ("2026-11-16", "2026-11-29", ["taobao"])):
        kept, before = answers(returns, first, last, channels)
        assert kept == before, (first, last, channels)
    kept, _ = answers(returns, "2026-11-02", "2026-11-08")
    assert [(r["reason"], r["total"]) for r in kept["reasons"]] == [("面料起球", 2)]


def test_the_migration_back_fills_the_same_counters(returns: Any) -> None:
    def table(s: Any) -> tuple[list[Any], list[Any]]:
        counts = s.execute(select(ReasonCount.day, ReasonCount.channel, ReasonCount.reason, ReasonCount.tickets)
                           .where(ReasonCount.tickets != 0).order_by(ReasonCount.day, ReasonCount.channel,
                                                                    ReasonCount.reason)).all()
        rows = s.execute(select(ReasonTicket.ticket_pk, ReasonTicket.day, ReasonTicket.channel, ReasonTicket.reason)
                         .order_by(ReasonTicket.ticket_pk)).all()
        return [tuple(r) for r in counts], [tuple(r) for r in rows]

    with returns.db.session() as s:
        kept = table(s)
    cfg = alembic_config(returns.db)  # the revision before the counters, then the counters back-filled
    with returns.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0024_analytics_return_reasons-1")
    upgrade(returns.db)
    with returns.db.session() as s:
        derived = table(s)
    assert derived == kept
    assert sum(n for *_, n in kept[0]) == 9 and len(kept[1]) == 9
    again, before = answers(returns, "2026-11-01", "2026-11-30")
    assert again == before and sum(t["returns"] for t in again["totals"]) == 9
    with returns.db.transaction() as s:  # the back-fill itself, run again, derives them once more
        assert rebuild(s.connection()) == 9
    with returns.db.session() as s:
        assert table(s) == kept


def test_a_deadline_that_sets_the_reason_moves_the_ticket(services: Any) -> None:
    publish(services, "order_lifecycle", "aftersales_return_refund")
    publish_content(services, "aftersales_return_refund", template_text("aftersales_return_refund").replace(
        "    on deadline 待质检", '    on deadline 待审核 set reason = "审核超时"\n    on deadline 待质检'))
    services.clock.set(sh("2026-11-10 12:00"))
    _store(services, _order("D1", "douyin", "色差"))
    _store(services, _order("D2", "kuaishou", None))
    _run(services, batch=True)
    kept, before = answers(services, "2026-11-10", "2026-11-10")
    assert kept == before and [(r["reason"], r["total"]) for r in kept["reasons"]] == [("未注明", 1), ("色差", 1)]
    services.clock.set(sh("2026-11-11 13:00"))
    assert run_due_deadlines(services, services.clock.now()) == 2
    kept, before = answers(services, "2026-11-10", "2026-11-10")
    assert kept == before and [(r["reason"], r["total"]) for r in kept["reasons"]] == [("审核超时", 2)]


@pytest.mark.postgres
def test_a_reason_change_and_a_drop_of_one_ticket_at_once_take_turns(services: Any) -> None:
    """On PostgreSQL the drop waits for the reason change to commit, then counts from what it left."""
    assert services.db.is_postgres
    publish(services, "order_lifecycle", "aftersales_return_refund")
    services.clock.set(sh("2026-11-10 12:00"))
    _store(services, _order("E1", "douyin", "色差"))
    _run(services, batch=False)
    with services.db.session() as s:
        ticket = s.scalar(select(OrderTicket.instance_id).where(OrderTicket.kind == "refund"))
    dropping = threading.Thread(target=_store, args=(services, _order("E1", "douyin", "色差", minutes=20)),
                                kwargs={"dropped": ("测试单", "cleaning:line")})
    with services.db.transaction() as s:
        inst = load_ticket(s, ticket)
        compiled = registry_of(services).compiled(s, inst.ruleset, inst.ruleset_version, inst.machine)
        fire_in(s, services, compiled, inst, "审核通过", {"reason": "尺码偏差"}, actor="user:zhao_kf", role="cs",
                via="user", idempotency_key=None, now=services.clock.now())
        dropping.start()
        time.sleep(0.5)  # the drop is waiting for this ticket's counters
        assert dropping.is_alive()
    dropping.join(10)
    kept, before = answers(services, "2026-11-10", "2026-11-10")
    assert kept == before and kept["reasons"] == []
    with services.db.session() as s:
        assert s.scalars(select(ReasonCount.tickets)).all() == [0, 0]
