"""会有什么变化, the price: stored orders quoted with a draft's promotion and with the published
one, and the orders whose payable would differ, with the total in exact fen.

:class:`PriceReplay` is the price comparison of :mod:`engine.rulesets.what_changes` (one order at
a time, so the page can show progress); :func:`compare_prices` runs it over a list at once.
:class:`PriceCheckReplay` compares the 价格异常 tag the price stage would give under each plan
(the promotion's lowest payable and its ``price_check`` tolerance). Pure: plans and order
documents in, comparisons out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.orders.priced_lines import pricing_input
from engine.rulesets.what_changes import ComparisonResult, StoredOrder

from .order_input import OrderInvalid, read_order
from .plan import PricingPlan
from .price_check import PriceCheck, charged_goods, check_price
from .quote import quote_priced_order

__all__ = ["AnomalyChange", "PriceChange", "PriceCheckReplay", "PriceComparison", "PriceReplay", "compare_prices",
           "yuan_grouped"]


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


class PriceReplay:
    """The price comparison: each order quoted by both plans, kept when the payable differs."""

    key = "price"

    def __init__(self, draft: PricingPlan, published: PricingPlan) -> None:
        self.draft = draft
        self.published = published
        self.examined = 0
        self.changes: list[PriceChange] = []
        self.skipped: list[tuple[str, str]] = []

    def add(self, order: StoredOrder) -> None:
        channel, order_id, doc = order
        self.examined += 1
        try:
            po = read_order(dict(doc))
        except OrderInvalid as err:
            self.skipped.append((order_id, err.message))
            return
        old = quote_priced_order(self.published, po, with_log=False)["totals"]["payable"]
        new = quote_priced_order(self.draft, po, with_log=False)["totals"]["payable"]
        if old != new:
            self.changes.append(PriceChange(channel, order_id, int(old), int(new)))

    @property
    def comparison(self) -> PriceComparison:
        return PriceComparison(self.examined, self.changes, self.skipped)

    def result(self, shown: int) -> ComparisonResult:
        found = self.comparison
        return ComparisonResult(
            key=self.key, label="价格", summary=found.summary(), changed=len(found.changes),
            columns=("渠道", "订单号", "已发布应付", "草稿应付", "变化"),
            rows=tuple((c.channel, c.order_id, yuan_grouped(c.published), yuan_grouped(c.draft), yuan_grouped(c.delta))
                       for c in found.changes[:shown]),
            table_label="价格变化的订单", skipped=len(found.skipped), totals={"delta_fen": found.total_delta})


def compare_prices(orders: Iterable[tuple[str, str, Mapping[str, Any]]], draft: PricingPlan,
                   published: PricingPlan) -> PriceComparison:
    """Quote each ``(channel, order_id, order document)`` with both plans; keep those whose
    payable differs. An order the pricing engine cannot read is listed in ``skipped``."""
    replay = PriceReplay(draft, published)
    for order in orders:
        replay.add(order)
    return replay.comparison


@dataclass(frozen=True)
class AnomalyChange:
    """One order tagged 价格异常 under one side and not the other (all money in fen)."""

    channel: str
    order_id: str
    charged: int
    published: PriceCheck
    draft: PriceCheck


class PriceCheckReplay:
    """The 价格异常 comparison: what each order's goods were charged (paid less freight) against
    the lowest goods payable each plan allows, less the tolerance each plan's ``price_check``
    declares — as the pipeline's price stage checks it (its gift lines left out). Kept when the
    tag would be added or removed."""

    key = "price_check"

    def __init__(self, draft: PricingPlan, published: PricingPlan) -> None:
        self.draft = draft
        self.published = published
        self.examined = 0
        self.changes: list[AnomalyChange] = []
        self.skipped = 0

    def add(self, order: StoredOrder) -> None:
        channel, order_id, doc = order
        self.examined += 1
        charged = charged_goods(doc)
        if charged is None:
            self.skipped += 1  # no paid amount: the stage does not check it either
            return
        try:
            po = read_order(pricing_input(doc)[0])
        except OrderInvalid:
            self.skipped += 1
            return
        before = check_price(charged, quote_priced_order(self.published, po, with_log=False)["totals"]["goods"],
                             self.published.tolerance)
        after = check_price(charged, quote_priced_order(self.draft, po, with_log=False)["totals"]["goods"],
                            self.draft.tolerance)
        if before.anomaly != after.anomaly:
            self.changes.append(AnomalyChange(channel, order_id, charged, before, after))

    def totals(self) -> dict[str, int]:
        added = sum(1 for c in self.changes if c.draft.anomaly)
        return {"changed": len(self.changes), "anomaly_added": added, "anomaly_removed": len(self.changes) - added}

    def summary(self) -> str:
        """``5 单价格异常标记变化：新增 3 单，不再标记 2 单``."""
        t = self.totals()
        parts = [f"{label} {t[key]} 单" for key, label in (("anomaly_added", "新增"), ("anomaly_removed", "不再标记"))
                 if t[key]]
        return f"{t['changed']} 单价格异常标记变化" + ("：" + "，".join(parts) if parts else "")

    def result(self, shown: int) -> ComparisonResult:
        def side(c: PriceCheck) -> str:
            return f"最低 {yuan_grouped(c.allowed)}，容差 {yuan_grouped(c.tolerance)}"

        return ComparisonResult(
            key=self.key, label="价格异常", summary=self.summary(), changed=len(self.changes),
            columns=("渠道", "订单号", "实收商品", "已发布版本", "草稿", "变化"),
            rows=tuple((c.channel, c.order_id, yuan_grouped(c.charged), side(c.published), side(c.draft),
                        "新增价格异常" if c.draft.anomaly else "不再标记价格异常") for c in self.changes[:shown]),
            table_label="价格异常标记变化的订单", skipped=self.skipped, totals=self.totals())
