"""Checks a concurrent run's operation histories (JSON lines) against the final SQL record.

Each history line is ``{"type": "invoke"|"ok"|"fail"|"info", "op", "key", "order_id", "lines",
"result"}``; ``info`` — or an ``invoke`` its process never answered (killed) — means the
outcome is unknown (timeout, crash). The checker bounds the
final counters by definite successes plus unknown outcomes, and checks that no SKU ever had
more reserved by successful orders than existed; :func:`check_sold_out` searches a SKU's
history for an order of its calls that justifies every "sold out" (I9). Pure: give it data,
it returns violations.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class FinalLine:
    order_id: str
    sku_id: str
    qty: int
    qty_shipped: int
    qty_released: int


@dataclass
class HistorySummary:
    reserved_ok: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    reserved_unknown: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shipped_ok: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shipped_unknown: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    released_ok: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    ok_reserve_keys: set[str] = field(default_factory=set)
    ship_unbounded: bool = False  # an unknown "ship everything" call: no upper bound on shipped
    operations: int = 0


def read_histories(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Every event of every file; a file's torn last line (its writer was killed) is skipped."""
    events: list[dict[str, Any]] = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            lines = [line for line in fh if line.strip()]
        for i, line in enumerate(lines):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                if i != len(lines) - 1:
                    raise
    return events


def _merge(lines: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for ln in lines:
        out[ln["sku_id"]] += ln["qty"]
    return out


def summarize(events: list[dict[str, Any]]) -> HistorySummary:
    """Count each key once: replays of an acknowledged key add nothing."""
    s = HistorySummary()
    seen_ok: set[tuple[str, str]] = set()
    unknown: dict[tuple[str, str], dict[str, Any]] = {}
    open_calls: dict[Any, dict[str, Any]] = {}  # per process: a call without an answer yet
    for ev in events:
        if ev["type"] == "invoke":
            s.operations += 1
            open_calls[ev.get("proc")] = ev
            continue
        open_calls.pop(ev.get("proc"), None)
        ident = (ev["op"], ev["key"])
        if ev["type"] == "ok" and ident not in seen_ok:
            seen_ok.add(ident)
            unknown.pop(ident, None)
            if ev["op"] == "reserve":
                s.ok_reserve_keys.add(ev["key"])
                for sku, q in _merge(ev["result"]["lines"]).items():
                    s.reserved_ok[sku] += q
            elif ev["op"] == "ship":
                for sku, q in _merge(ev["result"]["shipped"]).items():
                    s.shipped_ok[sku] += q
            elif ev["op"] == "release":
                for sku, q in _merge(ev["result"]["released"]).items():
                    s.released_ok[sku] += q
        elif ev["type"] == "info" and ident not in seen_ok:
            unknown[ident] = ev
    for ev in open_calls.values():  # its process died during the call: the outcome is unknown
        ident = (ev["op"], ev["key"])
        if ident not in seen_ok:
            unknown[ident] = ev
    for (op, _key), ev in unknown.items():
        if op == "reserve":
            for sku, q in _merge(ev["lines"]).items():
                s.reserved_unknown[sku] += q
        elif op == "ship" and ev.get("lines"):
            for sku, q in _merge(ev["lines"]).items():
                s.shipped_unknown[sku] += q
        elif op == "ship":
            s.ship_unbounded = True
    return s


def check_history(events: list[dict[str, Any]], initial: dict[str, int], final_stock: dict[str, tuple[int, int]],
                  final_lines: list[FinalLine], stored_reserve_keys: set[str]) -> list[str]:
    """Violations of: no oversell, bounds of final counters, acknowledged reservations kept."""
    s = summarize(events)
    problems: list[str] = []
    line_qty: dict[str, int] = defaultdict(int)
    line_shipped: dict[str, int] = defaultdict(int)
    line_released: dict[str, int] = defaultdict(int)
    for ln in final_lines:
        line_qty[ln.sku_id] += ln.qty
        line_shipped[ln.sku_id] += ln.qty_shipped
        line_released[ln.sku_id] += ln.qty_released
    for sku, init in initial.items():
        # Cancelled units return to stock and may be sold again; nothing else may be.
        existed = init + line_released[sku]
        if s.reserved_ok[sku] > existed:
            problems.append(f"{sku}: successful reservations {s.reserved_ok[sku]} exceed the {existed} that "
                            f"existed ({init} + {line_released[sku]} cancelled)")
        if not s.reserved_ok[sku] <= line_qty[sku] <= s.reserved_ok[sku] + s.reserved_unknown[sku]:
            problems.append(f"{sku}: reserved lines {line_qty[sku]} outside [{s.reserved_ok[sku]}, "
                            f"{s.reserved_ok[sku] + s.reserved_unknown[sku]}]")
        if s.released_ok[sku] > line_released[sku]:
            problems.append(f"{sku}: acknowledged releases {s.released_ok[sku]} not all in SQL ({line_released[sku]})")
        hi = None if s.ship_unbounded else s.shipped_ok[sku] + s.shipped_unknown[sku]
        if line_shipped[sku] < s.shipped_ok[sku] or (hi is not None and line_shipped[sku] > hi):
            problems.append(f"{sku}: shipped {line_shipped[sku]} below acknowledged {s.shipped_ok[sku]}"
                            + (f" or above {hi}" if hi is not None else ""))
        total, reserved = final_stock.get(sku, (0, 0))
        if total != init - line_shipped[sku]:
            problems.append(f"{sku}: total {total} != {init} - shipped {line_shipped[sku]}")
        if not 0 <= reserved <= total:
            problems.append(f"{sku}: reserved {reserved} outside [0, {total}]")
    missing = s.ok_reserve_keys - stored_reserve_keys
    if missing:
        problems.append(f"acknowledged reservations missing from SQL: {sorted(missing)[:10]}")
    return problems


_SEARCH_BUDGET = 1 << 20


@dataclass(frozen=True)
class _Op:
    start: float
    end: float  # inf for an unknown outcome
    change: int  # added to availability when applied
    need: int  # reserve: needs available >= need; refusal: needs available < need (-need stored)
    optional: bool  # unknown outcome: may or may not have happened
    label: str


def _single_sku_ops(events: list[dict[str, Any]], sku: str) -> list[_Op]:
    """Pair each process's invoke with its answer; keep the calls that touch ``sku`` alone."""
    pending: dict[Any, dict[str, Any]] = {}
    ops: list[_Op] = []
    for ev in sorted(events, key=lambda e: e["t"]):
        who = ev["proc"]
        if ev["type"] == "invoke":
            pending[who] = ev
            continue
        start = pending.pop(who, None)
        if start is None:
            continue
        op = ev["op"]
        lines = _merge(ev.get("lines") or [])
        label = f"{op} {ev['key']} ({ev['type']})"
        if op == "reserve":
            if set(lines) != {sku}:
                continue
            q = lines[sku]
            if ev["type"] == "ok" and not ev.get("replayed"):
                ops.append(_Op(start["t"], ev["t"], -q, q, False, label))
            elif ev["type"] == "fail" and ev.get("code") == "insufficient_stock":
                ops.append(_Op(start["t"], ev["t"], 0, -q, False, label))
            elif ev["type"] == "info":
                ops.append(_Op(start["t"], float("inf"), -q, q, True, label))
        elif op == "release" and ev["type"] == "ok" and not ev.get("replayed"):
            q = _merge(ev["result"]["released"]).get(sku, 0)
            if q:
                ops.append(_Op(start["t"], ev["t"], q, 0, False, label))
        elif op == "adjust" and ev.get("sku_id") == sku and ev["type"] in ("ok", "info") and not ev.get("replayed"):
            d = int(ev["delta"])
            ops.append(_Op(start["t"], ev["t"] if ev["type"] == "ok" else float("inf"), d, max(0, -d),
                           ev["type"] == "info", label))
    return ops


def check_sold_out(events: list[dict[str, Any]], sku: str, initial: int) -> list[str]:
    """I9 for one SKU: a linearization of its single-SKU calls must exist in which every
    accepted reservation fitted and every "sold out" met ``available < qty`` — i.e. each refusal
    saw, at some moment during its call, less than it asked for. Ships leave availability
    alone and are not needed; releases and adjustments move it. Search with memo (Wing–Gong);
    meant for a few hundred calls. Returns a violation or an empty list."""
    ops = _single_sku_ops(events, sku)
    n = len(ops)
    full = (1 << n) - 1
    failed: set[tuple[int, int]] = set()
    budget = [_SEARCH_BUDGET]

    def apply(op: _Op, avail: int) -> int | None:
        if op.need < 0:  # a refusal: no change, needs available < qty
            return avail if avail < -op.need else None
        return avail + op.change if avail >= op.need else None

    def search(done: int, avail: int) -> bool:
        if done == full:
            return True
        if (done, avail) in failed or budget[0] <= 0:
            return False
        budget[0] -= 1
        frontier = min(ops[i].end for i in range(n) if not done >> i & 1)
        for i in range(n):
            if done >> i & 1 or ops[i].start > frontier:
                continue
            after = apply(ops[i], avail)
            if after is not None and search(done | 1 << i, after):
                return True
            if ops[i].optional and search(done | 1 << i, avail):
                return True
        failed.add((done, avail))
        return False

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, n * 4 + 100))
    try:
        ok = search(0, initial)
    finally:
        sys.setrecursionlimit(limit)
    if ok:
        return []
    if budget[0] <= 0:
        return [f"I9 {sku}: search gave up after {_SEARCH_BUDGET} states ({n} calls); shorten the history"]
    return [(f"I9 {sku}: no order of its {n} calls explains every answer (a 'sold out' without a moment of "
            f"available < qty, or a reservation beyond stock)")]
