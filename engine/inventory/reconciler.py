"""The reconciler: compares the Redis gate with SQL and repairs drift, single-instance.

One run: take the lock and a fencing token; rebuild when the epoch is gone or Redis restarted;
mark in the gate's seen-keys filter the reservation keys SQL accepted since the last run (keys
accepted while Redis could not be reached, by a process that died before it could mark them);
settle pending holds (committed in SQL → commit; older than ``grace`` with no SQL record →
orphan, freed); then set each counter to SQL's availability minus the still-pending holds, in
one Lua script that refuses a stale epoch or token; record the run in SQL through the fence
and raise a drift alert when anything was repaired.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from engine.inventory.fencing import check_fence, newest_token, single_instance
from engine.inventory.service import InventoryService
from engine.logs import get_logger

log = get_logger(__name__)

JOB = "inventory.reconcile"
# Request ids are taken at insert (refused claims use some up too) and committed out of
# order: re-read this many ids back.
SEEN_OVERLAP = 5000


@dataclass
class ReconcileReport:
    ran: bool
    token: int = 0
    rebuilt: bool = False
    orphans_freed: list[str] = field(default_factory=list)
    holds_committed: list[str] = field(default_factory=list)
    keys_marked: int = 0
    drift: list[dict[str, Any]] = field(default_factory=list)
    refused: str = ""


def reconcile_once(inventory: InventoryService, *, grace_seconds: float = 30.0,
                   lease_seconds: float = 60.0) -> ReconcileReport:
    gate = inventory.gate
    if gate is None:
        return ReconcileReport(ran=False, refused="no_gate")
    client = gate.client
    with single_instance(client, gate.lock_key("reconcile"), gate.fence_key("reconcile"), JOB,
                         lease_seconds=lease_seconds, floor=newest_token(inventory.db, JOB)) as run:
        if run is None:
            return ReconcileReport(ran=False, refused="locked")
        report = ReconcileReport(ran=True, token=run.token)
        if gate.needs_rebuild():
            report.rebuilt = inventory.ensure_gate() is not None
        epoch = gate.current_epoch()
        if epoch is None:
            report.refused = "no_epoch"
            return report
        report.keys_marked = gate.catch_up_seen(inventory.store.reserve_keys_after, overlap=SEEN_OVERLAP)
        now_ms = time.time() * 1000
        for key, hold in gate.holds():
            if hold.get("state") != "pending":
                continue
            if inventory.store.answer_for("reserve", key) is not None:
                gate.commit_hold(key)
                report.holds_committed.append(key)
            elif hold.get("epoch") != epoch or now_ms - float(hold.get("at", 0)) > grace_seconds * 1000:
                gate.release_hold(key)
                report.orphans_freed.append(key)
        available = inventory.store.all_available()
        argv: list[Any] = [epoch, run.token, int(now_ms), int(grace_seconds * 1000)]
        for sku, value in sorted(available.items()):
            argv += [sku, value]
        result = gate.reconcile_script(keys=[gate.k_avail, gate.k_epoch, gate.k_holds,
                                             gate.fence_key("reconcile"), gate.k_pend], args=argv)
        if result[0] != "ok":
            report.refused = str(result[0])
            return report
        report.drift = [{"sku_id": result[i], "redis": result[i + 1], "sql": result[i + 2]}
                        for i in range(1, len(result), 3)]
        with inventory.db.transaction() as s:
            check_fence(s, JOB, run.token, inventory.clock.now())
        if report.drift or report.orphans_freed:
            inventory.raise_alert("gate_drift_repaired", {"skus": [d["sku_id"] for d in report.drift][:50],
                                                          "orphans": len(report.orphans_freed)})
        return report
