"""Invariant checks over the SQL record (I1–I3, I6) used by tests, the storm and operators.

Reads only; returns human-readable violations (an empty list means the record is sound).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from engine.inventory.domain import LINE_TRANSITIONS, next_line_status
from engine.inventory.models import LedgerEntry, ReservationLine, StockItem
from engine.storage.db import Database


def check_invariants(db: Database) -> list[str]:
    problems: list[str] = []
    with db.session() as s:
        stock = {r.sku_id: r for r in s.scalars(select(StockItem))}
        lines = list(s.scalars(select(ReservationLine)))
        ledger = list(s.scalars(select(LedgerEntry).order_by(LedgerEntry.sku_id, LedgerEntry.version)))
    open_by_sku: dict[str, int] = defaultdict(int)
    for ln in lines:
        open_qty = ln.qty - ln.qty_shipped - ln.qty_released
        if open_qty < 0:
            problems.append(f"I6 line {ln.order_id}/{ln.sku_id} has negative open quantity")
        if ln.status != next_line_status(ln.qty, ln.qty_shipped, ln.qty_released) or ln.status not in LINE_TRANSITIONS:
            problems.append(f"I6 line {ln.order_id}/{ln.sku_id} status {ln.status} does not match its counters")
        open_by_sku[ln.sku_id] += max(0, open_qty)
    for sku, item in stock.items():
        if not (0 <= item.reserved_stock <= item.total_stock):
            problems.append(f"I1 {sku}: reserved {item.reserved_stock} total {item.total_stock}")
        if item.reserved_stock != open_by_sku.get(sku, 0):
            problems.append(f"I2 {sku}: reserved {item.reserved_stock} != open lines {open_by_sku.get(sku, 0)}")
    for sku in set(open_by_sku) - set(stock):
        problems.append(f"I2 {sku}: open lines on a SKU with no stock row")
    fold: dict[str, list[int]] = {}
    for entry in ledger:
        total, reserved, version = fold.get(entry.sku_id, [0, 0, 0])
        total += entry.delta_total
        reserved += entry.delta_reserved
        version += 1
        if entry.version != version or entry.total_after != total or entry.reserved_after != reserved:
            problems.append(f"I3 {entry.sku_id} v{entry.version}: ledger fold gives v{version} "
                            f"total {total} reserved {reserved}, row says total {entry.total_after} "
                            f"reserved {entry.reserved_after}")
        fold[entry.sku_id] = [total, reserved, version]
    for sku, item in stock.items():
        got = fold.get(sku, [0, 0, 0])
        if got != [item.total_stock, item.reserved_stock, item.version]:
            problems.append(f"I3 {sku}: ledger fold {got} != stock {[item.total_stock, item.reserved_stock, item.version]}")
    return problems
