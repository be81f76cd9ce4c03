"""The order store: the version rule (newer updates, equal and older change nothing), the
timeline, raw payloads, dropped orders, batches, and two writers storing one order at once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from engine.orders.model import Order, OrderEvent, OrderLine, OrderPayload
from engine.orders.store import Incoming, store_order, store_orders
from tests.orders.order_factory import T0, order_py


def _counts(services) -> tuple[int, int, int, int]:
    with services.db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Order, OrderLine, OrderPayload,
                                                                             OrderEvent))  # type: ignore[return-value]


def _put(services, order, payload=None, **kw):
    return store_order(services.db, Incoming(order, kw.pop("source", "douyin"), kw.pop("via", "pull"),
                                             payload, **kw), now=services.clock.now())


def test_a_new_order_is_created_with_lines_payload_and_a_timeline_entry(services) -> None:
    stored = _put(services, order_py("A1"), {"order_id": "A1", "raw": True}, mapping="douyin", ruleset="sources",
                  ruleset_version=3)
    assert (stored.outcome, stored.revision) == ("created", 1)
    assert _counts(services) == (1, 1, 1, 1)
    with services.db.session() as s:
        row = s.get(Order, stored.order_pk)
        assert (row.channel, row.order_id, row.status, row.total, row.freight, row.phone_tail) == (
            "douyin", "A1", "awaiting_shipment", 5600, 600, "0000")
        assert (row.source, row.via, row.mapping, row.ruleset, row.ruleset_version) == (
            "douyin", "pull", "douyin", "sources", 3)
        assert row.doc["updated_at"] == "2026-11-11T02:00:00+00:00"
        event = s.scalars(select(OrderEvent)).one()
        payload = s.scalars(select(OrderPayload)).one()
        assert (event.kind, event.revision, event.actor, event.payload_id) == ("created", 1, "pull:douyin", payload.id)
        assert (event.ruleset, event.ruleset_version) == ("sources", 3)
        assert payload.payload == {"order_id": "A1", "raw": True}


def test_newer_version_updates_and_the_timeline_says_what_changed(services) -> None:
    first = _put(services, order_py("A1"), {"v": 1})
    services.clock.advance(30)
    newer = order_py("A1", minutes=5, status="cancelled")
    newer["lines"][0]["qty"] = 2
    stored = _put(services, newer, {"v": 2})
    assert (stored.outcome, stored.order_pk, stored.revision) == ("updated", first.order_pk, 2)
    assert stored.changes == [
        {"path": "lines[0].qty", "from": 1, "to": 2},
        {"path": "status", "from": "awaiting_shipment", "to": "cancelled"},
        {"path": "updated_at", "from": "2026-11-11T02:00:00+00:00", "to": "2026-11-11T02:05:00+00:00"},
    ]
    with services.db.session() as s:
        events = s.scalars(select(OrderEvent).order_by(OrderEvent.id)).all()
        assert [(e.kind, e.revision) for e in events] == [("created", 1), ("updated", 2)]
        assert events[1].changes == stored.changes
        assert events[1].at == services.clock.now()
        payloads = s.scalars(select(OrderPayload).order_by(OrderPayload.id)).all()
        assert [p.payload for p in payloads] == [{"v": 1}, {"v": 2}]
        assert events[1].payload_id == payloads[1].id
        assert s.get(Order, first.order_pk).status == "cancelled"
        assert s.scalars(select(OrderLine.qty)).all() == [2]


def test_equal_version_is_an_idempotent_no_op_that_answers_what_is_stored(services) -> None:
    _put(services, order_py("A1"), {"v": 1})
    before = _counts(services)
    again = _put(services, order_py("A1", status="shipped"), {"v": "other body, same version"})
    assert (again.outcome, again.revision) == ("unchanged", 1)
    assert again.doc["status"] == "awaiting_shipment"
    assert _counts(services) == before


def test_an_older_version_changes_nothing(services) -> None:
    _put(services, order_py("A1", minutes=10, status="shipped"), {"v": 2})
    before = _counts(services)
    old = _put(services, order_py("A1", minutes=0, status="awaiting_shipment"), {"v": 1})
    assert (old.outcome, old.doc["status"]) == ("stale", "shipped")
    assert _counts(services) == before


def test_a_dropped_order_is_kept_with_its_rule_and_a_later_version_keeps_the_mark(services) -> None:
    rule = 'receiver.name == "张三"'
    stored = _put(services, order_py("T1"), dropped=(rule, "标准化:3"))
    assert stored.dropped == (rule, "标准化:3")
    with services.db.session() as s:
        row = s.get(Order, stored.order_pk)
        assert (row.dropped_rule, row.dropped_by) == (rule, "标准化:3")
        assert s.scalars(select(OrderEvent.kind)).all() == ["dropped"]
    undropped = _put(services, order_py("T1", minutes=1), dropped=None)
    assert undropped.outcome == "updated" and undropped.dropped is None
    with services.db.session() as s:
        assert s.scalars(select(OrderEvent.kind).order_by(OrderEvent.id)).all() == ["dropped", "undropped"]


def test_a_batch_answers_per_order_and_takes_two_versions_of_one_order_in_turn(services) -> None:
    items = [Incoming(order_py("B1", minutes=3, status="shipped"), "douyin", "pull"),
             Incoming(order_py("B2"), "douyin", "pull"),
             Incoming(order_py("B1", minutes=1), "douyin", "pull"),
             Incoming(order_py("B1", minutes=3, status="shipped"), "douyin", "pull")]
    out = store_orders(services.db, items, now=services.clock.now())
    assert [o.outcome for o in out] == ["created", "created", "stale", "unchanged"]
    assert _counts(services)[0] == 2
    again = store_orders(services.db, items, now=services.clock.now())
    assert [o.outcome for o in again] == ["unchanged", "unchanged", "stale", "unchanged"]
    assert _counts(services) == (2, 2, 2, 2)


def test_same_payload_resent_with_a_newer_order_version_keeps_one_payload_row(services) -> None:
    _put(services, order_py("C1"), {"same": 1})
    _put(services, order_py("C1", minutes=1), {"same": 1})
    assert _counts(services) == (1, 1, 1, 2)


def test_many_writers_storing_one_order_at_once_leave_one_row_at_the_newest_version(services) -> None:
    """Eight threads, each with its own connection, store versions 0..7 of the same new order at
    the same moment, three times over: one row, no duplicate, no lost update."""
    writers = 8
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def write(minute: int) -> None:
        try:
            barrier.wait()
            for _ in range(3):
                order = order_py("RACE", minutes=minute, status="shipped" if minute == writers - 1 else "paid_hold")
                outcomes.append(_put(services, order, {"minute": minute}).outcome)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(m,)) for m in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert outcomes.count("created") == 1
    with services.db.session() as s:
        rows = s.scalars(select(Order)).all()
        assert len(rows) == 1
        assert rows[0].updated_at == T0 + timedelta(minutes=writers - 1)
        assert rows[0].status == "shipped"
        events = s.scalars(select(OrderEvent).order_by(OrderEvent.id)).all()
        # every stored version is newer than the one before it, and each is one revision
        assert [e.revision for e in events] == list(range(1, len(events) + 1))
        assert rows[0].revision == len(events) == 1 + outcomes.count("updated")
        versions = [e.detail["updated_at"] for e in events]
        assert versions == sorted(versions) and len(set(versions)) == len(versions)
        assert s.scalar(select(func.count()).select_from(OrderLine)) == 1


def _store_in_process(url: str, minute: int, rounds: int, barrier: Any, results: Any) -> None:
    """One writer process: its own engine and connections, storing one version of RACE-P as
    soon as every writer is ready."""
    from engine.storage.db import Database

    db = Database(url)
    try:
        order = order_py("RACE-P", minutes=minute, status="shipped" if minute == 5 else "paid_hold")
        db.ping()  # connected before the start line
        barrier.wait(timeout=120)
        results.put([store_order(db, Incoming(order, "douyin", "pull", {"minute": minute}), now=T0).outcome
                     for _ in range(rounds)])
    finally:
        db.dispose()


def test_writer_processes_storing_one_order_at_once_leave_one_row_at_the_newest_version(services) -> None:
    """Six processes (separate interpreters, separate connections) store versions 0..5 of one new
    order at the same moment: one row, one creation, the newest version wins, revisions count
    the updates."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(6), ctx.Queue()
    procs = [ctx.Process(target=_store_in_process, args=(services.settings.database_url, m, 3, barrier, results))
             for m in range(6)]
    for p in procs:
        p.start()
    outcomes = [o for _ in procs for o in results.get(timeout=180)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert outcomes.count("created") == 1
    with services.db.session() as s:
        rows = s.scalars(select(Order)).all()
        assert len(rows) == 1
        assert (rows[0].updated_at, rows[0].status) == (T0 + timedelta(minutes=5), "shipped")
        assert rows[0].revision == 1 + outcomes.count("updated")
        assert s.scalar(select(func.count()).select_from(OrderEvent)) == rows[0].revision
