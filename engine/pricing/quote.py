"""Pricing one order under a :class:`~engine.pricing.plan.PricingPlan`: the quote body.

This module owns the semantics of the priority tree (pure Python, no I/O):

- Tiers apply in the declared order. Every rule of a tier sees the same state: the line
  amounts and ``current_total`` the earlier tiers left (sequencing is what tiers are for).
  ``pick best`` applies the matching rule with the largest discount (ties: the earlier rule);
  ``pick first`` the first matching rule that gives a discount; ``pick all`` (the default) every
  matching rule, each computed on the tier's entry amounts and applied in declared order, no
  line going below zero.
- ``percent_off``: per eligible line, half up to the fen; a ``cap`` is split over the lines in
  proportion to their discounts. ``fixed_price``: per line, down to ``price × qty`` (never up).
  ``amount_off`` and ``every ¥X off ¥Y`` (``floor(base / X) × Y``, optional cap) are order-level
  amounts split over the eligible lines in proportion to their amounts by largest remainder
  (ties: larger line, then earlier line). An amount above what the eligible lines still hold is
  capped; a line that cannot take its share passes the excess on to the others. The log says
  which.
- Eligible lines: amount above zero, no tag excluded from the tier, and the rule's
  ``on lines where`` holds. ``exclude rule A with rule B``: whichever applies first (in
  application order) wins; the other is skipped.
- Gifts are decided after all tiers on the final ``current_total``; freight comes last, on the
  amount payable for goods.

The quote body is the public contract (``lines``, ``totals``, ``gifts``, ``log``, ``ruleset``).
For the same plan and order it is equal, key order included, so its JSON is byte-identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .freight import charge_freight
from .money import split_capped, split_proportional
from .order_input import PricingOrder, read_order
from .plan import PricingPlan, RulePlan, TierPlan

__all__ = ["RULE_STATUSES", "quote_order", "quote_priced_order"]

APPLIED = "applied"
NOT_CHOSEN = "not_chosen"
NOT_REACHED = "not_reached"
CONDITION_FALSE = "condition_false"
CONFLICT = "conflict"
NO_LINES = "no_eligible_lines"
NO_DISCOUNT = "no_discount"
RULE_STATUSES = (APPLIED, NOT_CHOSEN, NOT_REACHED, CONDITION_FALSE, CONFLICT, NO_LINES,
                 NO_DISCOUNT)


def quote_order(plan: PricingPlan, order: Any, *, with_log: bool = True) -> dict[str, Any]:
    """Check ``order`` (a normalized order dict, money in fen) and price it under ``plan``.

    Raises :class:`~engine.pricing.order_input.OrderInvalid` (field paths) for a bad order.
    """
    return quote_priced_order(plan, read_order(order), with_log=with_log)


class _Offer:
    """What one rule whose condition holds would give in its tier."""

    __slots__ = ("base", "eligible", "inputs", "notes", "outcome", "rule", "shares", "status",
                 "total")

    def __init__(self, rule: RulePlan, outcome: bool | None,
                 inputs: dict[str, Any] | None) -> None:
        self.rule = rule
        self.outcome = outcome
        self.inputs = inputs
        self.status = NO_DISCOUNT
        self.base = 0
        self.total = 0
        self.shares: dict[int, int] | None = None  # None: an order-level amount, not split yet
        self.eligible: Sequence[int] = ()
        self.notes: list[dict[str, Any]] | None = None

    def note(self, note: dict[str, Any]) -> None:
        if self.notes is None:
            self.notes = []
        self.notes.append(note)


class _Pricing:
    """The state of one quote while the tiers run."""

    __slots__ = ("applied", "ctx", "cur", "discounts", "lines", "log", "order", "po", "with_log")

    def __init__(self, po: PricingOrder, with_log: bool) -> None:
        self.po = po
        self.order = po.raw
        self.lines = po.lines
        self.cur = list(po.amounts)
        self.discounts: list[list[dict[str, Any]]] = [[] for _ in po.amounts]
        self.applied: dict[str, str] = {}
        self.with_log = with_log
        self.log: list[Any] = []
        self.ctx: dict[str, Any] = {"order": po.raw, "line_count": len(po.amounts),
                                    "item_count": sum(po.qtys)}


def _evaluate(p: _Pricing, rule: RulePlan, entry: list[int], candidates: list[int],
              room: list[int] | None, offer: _Offer) -> _Offer:
    """What ``rule`` (whose condition holds) gives on the tier's entry amounts. ``candidates``:
    the lines with an amount and no excluded tag; ``room``: what each line can still give
    (None while nothing was taken in this tier)."""
    offer.rule = rule
    lines_where = rule.lines_where
    if lines_where is None:
        eligible = candidates
    else:
        test, lines, ctx = lines_where.test, p.lines, p.ctx
        eligible = [i for i in candidates if test(lines[i], ctx)]
    offer.eligible = eligible
    if not eligible:
        offer.status = NO_LINES
        return offer
    base = 0
    for i in eligible:
        base += entry[i]
    offer.base = base
    kind = rule.kind
    if kind == "percent_off" or kind == "fixed_price":
        _per_line(offer, rule, entry, room, eligible, p.po.qtys, p.po.line_ids)
    else:
        if kind == "amount_off":
            amount = rule.amount
            value = amount.constant  # type: ignore[union-attr]
            if value is None:
                value = amount.value(p.order, p.ctx)  # type: ignore[union-attr]
                if type(value) is not int or value < 0:
                    shown = value if value is None or type(value) in (int, str, bool) else str(value)
                    offer.note({"note": "amount_not_money", "value": shown})
                    value = 0
        else:  # every_off
            value = (base // rule.every) * rule.off
            cap = rule.cap
            if cap is not None and value > cap:
                offer.note({"note": "cap", "asked": value, "cap": cap})
                value = cap
        available = base
        if room is not None:
            available = 0
            for i in eligible:
                available += room[i]
        if value > available:
            offer.note({"note": "capped_to_lines", "asked": value, "available": available})
            value = available
        offer.total = value
    if offer.total:
        offer.status = APPLIED
    return offer


def _per_line(offer: _Offer, rule: RulePlan, entry: list[int], room: list[int] | None,
              eligible: list[int], qtys: tuple[int, ...], line_ids: tuple[str, ...]) -> None:
    """percent_off / fixed_price: each eligible line's own discount, then the cap."""
    shares: dict[int, int] = {}
    total = 0
    if rule.kind == "percent_off":
        pct2 = rule.percent * 2  # percent_of(amount, pct), inlined: half up to the fen
        for i in eligible:
            ask = (entry[i] * pct2 + 10_000) // 20_000
            if ask:
                shares[i] = ask
                total += ask
    else:
        price = rule.price
        for i in eligible:
            ask = entry[i] - price * qtys[i]
            if ask > 0:
                shares[i] = ask
                total += ask
    cap = rule.cap
    if cap is not None and total > cap:
        asks = [0] * len(entry)
        for i, ask in shares.items():
            asks[i] = ask
        shares = split_proportional(cap, list(shares), asks, entry)
        offer.note({"note": "cap", "asked": total, "cap": cap})
        total = cap
    if room is not None:
        for i, ask in list(shares.items()):
            if ask > room[i]:
                offer.note({"note": "line_limit", "line_id": line_ids[i], "asked": ask,
                            "granted": room[i]})
                total -= ask - room[i]
                shares[i] = room[i]
    offer.shares = shares
    offer.total = total


def _split(offer: _Offer, entry: list[int], room: list[int] | None,
           line_ids: tuple[str, ...]) -> dict[int, int]:
    """The per-line shares of an offer (order-level amounts are split only when applied)."""
    if offer.shares is not None:
        return offer.shares
    if room is None:
        shares = split_proportional(offer.total, offer.eligible, entry, entry)
    else:
        shares, moved = split_capped(offer.total, offer.eligible, entry, entry, room)
        for i, excess in moved:
            offer.note({"note": "moved", "line_id": line_ids[i], "amount": excess})
    offer.shares = shares
    return shares


def _run_tier(p: _Pricing, tier_no: int, tier: TierPlan, excluded: list[bool] | None) -> None:
    entry = p.cur[:]
    if excluded is None:
        candidates = [i for i, a in enumerate(entry) if a > 0]
    else:
        candidates = [i for i, a in enumerate(entry) if a > 0 and not excluded[i]]
    order, ctx = p.order, p.ctx
    applied = p.applied  # rules applied so far (for exclusions); pick all adds its own as it goes
    with_log = p.with_log
    log = p.log
    line_ids = p.po.line_ids
    pick_all = tier.pick == "all"
    pick_first = tier.pick == "first"
    room: list[int] | None = None  # pick all: what each line can still give in this tier
    chosen: list[_Offer] = []
    best: _Offer | None = None
    pending: list[tuple[int, _Offer]] = []  # best/first: log slots filled once the choice is known
    for rule in tier.rules:
        if pick_first and best is not None:
            if with_log:
                log.append(_skip_entry(tier_no, rule, NOT_REACHED, None, {},
                                       {"note": "not_reached", "chosen": best.rule.name}))
            continue
        if rule.conflicts:
            blocker = None
            for r in rule.conflicts:
                if r in applied:
                    blocker = r
                    break
            if blocker is not None:
                if with_log:  # the condition is still shown, for the auditor
                    c = rule.when
                    log.append(_skip_entry(
                        tier_no, rule, CONFLICT,
                        bool(c.test(order, ctx)) if c is not None else None,
                        c.inputs(order, ctx) if c is not None else {},
                        {"note": "conflict", "with": blocker}))
                continue
        when = rule.when
        if when is not None:
            holds = when.test(order, ctx)
            inputs = when.inputs(order, ctx) if with_log else None
            if not holds:
                if with_log:  # the most common entry: the rule's template, inputs filled in
                    false_entry = rule.log_false.copy()
                    false_entry["inputs"] = inputs
                    log.append(false_entry)
                continue
            offer = _Offer(rule, True, inputs)
        else:
            offer = _Offer(rule, None, None)
        _evaluate(p, rule, entry, candidates, room, offer)
        if pick_all:
            if offer.status == APPLIED:
                shares = _split(offer, entry, room, line_ids)
                if room is None:
                    room = entry[:]
                    applied = dict(applied)
                for i, amount in shares.items():
                    room[i] -= amount
                applied[rule.name] = tier.name
                chosen.append(offer)
            if with_log:
                log.append(_rule_entry(tier_no, offer, line_ids))
        else:
            if offer.status == APPLIED and (best is None or offer.total > best.total):
                best = offer
            if with_log:
                pending.append((len(log), offer))
                log.append(None)
    if best is not None:
        _split(best, entry, None, line_ids)
        chosen.append(best)
    for k, offer in pending:
        if offer.status == APPLIED and offer is not best:
            offer.status = NOT_CHOSEN
            offer.note({"note": "not_chosen", "chosen": best.rule.name})  # type: ignore[union-attr]
        log[k] = _rule_entry(tier_no, offer, line_ids)
    applied = p.applied
    cur = p.cur
    discounts = p.discounts
    tier_name = tier.name
    for offer in chosen:
        rule = offer.rule
        applied[rule.name] = tier_name
        for i, amount in offer.shares.items():  # type: ignore[union-attr]
            if amount:
                cur[i] -= amount
                discounts[i].append({"rule": rule.name, "tier": tier_name, "amount": amount,
                                     "funded_by": rule.funded_by})


def quote_priced_order(plan: PricingPlan, po: PricingOrder, *,
                       with_log: bool = True) -> dict[str, Any]:
    """Price an already checked order (see :func:`quote_order`)."""
    p = _Pricing(po, with_log)
    ctx = p.ctx
    log = p.log
    original = po.amounts
    line_ids = po.line_ids
    n = len(original)
    original_total = sum(original)
    ctx["original_total"] = original_total
    if with_log:
        log.append({"event": "start", "promotion": plan.promotion, "title": plan.title,
                    "ruleset": plan.ruleset_dict.copy(), "original_total": original_total,
                    "lines": n})
    cur = p.cur
    for tier_no, tier in enumerate(plan.tiers, 1):
        entry_total = sum(cur)
        ctx["current_total"] = entry_total
        excluded: list[bool] | None = None
        if tier.excluded_tags:
            tags = tier.excluded_tags
            excluded = [not tags.isdisjoint(line_tags) for line_tags in po.tags]
            if True not in excluded:
                excluded = None
        if with_log:
            head: dict[str, Any] = {"event": "tier", "tier_no": tier_no, "tier": tier.name,
                                    "title": tier.title, "pick": tier.pick,
                                    "current_total": entry_total}
            if excluded is not None:
                head["excluded_lines"] = [
                    {"line_id": line_ids[i], "tags": [t for t in po.tags[i] if t in tier.excluded_tags]}
                    for i in range(n) if excluded[i]]
            log.append(head)
        _run_tier(p, tier_no, tier, excluded)

    goods = sum(cur)
    ctx["current_total"] = goods
    order = p.order
    gifts: list[dict[str, Any]] = []
    gift_lines: list[dict[str, Any]] = []
    for gift in plan.gifts:
        when = gift.when
        holds = True if when is None else bool(when.test(order, ctx))
        if holds:
            for sku, qty in gift.items:
                gifts.append({"sku_id": sku, "qty": qty, "rule": gift.name})
                gift_lines.append({"line_id": f"gift:{gift.name}:{sku}", "sku_id": sku,
                                   "qty": qty, "original": 0, "discounts": [], "payable": 0,
                                   "gift": True})
        if with_log:
            log.append({"event": "gift", "gift": gift.name,
                        "condition": when.text if when is not None else None,
                        "inputs": when.inputs(order, ctx) if when is not None else {},
                        "outcome": holds,
                        "items": [{"sku_id": s, "qty": q} for s, q in gift.items] if holds else []})

    freight = charge_freight(plan.freight, order, goods, log if with_log else None)

    discounts = p.discounts
    sku_ids, qtys = po.sku_ids, po.qtys
    lines_out = [{"line_id": li, "sku_id": sk, "qty": qt, "original": og, "discounts": ds,
                  "payable": pa, "gift": False}
                 for li, sk, qt, og, ds, pa in zip(line_ids, sku_ids, qtys, original, discounts, cur)]
    if gift_lines:
        lines_out.extend(gift_lines)
    platform = 0
    for line_discounts in discounts:
        for d in line_discounts:
            if d["funded_by"] == "platform":
                platform += d["amount"]
    discount_total = original_total - goods
    totals = {"original": original_total, "discount": discount_total, "goods": goods,
              "freight": freight, "payable": goods + freight,
              "merchant_funded": discount_total - platform, "platform_funded": platform}
    if with_log:
        log.append({"event": "total", **totals})
    return {"lines": lines_out, "totals": totals, "gifts": gifts, "log": log,
            "ruleset": plan.ruleset_dict.copy(), "promotion": plan.promotion}


def _skip_entry(tier_no: int, rule: RulePlan, status: str, outcome: bool | None,
                inputs: dict[str, Any] | None, note: dict[str, Any] | None) -> dict[str, Any]:
    """The log entry of a rule that gave nothing: condition false, conflict, not reached."""
    when = rule.when
    entry: dict[str, Any] = {
        "event": "rule", "tier_no": tier_no, "tier": rule.tier, "rule": rule.name,
        "condition": when.text if when is not None else None,
        "inputs": inputs if inputs is not None else {}, "outcome": outcome, "status": status}
    if note is not None:
        entry["notes"] = [note]
    return entry


def _rule_entry(tier_no: int, offer: _Offer, line_ids: tuple[str, ...]) -> dict[str, Any]:
    """The log entry of a rule whose condition held: its base, what it offered or gave, the
    split over the lines when applied, and notes (caps, moved fen, why not chosen)."""
    rule = offer.rule
    when = rule.when
    inputs = offer.inputs
    entry: dict[str, Any] = {
        "event": "rule", "tier_no": tier_no, "tier": rule.tier, "rule": rule.name,
        "condition": when.text if when is not None else None,
        "inputs": inputs if inputs is not None else {}, "outcome": offer.outcome,
        "status": offer.status, "kind": rule.kind, "base": offer.base}
    if offer.status == APPLIED:
        entry["discount"] = offer.total
        entry["funded_by"] = rule.funded_by
        entry["split"] = {line_ids[i]: a for i, a in offer.shares.items() if a}  # type: ignore[union-attr]
    else:
        entry["offer"] = offer.total
    if rule.lines_where is not None:
        entry["lines_where"] = rule.lines_where.text
        entry["eligible"] = list(map(line_ids.__getitem__, offer.eligible))
    if offer.notes:
        entry["notes"] = offer.notes
    return entry
