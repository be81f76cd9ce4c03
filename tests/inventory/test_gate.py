"""The Redis gate in front of SQL: fast refusals, rebuild, bypass with an alert, reconciler."""

from __future__ import annotations

import socket
import time

import pytest
from sqlalchemy import func, select, text

from engine.inventory.audit import check_invariants
from engine.inventory.domain import InsufficientStock
from engine.inventory.gate import RedisGate
from engine.inventory.models import LedgerEntry
from engine.inventory.reconciler import reconcile_once
from engine.inventory.service import InventoryService, make_gate_client

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def _alerts(inv: InventoryService) -> list[str]:
    with inv.db.session() as s:
        return [str(r[0]) for r in s.execute(text("SELECT payload FROM outbox WHERE topic = 'inventory.alert'"))]


def test_sold_out_crowd_is_answered_by_the_gate_without_sql(gated) -> None:
    gated.adjust("HOT", 2, "inbound")
    gated.reserve("o1", [{"sku_id": "HOT", "qty": 2}])
    with gated.db.session() as s:
        before = s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()
    for i in range(5):
        with pytest.raises(InsufficientStock) as err:
            gated.reserve(f"crowd-{i}", [{"sku_id": "HOT", "qty": 1}])
        assert err.value.gate == "refused"
    with gated.db.session() as s:
        assert s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one() == before
    assert gated.gate.counters() == {"HOT": 0}
    gated.release("o1")
    assert gated.gate.counters() == {"HOT": 2}
    assert gated.reserve("o2", [{"sku_id": "HOT", "qty": 1}]).gate == "passed"


def test_wiped_redis_is_bypassed_then_rebuilt_from_sql(gated) -> None:
    gated.adjust("A", 5, "inbound")
    gated.reserve("o1", [{"sku_id": "A", "qty": 2}])
    gated.gate.wipe()
    out = gated.reserve("o2", [{"sku_id": "A", "qty": 1}])
    assert out.gate == "bypassed"
    assert gated.gate.current_epoch() is not None
    # The rebuild read SQL before the bypassed reservation committed: the gate may show more
    # than SQL (never less) until the reconciler runs.
    assert gated.gate.counters()["A"] >= gated.get("A")["available"] == 2
    reconcile_once(gated)
    assert gated.gate.counters() == {"A": 2}
    assert gated.reserve("o3", [{"sku_id": "A", "qty": 1}]).gate == "passed"
    assert gated.gate.counters() == {"A": 1} and gated.get("A")["available"] == 1
    assert any("gate_bypassed" in a for a in _alerts(gated))


def test_redis_down_sql_alone_decides_and_alerts(services, redis_prefix) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gate = RedisGate(make_gate_client(f"redis://127.0.0.1:{port}/0", timeout=0.2), redis_prefix + "down:")
    inv = InventoryService(services.db, services.clock, gate)
    inv.adjust("A", 2, "inbound")
    assert inv.reserve("o1", [{"sku_id": "A", "qty": 2}]).gate == "bypassed"
    with pytest.raises(InsufficientStock):
        inv.reserve("o2", [{"sku_id": "A", "qty": 1}])
    assert any("gate_bypassed" in a for a in _alerts(inv))
    assert check_invariants(inv.db) == []


def test_reconciler_repairs_drift_and_frees_orphan_holds(gated) -> None:
    gated.adjust("A", 5, "inbound")
    gated.adjust("B", 3, "inbound")
    gated.reserve("o1", [{"sku_id": "A", "qty": 1}])
    gated.gate.client.hset(gated.gate.k_avail, "A", 0)  # drift: false sold out
    assert gated.gate.hold("orphan-1", [type("L", (), {"sku_id": "B", "qty": 2})()]).verdict == "ok"
    assert gated.gate.counters()["B"] == 1
    young = reconcile_once(gated, grace_seconds=3600)
    assert young.ran and young.orphans_freed == []
    assert gated.gate.counters() == {"A": 4, "B": 1}  # the young hold is still counted
    old = reconcile_once(gated, grace_seconds=0)
    assert old.orphans_freed == ["orphan-1"]
    assert gated.gate.counters() == {"A": 4, "B": 3}
    assert gated.gate.holds() == []


def test_reconciler_is_single_instance(gated) -> None:
    lock = gated.gate.client.lock(gated.gate.lock_key("reconcile"), timeout=5)
    assert lock.acquire(blocking=False)
    try:
        assert reconcile_once(gated).refused == "locked"
    finally:
        lock.release()
    assert reconcile_once(gated).ran


def _count_sql_confirmations(inv: InventoryService) -> list[str]:
    """Record the keys the service confirms with SQL after a gate "sold out" (a spy on the
    one indexed read; the read itself still runs)."""
    seen: list[str] = []
    read = inv.store.hot.stored_answer

    def spy(operation: str, key: str):  # type: ignore[no-untyped-def]
        seen.append(key)
        return read(operation, key)

    inv.store.hot.stored_answer = spy  # type: ignore[method-assign]
    return seen


def test_a_new_key_is_refused_by_the_gate_alone_and_a_replay_gets_its_first_answer(gated) -> None:
    gated.adjust("HOT", 2, "inbound")
    first = gated.reserve("o1", [{"sku_id": "HOT", "qty": 2}])
    assert gated.gate.maybe_seen("o1") and not gated.gate.maybe_seen("crowd-0")
    confirmed = _count_sql_confirmations(gated)
    for i in range(20):
        with pytest.raises(InsufficientStock) as err:
            gated.reserve(f"crowd-{i}", [{"sku_id": "HOT", "qty": 1}])
        assert err.value.gate == "refused"
    assert confirmed == []  # 20 sold-out answers, no SQL read
    # The hold marker expired (24 h) or was lost: the filter still knows o1, SQL answers it.
    gated.gate.client.delete(gated.gate.k_hold + "o1")
    again = gated.reserve("o1", [{"sku_id": "HOT", "qty": 2}])
    assert again.replayed and again.body == first.body and again.gate == "deferred"
    assert confirmed == ["o1"]


def test_the_rebuild_fills_the_seen_filter_from_sql(gated) -> None:
    gated.adjust("HOT", 1, "inbound")
    first = gated.reserve("o1", [{"sku_id": "HOT", "qty": 1}])
    gated.gate.wipe()  # Redis lost everything
    assert gated.ensure_gate() is not None
    assert gated.gate.maybe_seen("o1") and gated.gate.seen_upto() > 0
    again = gated.reserve("o1", [{"sku_id": "HOT", "qty": 1}])
    assert again.replayed and again.body == first.body
    with pytest.raises(InsufficientStock):
        gated.reserve("o2", [{"sku_id": "HOT", "qty": 1}])


def test_keys_sql_accepted_while_redis_was_unreachable_are_marked_when_it_answers(gated) -> None:
    from tests.support.fault_proxy import FaultProxy

    url = gated.gate.client.connection_pool.connection_kwargs
    proxy = FaultProxy(url.get("host", "127.0.0.1"), url.get("port", 6379))
    try:
        flaky = RedisGate(make_gate_client(proxy.route(f"redis://{url.get('host', '127.0.0.1')}:{url.get('port', 6379)}/"
                                                       f"{url.get('db', 0)}"), timeout=0.2), gated.gate.prefix)
        inv = InventoryService(gated.db, gated.clock, flaky)
        inv.adjust("HOT", 1, "inbound")
        proxy.set_mode("reset")
        out = inv.reserve("o1", [{"sku_id": "HOT", "qty": 1}])
        assert out.gate == "bypassed" and not gated.gate.maybe_seen("o1")
        proxy.set_mode("pass")  # Redis answers again; this process makes no further call
        deadline = time.monotonic() + 5
        while not gated.gate.maybe_seen("o1") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gated.gate.maybe_seen("o1")  # marked by the background flusher
        gated.gate.client.hset(gated.gate.k_avail, "HOT", 0)  # as the reconciler would set it
        # the client retries on another process: the gate is sold out, but the key is seen
        again = gated.reserve("o1", [{"sku_id": "HOT", "qty": 1}])
        assert again.replayed and again.body == out.body
    finally:
        proxy.stop()


def test_the_reconciler_marks_keys_sql_accepted_without_the_gate(gated) -> None:
    sql_only = InventoryService(gated.db, gated.clock)  # e.g. a process that died before it could mark
    sql_only.adjust("A", 3, "inbound")
    sql_only.reserve("o1", [{"sku_id": "A", "qty": 1}])
    assert not gated.gate.maybe_seen("o1")
    report = reconcile_once(gated)
    assert report.keys_marked == 1 and gated.gate.maybe_seen("o1")
    assert reconcile_once(gated).keys_marked == 1  # the next run re-reads the overlap only


def test_a_lost_seen_filter_sends_sold_out_answers_to_sql_and_asks_for_a_rebuild(gated) -> None:
    gated.adjust("HOT", 1, "inbound")
    first = gated.reserve("o1", [{"sku_id": "HOT", "qty": 1}])
    gated.gate.client.delete(gated.gate.k_seen, gated.gate.k_hold + "o1")  # evicted; the marker expired
    assert gated.gate.needs_rebuild()
    confirmed = _count_sql_confirmations(gated)
    again = gated.reserve("o1", [{"sku_id": "HOT", "qty": 1}])
    assert again.replayed and again.body == first.body and confirmed == ["o1"]
    assert gated.ensure_gate() is not None and gated.gate.maybe_seen("o1")
