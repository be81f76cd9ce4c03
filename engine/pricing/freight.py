"""Freight, charged last on the amount payable for goods after every discount.

This module owns one rule: a freight template's base fee, waived when the goods total reaches
its free-shipping threshold; a region override (matched by the receiver's province prefix, so
新疆 matches 新疆维吾尔自治区) replaces both, and a region without its own ``free over`` never
ships free. No province (or no match): the template's own rule.
"""

from __future__ import annotations

from typing import Any

from .plan import FreightPlan

__all__ = ["charge_freight"]


def charge_freight(template: FreightPlan | None, order: dict[str, Any], goods: int,
                   log: list[Any] | None) -> int:
    """Freight in fen for ``goods`` fen shipped to ``order``'s receiver; appends the ``freight``
    log entry when ``log`` is given. No template: no freight (and no entry)."""
    if template is None:
        return 0
    receiver = order.get("receiver")
    province = receiver.get("province") if type(receiver) is dict else None
    province = province if type(province) is str else ""
    base, free_over, matched = template.base, template.free_over, None
    if province:
        for region in template.regions:
            if province.startswith(region.regions):  # str.startswith takes a tuple of prefixes
                matched = region
                base, free_over = region.base, region.free_over
                break
    free = free_over is not None and goods >= free_over
    freight = 0 if free else base
    if log is not None:
        log.append({"event": "freight", "template": template.name, "province": province or None,
                    "region": list(matched.regions) if matched is not None else None,
                    "base": base, "free_over": free_over, "goods": goods, "free": free,
                    "freight": freight})
    return freight
