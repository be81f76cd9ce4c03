"""What the price stage writes into an order's lines, and how it outlives a newer version.

Pure functions over the order's JSON form (no I/O):

- :func:`gift_line`: a gift the published promotion gives (``gift "满399赠丝巾" … { add sku
  "GIFT-SCARF" qty 1 }``) as an order line at price 0, marked ``"gift": true`` with the rule
  that gave it. Only the engine writes that mark (the order schema of ``POST /orders`` and the
  mappings cannot), so a line carrying it is always one the price stage added.
- :func:`carry_priced_lines`: a newer version of an order comes from the platform without what
  the price stage added. The store calls this before it rewrites the lines, so the gift lines
  (reserved and shipped like the rest) and the paid shares the stage computed (a PDD line's
  share, an own-channel line's quoted price) survive: gift lines missing from the new version
  are appended, and a line without ``paid_amount`` takes the one stored for the same line
  (same ``line_id``, SKU, quantity and amount).

It decides no price (see :mod:`engine.orders.order_pricing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["GIFT_MARK", "carry_priced_lines", "gift_line", "is_gift", "pricing_input"]

GIFT_MARK = "gift"


def is_gift(line: Mapping[str, Any]) -> bool:
    """Whether ``line`` is a gift line the price stage added."""
    return line.get(GIFT_MARK) is True


def gift_line(sku_id: str, qty: int, rule: str) -> dict[str, Any]:
    """The order line of one gift (JSON form): price 0, marked as the rule's gift."""
    return {"line_id": f"gift:{rule}:{sku_id}", "sku_id": sku_id, "title": f"赠品（{rule}）", "qty": qty,
            "unit_price": 0, "amount": 0, "paid_amount": 0, GIFT_MARK: True, "gift_rule": rule}


def _same_line(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in ("line_id", "sku_id", "qty", "unit_price", "amount"))


def carry_priced_lines(old_doc: Mapping[str, Any] | None, new_doc: dict[str, Any]) -> dict[str, Any]:
    """``new_doc`` with the stored version's gift lines and computed paid shares carried over
    (see the module); ``new_doc`` itself when there is nothing to carry."""
    old_lines = [ln for ln in (old_doc or {}).get("lines") or () if isinstance(ln, Mapping)]
    if not old_lines:
        return new_doc
    new_lines = [ln for ln in new_doc.get("lines") or () if isinstance(ln, Mapping)]
    gifts = [dict(ln) for ln in old_lines if is_gift(ln)]
    carried: list[dict[str, Any]] = []
    changed = False
    by_id = {ln.get("line_id"): ln for ln in old_lines if not is_gift(ln) and ln.get("line_id") is not None}
    for line in new_lines:
        out = dict(line)
        if out.get("paid_amount") is None:
            old = by_id.get(out.get("line_id"))
            if old is not None and old.get("paid_amount") is not None and _same_line(old, out):
                out["paid_amount"] = old["paid_amount"]
                changed = True
        carried.append(out)
    present = {ln.get("line_id") for ln in new_lines if is_gift(ln)}
    missing = [g for g in gifts if g.get("line_id") not in present]
    if not changed and not missing:
        return new_doc
    return {**new_doc, "lines": carried + missing}


def pricing_input(doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The order as pricing reads it (the gift lines the stage added left out, each line with a
    text ``line_id``) and the positions in ``doc["lines"]`` of the lines priced."""
    lines: list[dict[str, Any]] = []
    positions: list[int] = []
    for pos, line in enumerate(doc.get("lines") or ()):
        if not isinstance(line, Mapping) or is_gift(line):
            continue
        out = dict(line)
        line_id = out.get("line_id")
        out["line_id"] = str(line_id) if line_id not in (None, "") else f"#{pos + 1}"
        lines.append(out)
        positions.append(pos)
    return {**doc, "lines": lines}, positions
