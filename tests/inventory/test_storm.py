"""Storm on each back end: 8 processes, 20 hot SKUs with 1–5 units, partial ships, cancels,
10% replays, until stock runs out. Checks I1–I5 and the history bounds."""

from __future__ import annotations

import pytest

from engine.inventory.audit import check_invariants
from engine.inventory.reconciler import reconcile_once
from tests.inventory.storm import StormConfig, check_storm, run_storm, seed_stock

pytestmark = pytest.mark.slow


def test_storm_never_oversells(inventory, services, tmp_path) -> None:
    gate = inventory.gate
    cfg = StormConfig(database_url=services.settings.database_url,
                      redis_url=services.settings.redis_url if gate is not None else None,
                      redis_prefix=gate.prefix if gate is not None else "", out_dir=tmp_path, seconds=20)
    initial = seed_stock(inventory, cfg)
    procs = run_storm(cfg)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    problems, ops = check_storm(services.db, cfg, initial)
    assert problems == []
    assert ops > 100
    assert check_invariants(services.db) == []
    if gate is not None:
        reconcile_once(inventory, grace_seconds=0)
        sql = {sku: inventory.get(sku)["available"] for sku in initial}
        assert gate.counters() == sql
