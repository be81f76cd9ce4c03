"""Plain-Python inventory vocabulary: order lines, merging per SKU, answers and errors.

No SQLAlchemy, Redis or Flask here; the SQL store and the Redis gate both use these shapes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine import values
from engine.errors import Conflict, NotFound, Unprocessable

# A line moves reserved → shipped | released | closed (part shipped, rest released); never back.
LINE_TRANSITIONS: dict[str, frozenset[str]] = {
    "reserved": frozenset({"reserved", "shipped", "released", "closed"}),
    "shipped": frozenset({"shipped"}),
    "released": frozenset({"released"}),
    "closed": frozenset({"closed"}),
}


@dataclass(frozen=True)
class OrderLine:
    sku_id: str
    qty: int


# The most units one order may reserve of one SKU: the one quantity bound (engine.values).
MAX_QTY = values.MAX_QTY


def merge_lines(lines: Iterable[OrderLine | Mapping[str, Any]]) -> list[OrderLine]:
    """Sum quantities per SKU and sort by SKU (one conditional update per SKU, fixed lock order).

    Raises :class:`InvalidLines` for an empty order, a blank SKU, or a quantity below 1 or
    (per line, or per SKU once merged) above :data:`MAX_QTY`.
    """
    merged: dict[str, int] = {}
    problems: list[dict[str, Any]] = []
    count = 0
    for i, raw in enumerate(lines):
        count += 1
        sku = raw.sku_id if isinstance(raw, OrderLine) else raw.get("sku_id")
        qty = raw.qty if isinstance(raw, OrderLine) else raw.get("qty")
        if not isinstance(sku, str) or not sku.strip():
            problems.append({"path": f"/lines/{i}/sku_id", "message": "sku_id must be a non-empty string"})
            continue
        if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= MAX_QTY:
            problems.append({"path": f"/lines/{i}/qty", "message": f"qty must be a whole number from 1 to {MAX_QTY:,}"})
            continue
        merged[sku] = merged.get(sku, 0) + qty
        if merged[sku] > MAX_QTY:
            problems.append({"path": f"/lines/{i}/qty",
                             "message": f"the lines of SKU {sku} add up to more than {MAX_QTY:,}"})
    if count == 0:
        problems.append({"path": "/lines", "message": "an order needs at least one line"})
    if problems:
        raise InvalidLines("order lines are invalid", details=problems)
    return [OrderLine(sku, merged[sku]) for sku in sorted(merged)]


def available_of(total: int, reserved: int, safety: int) -> int:
    """What may still be reserved: total less reserved less the safety stock, never below 0."""
    return max(0, total - reserved - safety)


def next_line_status(qty: int, shipped: int, released: int) -> str:
    if shipped + released < qty:
        return "reserved"
    if released == 0:
        return "shipped"
    if shipped == 0:
        return "released"
    return "closed"


def adjustment_key(actor: str, sku_id: str, delta: int, reason: str) -> str:
    """The idempotency key of an adjustment sent without one, derived from what it says: who
    moves which SKU by how much, and why. The same request sent again (a client's retry) is then
    a replay that returns the first answer (``replayed: true``) and moves nothing; a second real
    adjustment of the same size names its own reason (the delivery note, the stocktake) or
    sends its own ``Idempotency-Key``."""
    said = json.dumps([actor, sku_id, delta, reason], ensure_ascii=False, separators=(",", ":"))
    return "adjust:" + hashlib.sha256(said.encode("utf-8")).hexdigest()[:32]


@dataclass
class Outcome:
    """The answer to one operation; ``replayed`` is set when the key had been seen before."""

    operation: str
    key: str
    body: dict[str, Any]
    replayed: bool = False
    gate: str = "none"  # none | passed | bypassed | refused
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = dict(self.body)
        out["replayed"] = self.replayed
        out["gate"] = self.gate
        return out


class InvalidLines(Unprocessable):
    """Order lines that cannot be reserved or shipped (422 ``invalid``, a path per problem)."""


class InsufficientStock(Conflict):
    """A reservation refused: nothing was changed. ``short`` names each short SKU."""

    code = "insufficient_stock"

    def __init__(self, short: list[dict[str, Any]], *, gate: str = "none") -> None:
        names = ", ".join(s["sku_id"] for s in short)
        super().__init__(
            f"not enough stock for {names}",
            details=[{"path": "/lines", "sku_id": s["sku_id"], "requested": s["requested"],
                      "available": s.get("available")} for s in short],
        )
        self.short = short
        self.gate = gate


class UnknownSku(NotFound):
    """No stock row for the SKU."""


class UnknownOrder(NotFound):
    """No reservation for the order."""


class ShipRefused(Conflict):
    """Shipping more than is still reserved on an order's line."""

    code = "ship_exceeds_reserved"


class AdjustRefused(Conflict):
    """An adjustment that would leave total below reserved or below zero."""

    code = "adjust_below_reserved"


class StaleFence(Conflict):
    """A background job's write with a fencing token older than one that already wrote."""

    code = "stale_fence"
