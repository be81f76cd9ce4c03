"""A promotion prepared once for pricing many orders: the :class:`PricingPlan`.

This module owns turning a ``dsl.model.PromotionDecl`` into plain, fast records: tiers in
application order with their pick mode and the tags excluded from them, rules with compiled
conditions and filters and their funder, gifts, the freight template, the rule conflicts, and
the identity of the ruleset (name, version, checksum) that every quote reports. It refuses
promotions the engine cannot price (unknown tier in ``order`` or in an exclusion, duplicate
rule names, unknown pick mode or funder) with :class:`PlanError`. It does not price orders
(see :mod:`engine.pricing.quote`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from dsl import model as m

from .conditions import (
    Condition,
    LineFilter,
    MoneyExpr,
    PlanError,
    compile_condition,
    compile_line_filter,
    compile_money,
)

__all__ = [
    "FUNDERS",
    "PICK_MODES",
    "FreightPlan",
    "GiftPlan",
    "PricingPlan",
    "RegionPlan",
    "RulePlan",
    "RulesetRef",
    "TierPlan",
    "checksum_of",
    "prepare_plan",
]

PICK_MODES = ("best", "first", "all")
FUNDERS = {"merchant": "merchant", "platform": "platform", "商家": "merchant", "平台": "platform"}
DEFAULT_FUNDER = "merchant"


def checksum_of(content: str) -> str:
    """The checksum reported for rules given as text (a dry run): ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class RulesetRef:
    """Which ruleset produced a quote. ``version`` is None for a dry run of unpublished text."""

    name: str
    version: int | None
    checksum: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "checksum": self.checksum}


@dataclass(frozen=True, slots=True)
class RulePlan:
    """One rule, ready to evaluate. ``kind`` is percent_off | amount_off | every_off |
    fixed_price; only the parameters of that kind are set."""

    name: str
    tier: str
    kind: str
    funded_by: str
    tier_no: int
    when: Condition | None
    lines_where: LineFilter | None
    conflicts: frozenset[str]
    percent: int = 0
    cap: int | None = None
    amount: MoneyExpr | None = None
    every: int = 0
    off: int = 0
    price: int = 0
    # the audit log entry of this rule when its condition does not hold, prepared once and
    # copied per quote (only ``inputs`` changes; key order is the log's)
    log_false: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.log_false.update({"event": "rule", "tier_no": self.tier_no, "tier": self.tier,
                               "rule": self.name,
                               "condition": self.when.text if self.when is not None else None,
                               "inputs": None, "outcome": False, "status": "condition_false"})


@dataclass(frozen=True, slots=True)
class TierPlan:
    name: str
    title: str
    pick: str
    excluded_tags: frozenset[str]
    rules: tuple[RulePlan, ...]


@dataclass(frozen=True, slots=True)
class GiftPlan:
    name: str
    when: Condition | None
    items: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class RegionPlan:
    regions: tuple[str, ...]
    base: int
    free_over: int | None


@dataclass(frozen=True, slots=True)
class FreightPlan:
    """Freight on the amount payable after discounts: ``base``, free when that amount reaches
    ``free_over``; a region override (matched by province prefix) replaces both — a region
    without its own ``free over`` is never free."""

    name: str
    base: int
    free_over: int | None
    regions: tuple[RegionPlan, ...]


@dataclass(frozen=True, slots=True)
class PricingPlan:
    """Everything needed to price an order under one promotion of one ruleset version."""

    promotion: str
    title: str
    tiers: tuple[TierPlan, ...]
    gifts: tuple[GiftPlan, ...]
    freight: FreightPlan | None
    ruleset: RulesetRef
    ruleset_dict: dict[str, Any] = field(default_factory=dict, compare=False)
    # the declared tolerance of the price check (``price_check``): (fen, basis points), either
    # may be None; None when the promotion declares none
    tolerance: tuple[int | None, int | None] | None = None


def _funder(value: str | None, default: str, where: str, node: m.Node) -> str:
    if value is None:
        return default
    funder = FUNDERS.get(value)
    if funder is None:
        raise PlanError(f"funded by must be merchant or platform, got {value!r}", where=where,
                        line=node.line, col=node.col)
    return funder


def _rule_plan(rule: m.Rule, tier: m.Tier, tier_no: int, tier_funder: str,
               conflicts: dict[str, set[str]]) -> RulePlan:
    where = f"tier {tier.name} / rule {rule.name}"
    d = rule.discount
    common: dict[str, Any] = {
        "name": rule.name, "tier": tier.name, "kind": d.kind,
        "funded_by": _funder(rule.funded_by, tier_funder, where, rule), "tier_no": tier_no,
        "when": compile_condition(rule.when, where) if rule.when is not None else None,
        "lines_where": (compile_line_filter(d.lines_where, where)
                        if d.lines_where is not None else None),
        "conflicts": frozenset(conflicts.get(rule.name, ())),
    }
    if isinstance(d, (m.AmountOff, m.EveryOff)) and d.split_by not in (None, "amount"):
        raise PlanError(f"split by {d.split_by} is not supported (only: split by amount)",
                        where=where, line=d.line, col=d.col)
    if isinstance(d, m.PercentOff):
        if not 0 <= d.percent <= 10_000:
            raise PlanError("percent_off must be between 0% and 100%", where=where,
                            line=d.line, col=d.col)
        return RulePlan(**common, percent=d.percent, cap=d.cap)
    if isinstance(d, m.AmountOff):
        return RulePlan(**common, amount=compile_money(d.amount, where))
    if isinstance(d, m.EveryOff):
        if d.every <= 0:
            raise PlanError("every ¥X off ¥Y needs X above zero", where=where,
                            line=d.line, col=d.col)
        return RulePlan(**common, every=d.every, off=d.off, cap=d.cap)
    if isinstance(d, m.FixedPrice):
        return RulePlan(**common, price=d.price)
    raise PlanError(f"unknown discount kind {getattr(d, 'kind', d)!r}", where=where)


def prepare_plan(promotion: m.PromotionDecl, ruleset: RulesetRef) -> PricingPlan:
    """Compile ``promotion`` once; the plan is immutable and safe to share across threads."""
    names = [t.name for t in promotion.tiers]
    for name in set(names):
        if names.count(name) > 1:
            tier = next(t for t in promotion.tiers if t.name == name)
            raise PlanError(f"tier {name} is declared twice", line=tier.line, col=tier.col)
    if promotion.order:
        for name in promotion.order:
            if name not in names:
                raise PlanError(f"order names tier {name}, which is not declared "
                                f"(tiers: {', '.join(names)})", where=f"promotion {promotion.name}",
                                line=promotion.line, col=promotion.col)
        if len(set(promotion.order)) != len(promotion.order):
            raise PlanError("order names a tier twice", where=f"promotion {promotion.name}",
                            line=promotion.line, col=promotion.col)
        missing = [n for n in names if n not in promotion.order]
        if missing:
            raise PlanError(f"tiers {', '.join(missing)} are declared but not in order",
                            where=f"promotion {promotion.name}", line=promotion.line,
                            col=promotion.col)
    rule_names: dict[str, m.Rule] = {}
    for tier in promotion.tiers:
        for rule in tier.rules:
            if rule.name in rule_names:
                raise PlanError(f"rule name {rule.name!r} is used twice (rules are named in every "
                                "discount and in the log, so names must be unique)",
                                line=rule.line, col=rule.col)
            rule_names[rule.name] = rule

    excluded: dict[str, set[str]] = {}
    conflicts: dict[str, set[str]] = {}
    for ex in promotion.exclusions:
        if isinstance(ex, m.TagExclusion):
            for tier_name in ex.tiers:
                if tier_name not in names:
                    raise PlanError(f"exclude lines tagged {ex.tag!r} names tier {tier_name}, "
                                    "which is not declared", line=ex.line, col=ex.col)
                excluded.setdefault(tier_name, set()).add(ex.tag)
        elif isinstance(ex, m.RuleConflict):
            for a in (ex.first, ex.second):
                if a not in rule_names:
                    raise PlanError(f"exclude rule names {a!r}, which is not declared",
                                    line=ex.line, col=ex.col)
            conflicts.setdefault(ex.first, set()).add(ex.second)
            conflicts.setdefault(ex.second, set()).add(ex.first)

    tiers: list[TierPlan] = []
    for tier in promotion.ordered_tiers:
        pick = tier.pick_mode
        if pick not in PICK_MODES:
            raise PlanError(f"pick must be best, first or all, got {pick!r}",
                            where=f"tier {tier.name}", line=tier.line, col=tier.col)
        tier_funder = _funder(tier.funded_by, DEFAULT_FUNDER, f"tier {tier.name}", tier)
        rules = tuple(_rule_plan(r, tier, len(tiers) + 1, tier_funder, conflicts)
                      for r in tier.rules)
        tiers.append(TierPlan(tier.name, tier.title or tier.name, pick,
                              frozenset(excluded.get(tier.name, ())), rules))

    gifts = tuple(
        GiftPlan(g.name, compile_condition(g.when, f"gift {g.name}") if g.when is not None else None,
                 tuple((i.sku, i.qty) for i in g.items))
        for g in promotion.gifts)
    for g in promotion.gifts:
        for item in g.items:
            if item.qty < 1:
                raise PlanError("gift qty must be at least 1", where=f"gift {g.name}",
                                line=item.line, col=item.col)

    freight = None
    if len(promotion.freight) > 1:
        second = promotion.freight[1]
        raise PlanError("a promotion has at most one freight template", line=second.line,
                        col=second.col, where=f"freight {second.name}")
    if promotion.freight:
        f = promotion.freight[0]
        freight = FreightPlan(f.name, f.base, f.free_over,
                              tuple(RegionPlan(tuple(r.regions), r.base, r.free_over)
                                    for r in f.regions))
    check = promotion.price_check
    return PricingPlan(promotion.name, promotion.title or promotion.name, tuple(tiers), gifts,
                       freight, ruleset, ruleset_dict=ruleset.as_dict(),
                       tolerance=(check.amount, check.percent) if check is not None else None)
