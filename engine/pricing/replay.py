"""会有什么变化: stored orders quoted with a draft's promotion and with the published one, and the
orders whose payable would differ, with the total in exact fen.

:func:`compare_prices` is pure (plans and order documents in, a :class:`PriceComparison` out);
the stored orders come from :func:`engine.orders.samples.recent_order_docs`. Only the price is
compared; flags, holds and ticket paths join once the order pipeline produces them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .order_input import OrderInvalid, read_order
from .plan import PricingPlan
from .quote import quote_priced_order

__all__ = ["PriceChange", "PriceComparison", "compare_prices", "yuan_grouped"]


def yuan_grouped(fen: int) -> str:
    """120450 → ``¥1,204.50``; −120450 → ``-¥1,204.50`` (thousands grouped, two decimals)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


@dataclass(frozen=True)
class PriceChange:
    """One order whose payable differs: ``delta`` = draft − published (fen)."""

    channel: str
    order_id: str
    published: int
    draft: int

    @property
    def delta(self) -> int:
        return self.draft - self.published


@dataclass(frozen=True)
class PriceComparison:
    examined: int
    changes: list[PriceChange] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (order_id, why) not priceable

    @property
    def total_delta(self) -> int:
        return sum(c.delta for c in self.changes)

    def summary(self) -> str:
        """``312 单优惠变化，合计 -¥1,204.50``."""
        return f"{len(self.changes)} 单优惠变化，合计 {yuan_grouped(self.total_delta)}"


def compare_prices(orders: Iterable[tuple[str, str, Mapping[str, Any]]], draft: PricingPlan,
                   published: PricingPlan) -> PriceComparison:
    """Quote each ``(channel, order_id, order document)`` with both plans; keep those whose
    payable differs. An order the pricing engine cannot read is listed in ``skipped``."""
    examined = 0
    changes: list[PriceChange] = []
    skipped: list[tuple[str, str]] = []
    for channel, order_id, doc in orders:
        examined += 1
        try:
            po = read_order(dict(doc))
        except OrderInvalid as err:
            skipped.append((order_id, err.message))
            continue
        old = quote_priced_order(published, po, with_log=False)["totals"]["payable"]
        new = quote_priced_order(draft, po, with_log=False)["totals"]["payable"]
        if old != new:
            changes.append(PriceChange(channel, order_id, int(old), int(new)))
    return PriceComparison(examined, changes, skipped)
