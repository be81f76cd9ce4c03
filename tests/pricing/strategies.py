"""Hypothesis strategies for pricing: random normalized orders and random valid promotion trees
(built as ``dsl.model`` objects from a fixed menu of conditions and filters)."""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import strategies as st

from dsl import model as m
from dsl import parse_expression
from engine.pricing import PricingPlan, RulesetRef, prepare_plan

CONDITIONS = (
    None,
    "current_total >= ¥300",
    "current_total >= ¥100",
    "current_total < ¥200",
    "original_total >= ¥500",
    'customer.level == "金卡"',
    'customer.level in ["金卡", "银卡"]',
    "order.red_packet > 0",
    'channel == "douyin" and current_total >= ¥50',
    'not (customer.level == "新客")',
)
LINE_FILTERS = (None, 'category != "礼品卡"', 'category == "连衣裙"', '"秒杀" not in tags', "qty >= 2")
CATEGORIES = ("连衣裙", "外套", "礼品卡", "T恤")
LEVELS = (None, "金卡", "银卡", "新客")
PROVINCES = (None, "浙江省", "新疆维吾尔自治区", "西藏自治区")


@cache
def expr(text: str | None) -> m.Expr | None:
    return None if text is None else parse_expression(text)


def money(fen: int) -> m.Literal:
    return m.Literal(fen, m.MONEY)


# --------------------------------------------------------------------------- orders


@st.composite
def order_lines(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 5))
    lines = []
    for i in range(count):
        qty = draw(st.integers(1, 3))
        unit = draw(st.one_of(st.sampled_from([0, 1, 99, 990, 2990, 9950, 19900, 45900]),
                              st.integers(0, 60000)))
        lines.append({"line_id": f"L{i + 1}", "sku_id": f"SKU-{i}", "category": draw(st.sampled_from(CATEGORIES)),
                      "tags": draw(st.sampled_from([[], [], ["秒杀"], ["预售"]])),
                      "qty": qty, "unit_price": unit, "amount": qty * unit})
    return lines


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"order_id": "P-1", "channel": draw(st.sampled_from(["douyin", "taobao"])),
                           "lines": draw(order_lines())}
    level = draw(st.sampled_from(LEVELS))
    if level is not None:
        out["customer"] = {"id": "C", "level": level}
    red_packet = draw(st.sampled_from([None, 0, 300, 500, 1999, 100000]))
    if red_packet is not None:
        out["red_packet"] = red_packet
    province = draw(st.sampled_from(PROVINCES))
    if province is not None:
        out["receiver"] = {"province": province}
    return out


# --------------------------------------------------------------------------- promotions


@st.composite
def discounts(draw: st.DrawFn) -> m.Discount:
    kind = draw(st.sampled_from(["percent_off", "amount_off", "every_off", "fixed_price"]))
    where = expr(draw(st.sampled_from(LINE_FILTERS)))
    if kind == "percent_off":
        return m.PercentOff(draw(st.sampled_from([100, 250, 500, 1000, 1500, 5000, 10000])), where,
                            draw(st.sampled_from([None, None, 1, 1000, 6000])))
    if kind == "amount_off":
        amount: m.Expr = draw(st.one_of(st.sampled_from([1, 500, 1000, 4000, 8000, 50000]).map(money),
                                        st.just(m.Name(("order", "red_packet")))))
        return m.AmountOff(amount, draw(st.sampled_from([None, "amount"])), where)
    if kind == "every_off":
        every = draw(st.sampled_from([10000, 20000, 30000]))
        off = draw(st.sampled_from([1000, 2000, 3000]))
        cap = draw(st.sampled_from([None, off, off * 3]))
        return m.EveryOff(every, off, cap, "amount", where)
    return m.FixedPrice(draw(st.sampled_from([0, 100, 9900, 19900])), where)


@st.composite
def promotions(draw: st.DrawFn) -> m.PromotionDecl:
    tier_count = draw(st.integers(1, 3))
    tiers = []
    rule_names: list[str] = []
    for t in range(tier_count):
        rules = []
        for r in range(draw(st.integers(1, 4))):
            name = f"规则{t}{r}"
            rule_names.append(name)
            rules.append(m.Rule(name, draw(discounts()), expr(draw(st.sampled_from(CONDITIONS))),
                                draw(st.sampled_from([None, None, "platform", "merchant"]))))
        tiers.append(m.Tier(f"t{t}", f"第{t}层", draw(st.sampled_from([None, "best", "first", "all"])),
                            draw(st.sampled_from([None, "platform"])), tuple(rules)))
    order = tuple(draw(st.permutations([t.name for t in tiers])))
    exclusions: list[m.Exclusion] = []
    if draw(st.booleans()):
        exclusions.append(m.TagExclusion("秒杀", (draw(st.sampled_from(order)),)))
    if len(rule_names) >= 2 and draw(st.booleans()):
        a, b = draw(st.permutations(rule_names))[:2]
        exclusions.append(m.RuleConflict(a, b))
    gifts: tuple[m.Gift, ...] = ()
    if draw(st.booleans()):
        gifts = (m.Gift("满399赠", (m.GiftItem("GIFT-SCARF", 1),), expr("current_total >= ¥399")),)
    freight: tuple[m.FreightTemplate, ...] = ()
    if draw(st.booleans()):
        freight = (m.FreightTemplate("运费", 1000, draw(st.sampled_from([None, 9900])),
                                     (m.RegionFreight(("新疆", "西藏"), 2500, 29900),)),)
    return m.PromotionDecl("随机促销", None, order, tuple(tiers), gifts, tuple(exclusions), freight)


def without(promotion: m.PromotionDecl, removed: set[str]) -> m.PromotionDecl:
    """``promotion`` minus the rules named in ``removed`` (and the conflicts naming them)."""
    tiers = tuple(m.Tier(t.name, t.title, t.pick, t.funded_by,
                         tuple(r for r in t.rules if r.name not in removed)) for t in promotion.tiers)
    exclusions = tuple(x for x in promotion.exclusions
                       if not (isinstance(x, m.RuleConflict) and {x.first, x.second} & removed))
    return m.PromotionDecl(promotion.name, promotion.title, promotion.order, tiers, promotion.gifts,
                           exclusions, promotion.freight)


def plan(promotion: m.PromotionDecl) -> PricingPlan:
    return prepare_plan(promotion, RulesetRef("property", 1, "sha256:test"))
