"""The promotion_apparel_festival template: it parses, checks clean, and prices realistic 女装
orders to the fen (computed by hand below)."""

from __future__ import annotations

from pathlib import Path

import dsl
from engine.pricing import quote_order
from engine.pricing.loading import plan_from_content
from tests.pricing.helpers import (
    applied_rules,
    line,
    order,
    payables,
    rule_entries,
    shares,
)

TEMPLATE = Path(__file__).resolve().parents[2] / "templates_library" / "promotion_apparel_festival.op"


def template_plan():  # type: ignore[no-untyped-def]
    return plan_from_content(TEMPLATE.read_text(encoding="utf-8"), name="promotion_apparel_festival",
                             version=1)


def test_template_parses_checks_clean_and_round_trips() -> None:
    ruleset = dsl.load_file(TEMPLATE)
    assert dsl.check(ruleset) == []
    assert dsl.parse_text(dsl.print_dsl(ruleset)) == ruleset
    assert dsl.load_json(dsl.to_json(ruleset)) == ruleset
    (promotion,) = ruleset.promotions
    assert [t.name for t in promotion.ordered_tiers] == ["member_discount", "store_coupon",
                                                          "platform_red_packet"]
    assert promotion.gifts and promotion.freight and len(promotion.exclusions) == 2


def test_gold_member_order_to_xinjiang_with_a_seckill_tee_and_a_red_packet() -> None:
    body = quote_order(template_plan(), order(
        line("L1", 45900, "连衣裙", sku="DRESS-459"),
        line("L2", 29900, "针织衫", sku="KNIT-299"),
        line("L3", 5900, "T恤", tags=["秒杀"], sku="TEE-59"),
        level="金卡", red_packet=1000, province="新疆维吾尔自治区"))
    # 会员: 金卡95折 on L1, L2 (the 秒杀 tee is excluded): 2295 + 1495
    assert shares(body, "金卡95折") == {"L1": 2295, "L2": 1495}
    # 店铺券: current_total 77910 → 满500减80 beats 满300减40; split over 43605 / 28405:
    # 4844.33 / 3155.67 → 4844 + 3155, the last fen to L2
    assert shares(body, "满500减80") == {"L1": 4844, "L2": 3156}
    assert rule_entries(body)["满300减40"]["status"] == "not_chosen"
    # 平台红包 ¥10 over 38761 / 25249 / 5900: 554.44 / 361.16 / 84.39 → the last fen to L1
    assert shares(body, "平台红包") == {"L1": 555, "L2": 361, "L3": 84}
    # 跨店满减 cannot be used with 满500减80
    cross_store = rule_entries(body)["跨店每满300减30"]
    assert cross_store["status"] == "conflict" and cross_store["outcome"] is True
    assert cross_store["inputs"] == {"original_total": 81700}
    assert payables(body) == {"L1": 38206, "L2": 24888, "L3": 5816}
    assert body["gifts"] == [{"sku_id": "GIFT-SCARF", "qty": 1, "rule": "满399赠丝巾"}]
    assert body["totals"] == {"original": 81700, "discount": 12790, "goods": 68910, "freight": 0,
                              "payable": 68910, "merchant_funded": 11790, "platform_funded": 1000}
    assert body["ruleset"] == {"name": "promotion_apparel_festival", "version": 1,
                               "checksum": body["ruleset"]["checksum"]}


def test_small_silver_member_order_to_tibet_pays_remote_freight() -> None:
    body = quote_order(template_plan(), order(line("L1", 15900, "连衣裙"), level="银卡",
                                              province="西藏自治区"))
    # 银卡98折: 318; no coupon (¥155.82 < ¥300); no red packet; 跨店 needs original ≥ ¥300
    assert applied_rules(body) == ["银卡98折"]
    assert body["totals"] == {"original": 15900, "discount": 318, "goods": 15582, "freight": 2000,
                              "payable": 17582, "merchant_funded": 318, "platform_funded": 0}
    assert body["gifts"] == []


def test_cross_store_discount_applies_when_the_big_store_coupon_does_not() -> None:
    body = quote_order(template_plan(), order(line("L1", 35000, "外套"), line("L2", 10000, "礼品卡"),
                                              province="浙江省"))
    # no member level; 满300减40 on the non-gift-card line only; 跨店: 45000 // 30000 = 1 step
    assert applied_rules(body) == ["满300减40", "跨店每满300减30"]
    assert shares(body, "满300减40") == {"L1": 4000}
    # ¥30 over 31000 / 10000: 2268.29 / 731.71 → 2268 + 731, the last fen to L2
    assert shares(body, "跨店每满300减30") == {"L1": 2268, "L2": 732}
    assert body["totals"]["platform_funded"] == 3000 and body["totals"]["payable"] == 38000
