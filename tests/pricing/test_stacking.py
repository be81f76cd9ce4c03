"""How rules stack: tier order and current_total, pick best / first / all, exclusions by tag and
between rules, who funds what, and gifts and freight after all tiers — fen computed by hand."""

from __future__ import annotations

from tests.pricing.helpers import (
    applied_rules,
    line,
    order,
    payables,
    promo,
    quote,
    rule_entries,
    shares,
)

MEMBER_THEN_COUPON = promo('''
    order member_discount > store_coupon
    tier member_discount "会员等级折扣" pick best {
        rule "金卡95折" when customer.level == "金卡" { percent_off 5% }
    }
    tier store_coupon "店铺券" pick best {
        rule "满300减40" when current_total >= ¥300 { amount_off ¥40 }
    }''')


def test_each_tier_sees_what_earlier_tiers_left_in_current_total() -> None:
    # ¥310 − 5% (1550) = ¥294.50 < ¥300: the coupon's threshold is no longer met
    gold = quote(MEMBER_THEN_COUPON, order(line("L1", 31000), level="金卡"))
    assert applied_rules(gold) == ["金卡95折"]
    assert rule_entries(gold)["满300减40"]["inputs"] == {"current_total": 29450}
    assert gold["totals"]["payable"] == 29450
    # without the member discount the same order reaches the threshold
    plain = quote(MEMBER_THEN_COUPON, order(line("L1", 31000), level="普通"))
    assert applied_rules(plain) == ["满300减40"] and plain["totals"]["payable"] == 27000


def test_threshold_on_original_total_ignores_earlier_tiers() -> None:
    text = MEMBER_THEN_COUPON.replace("when current_total >= ¥300", "when original_total >= ¥300")
    body = quote(text, order(line("L1", 31000), level="金卡"))
    assert applied_rules(body) == ["金卡95折", "满300减40"]
    assert body["totals"]["payable"] == 31000 - 1550 - 4000


def test_tiers_apply_in_the_declared_order_not_the_written_order() -> None:
    text = promo('''
        order b > a
        tier a "A" { rule "减10" { amount_off ¥10 } }
        tier b "B" { rule "9折" { percent_off 10% } }''')
    body = quote(text, order(line("L1", 10000)))
    # 9折 first on 10000 → 1000, then 减10 → 1000
    assert applied_rules(body) == ["9折", "减10"]
    assert shares(body, "9折") == {"L1": 1000} and payables(body) == {"L1": 8000}


BEST = promo('''
    tier store_coupon "店铺券" pick best {
        rule "满300减40" when current_total >= ¥300 { amount_off ¥40 }
        rule "满500减80" when current_total >= ¥500 { amount_off ¥80 }
        rule "也减80" when current_total >= ¥500 { amount_off ¥80 }
    }''')


def test_pick_best_applies_only_the_largest_discount_and_ties_go_to_the_earlier_rule() -> None:
    body = quote(BEST, order(line("L1", 60000)))
    assert applied_rules(body) == ["满500减80"]
    entries = rule_entries(body)
    assert entries["满300减40"]["status"] == "not_chosen" and entries["满300减40"]["offer"] == 4000
    assert entries["也减80"]["status"] == "not_chosen"
    assert {"note": "not_chosen", "chosen": "满500减80"} in entries["也减80"]["notes"]
    assert body["totals"]["discount"] == 8000


def test_pick_first_takes_the_first_rule_that_gives_a_discount() -> None:
    text = promo('''
        tier store_coupon "店铺券" pick first {
            rule "外套券" { amount_off ¥30 on lines where category == "外套" }
            rule "满300减40" when current_total >= ¥300 { amount_off ¥40 }
            rule "满500减80" when current_total >= ¥500 { amount_off ¥80 }
        }''')
    body = quote(text, order(line("L1", 60000)))
    # no 外套 line: the first rule gives nothing and does not block; the second applies
    assert applied_rules(body) == ["满300减40"]
    entries = rule_entries(body)
    assert entries["外套券"]["status"] == "no_eligible_lines"
    assert entries["满500减80"]["status"] == "not_reached"
    with_coat = quote(text, order(line("L1", 60000), line("L2", 30000, "外套")))
    assert applied_rules(with_coat) == ["外套券"] and shares(with_coat, "外套券") == {"L2": 3000}


def test_pick_all_computes_every_rule_on_the_tier_entry_amounts() -> None:
    text = promo('''
        tier member_discount "会员" pick all {
            rule "会员95折" { percent_off 5% }
            rule "生日98折" { percent_off 2% }
        }''')
    body = quote(text, order(line("L1", 10000)))
    # both on ¥100.00: 500 + 200 (not 2% of what 5% left)
    assert shares(body, "会员95折") == {"L1": 500} and shares(body, "生日98折") == {"L1": 200}
    assert payables(body) == {"L1": 9300}


def test_default_pick_is_all() -> None:
    text = promo('''
        tier coupons "券" {
            rule "减5" { amount_off ¥5 }
            rule "减3" { amount_off ¥3 }
        }''')
    assert applied_rules(quote(text, order(line("L1", 10000)))) == ["减5", "减3"]


def test_pick_all_never_takes_a_line_below_zero_and_moves_the_excess_to_other_lines() -> None:
    text = promo('''
        tier clearance "清仓" pick all {
            rule "清仓0元" { fixed_price ¥0 on lines where category == "清仓" }
            rule "店铺立减10" { amount_off ¥10 split by amount }
        }''')
    body = quote(text, order(line("L1", 1000, "清仓"), line("L2", 2000)))
    # 店铺立减10 on entry amounts: 1000×1000/3000 = 333.33, 1000×2000/3000 = 666.67 → 333/667;
    # L1 was already taken to zero by 清仓0元, so its 333 fen move to L2
    assert shares(body, "清仓0元") == {"L1": 1000}
    assert shares(body, "店铺立减10") == {"L2": 1000}
    assert payables(body) == {"L1": 0, "L2": 1000}
    notes = rule_entries(body)["店铺立减10"]["notes"]
    assert {"note": "moved", "line_id": "L1", "amount": 333} in notes


def test_pick_all_caps_a_rule_when_the_other_rules_left_no_room() -> None:
    text = promo('''
        tier packets "红包" pick all {
            rule "红包A" { amount_off ¥100 }
            rule "红包B" { amount_off ¥100 }
        }''')
    body = quote(text, order(line("L1", 9000), line("L2", 6000)))
    # A: 10000 over 9000/6000 → 6000/4000; B asks 10000 but only 5000 is left: 3000/2000
    assert shares(body, "红包A") == {"L1": 6000, "L2": 4000}
    assert shares(body, "红包B") == {"L1": 3000, "L2": 2000}
    assert payables(body) == {"L1": 0, "L2": 0}
    assert {"note": "capped_to_lines", "asked": 10000, "available": 5000} in \
        rule_entries(body)["红包B"]["notes"]


def test_pick_all_percent_on_a_line_with_too_little_room_is_limited_to_what_is_left() -> None:
    text = promo('''
        tier t "叠加" pick all {
            rule "一口价" { fixed_price ¥1 on lines where category == "外套" }
            rule "五折" { percent_off 50% }
        }''')
    body = quote(text, order(line("L1", 10000, "外套"), line("L2", 4000)))
    # L1: 一口价 takes 9900, leaving 100; 五折 asks 5000 there and gets 100. L2: 2000.
    assert shares(body, "五折") == {"L1": 100, "L2": 2000}
    assert payables(body) == {"L1": 0, "L2": 2000}
    assert {"note": "line_limit", "line_id": "L1", "asked": 5000, "granted": 100} in \
        rule_entries(body)["五折"]["notes"]


SECKILL = promo('''
    order store_coupon > platform_red_packet
    exclude lines tagged "秒杀" from store_coupon
    tier store_coupon "店铺券" pick best {
        rule "满300减40" when current_total >= ¥300 { amount_off ¥40 split by amount }
    }
    tier platform_red_packet "平台红包" funded by platform {
        rule "平台红包" when order.red_packet > 0 { amount_off order.red_packet split by amount }
    }''')


def test_a_line_tagged_seckill_skips_store_coupons_but_not_the_platform_red_packet() -> None:
    body = quote(SECKILL, order(line("L1", 20000), line("L2", 15000, tags=["秒杀"]), red_packet=1000))
    # the coupon's threshold sees current_total 35000, its split only L1
    assert shares(body, "满300减40") == {"L1": 4000}
    # red packet over 16000 / 15000: 1000×16000/31000 = 516.13, ×15000/31000 = 483.87 → 516/484
    assert shares(body, "平台红包") == {"L1": 516, "L2": 484}
    tier_head = next(e for e in body["log"] if e["event"] == "tier" and e["tier"] == "store_coupon")
    assert tier_head["excluded_lines"] == [{"line_id": "L2", "tags": ["秒杀"]}]


def test_when_only_seckill_lines_remain_the_store_coupon_has_no_eligible_line() -> None:
    body = quote(SECKILL, order(line("L1", 35000, tags=["秒杀"])))
    assert rule_entries(body)["满300减40"]["status"] == "no_eligible_lines"
    assert body["totals"]["discount"] == 0


CONFLICT = promo('''
    order store_coupon > platform
    exclude rule "满500减80" with rule "跨店每满300减30"
    tier store_coupon "店铺券" pick best {
        rule "满500减80" when current_total >= ¥500 { amount_off ¥80 }
    }
    tier platform "平台" funded by platform {
        rule "跨店每满300减30" { every ¥300 off ¥30 }
    }''')


def test_coupon_a_is_not_used_with_coupon_b_the_first_applied_wins() -> None:
    body = quote(CONFLICT, order(line("L1", 60000)))
    assert applied_rules(body) == ["满500减80"]
    entry = rule_entries(body)["跨店每满300减30"]
    assert entry["status"] == "conflict" and entry["notes"] == [{"note": "conflict", "with": "满500减80"}]
    assert entry["outcome"] is None and entry["inputs"] == {}  # it has no condition
    # below ¥500 the store coupon does not apply, so the cross-store discount does
    small = quote(CONFLICT, order(line("L1", 40000)))
    assert applied_rules(small) == ["跨店每满300减30"] and small["totals"]["discount"] == 3000


def test_conflicting_rules_in_one_pick_all_tier_keep_the_first() -> None:
    text = promo('''
        exclude rule "券A" with rule "券B"
        tier coupons "券" pick all {
            rule "券A" { amount_off ¥5 }
            rule "券B" { amount_off ¥9 }
            rule "券C" { amount_off ¥1 }
        }''')
    body = quote(text, order(line("L1", 10000)))
    assert applied_rules(body) == ["券A", "券C"]


def test_funding_is_kept_per_line_rule_level_overrides_the_tier() -> None:
    text = promo('''
        tier t "平台活动" funded by platform {
            rule "平台补贴" { amount_off ¥10 }
            rule "商家让利" funded by merchant { amount_off ¥6 }
        }''')
    body = quote(text, order(line("L1", 6000), line("L2", 4000)))
    by_rule = {(d["rule"], ln["line_id"]): d["funded_by"] for ln in body["lines"] for d in ln["discounts"]}
    assert by_rule == {("平台补贴", "L1"): "platform", ("平台补贴", "L2"): "platform",
                       ("商家让利", "L1"): "merchant", ("商家让利", "L2"): "merchant"}
    assert body["totals"]["platform_funded"] == 1000 and body["totals"]["merchant_funded"] == 600


def test_gift_is_decided_on_the_final_current_total_after_all_tiers() -> None:
    text = promo('''
        tier member "会员" { rule "95折" { percent_off 5% } }
        gift "满399赠丝巾" when current_total >= ¥399 { add sku "GIFT-SCARF" qty 1 }''')
    # original ¥400 ≥ ¥399, but after 5% it is ¥380: no gift
    assert quote(text, order(line("L1", 40000)))["gifts"] == []
    assert quote(text, order(line("L1", 42000)))["gifts"] == [
        {"sku_id": "GIFT-SCARF", "qty": 1, "rule": "满399赠丝巾"}]


def test_freight_comes_last_on_the_amount_payable_after_discounts() -> None:
    text = promo('''
        tier member "会员" { rule "95折" { percent_off 5% } }
        freight 标准运费 { base ¥10 free over ¥99 }''')
    # ¥100.00 − 5% = ¥95.00 < ¥99: freight is charged
    body = quote(text, order(line("L1", 10000)))
    assert body["totals"] == {"original": 10000, "discount": 500, "goods": 9500, "freight": 1000,
                              "payable": 10500, "merchant_funded": 500, "platform_funded": 0}
