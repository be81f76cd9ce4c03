"""``Database.snapshot``: reads that must agree with each other (the stock audit) see one moment
while other transactions commit, on both back ends; without it, PostgreSQL's default gives each
statement its own moment and the audit reported a ledger one version ahead of the stock."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.inventory.audit import check_invariants
from engine.inventory.models import LedgerEntry, StockItem
from engine.inventory.service import inventory_for


def test_a_snapshot_sees_none_of_what_commits_after_its_first_read(services) -> None:
    inv = inventory_for(services)
    inv.adjust("TEA-SNAP", 10, "入库", key="snap-1")
    with services.db.snapshot() as s:
        entries = s.scalar(select(func.count()).select_from(LedgerEntry))
        inv.adjust("TEA-SNAP", 5, "入库", key="snap-2")  # another transaction commits meanwhile
        assert s.scalar(select(StockItem.total_stock).where(StockItem.sku_id == "TEA-SNAP")) == 10
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == entries
    with services.db.session() as s:
        assert s.scalar(select(StockItem.total_stock).where(StockItem.sku_id == "TEA-SNAP")) == 15
    assert check_invariants(services.db) == []
    if inv.gate is not None:
        inv.gate.wipe()
