"""Invariant checks over the SQL record (I1–I3, I6) and over what channels were sent (I10),
used by tests, the storm, the demo and operators.

Reads only; returns human-readable violations (an empty list means the record is sound).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from engine.inventory.domain import LINE_TRANSITIONS, next_line_status
from engine.inventory.models import LedgerEntry, ReservationLine, StockItem
from engine.storage.db import Database


def check_invariants(db: Database) -> list[str]:
    problems: list[str] = []
    with db.snapshot() as s:  # stock, lines and ledger of one moment, though writers go on
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
            held = [item.total_stock, item.reserved_stock, item.version]
            problems.append(f"I3 {sku}: ledger fold {got} != stock {held}")
    return problems


def check_publications(db: Database, pushes: dict[str, list[Any]]) -> list[str]:
    """I10 over what channels were sent: ``pushes[channel]`` lists objects with ``sku_id``,
    ``available`` and ``version`` in the order the channel received them. Each figure must be
    at most ``total - reserved`` at the version it carries (from the ledger), and a SKU's
    versions must never go backwards at a channel."""
    with db.session() as s:
        after = {(e.sku_id, e.version): (e.total_after, e.reserved_after)
                 for e in s.scalars(select(LedgerEntry))}
    problems: list[str] = []
    for channel, sent in pushes.items():
        newest: dict[str, int] = {}
        for push in sent:
            if push.version < newest.get(push.sku_id, 0):
                problems.append(f"I10 {channel} {push.sku_id}: version {push.version} after {newest[push.sku_id]}")
            newest[push.sku_id] = max(push.version, newest.get(push.sku_id, 0))
            state = after.get((push.sku_id, push.version))
            if state is None:
                problems.append(f"I10 {channel} {push.sku_id}: pushed version {push.version} is not in the ledger")
            elif push.available > state[0] - state[1]:
                problems.append(f"I10 {channel} {push.sku_id} v{push.version}: published {push.available} > "
                                f"total {state[0]} - reserved {state[1]}")
    return problems
