"""The Redis gate in front of SQL: fast refusals, rebuild, bypass with an alert, reconciler."""

from __future__ import annotations

import socket

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
