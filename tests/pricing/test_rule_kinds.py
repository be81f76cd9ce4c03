"""Each rule kind on its own, with the fen per line computed by hand in the comments."""

from __future__ import annotations

from tests.pricing.helpers import (
    line,
    order,
    payables,
    promo,
    quote,
    rule_entries,
    shares,
)

GOLD_95 = promo('''
    tier member_discount "会员等级折扣" pick best {
        rule "金卡95折" when customer.level == "金卡" { percent_off 5% on lines where category != "礼品卡" }
    }''')


def test_gold_card_5_percent_skips_gift_cards_and_rounds_each_line_half_up() -> None:
    body = quote(GOLD_95, order(line("L1", 29900), line("L2", 10000, "礼品卡"),
                                line("L3", 19900, "T恤", qty=2), line("L4", 1990, "袜子"),
                                level="金卡"))
    # 29900 × 5% = 1495; 19900 × 5% = 995; 1990 × 5% = 99.5 → 100; the gift card gets nothing
    assert shares(body, "金卡95折") == {"L1": 1495, "L3": 995, "L4": 100}
    assert payables(body) == {"L1": 28405, "L2": 10000, "L3": 18905, "L4": 1890}
    entry = rule_entries(body)["金卡95折"]
    assert entry["base"] == 29900 + 19900 + 1990
    assert entry["discount"] == 1495 + 995 + 100
    assert entry["eligible"] == ["L1", "L3", "L4"]


def test_percent_discount_does_not_apply_when_its_condition_is_false() -> None:
    body = quote(GOLD_95, order(line("L1", 29900), level="银卡"))
    assert shares(body, "金卡95折") == {}
    entry = rule_entries(body)["金卡95折"]
    assert entry["status"] == "condition_false"
    assert entry["inputs"] == {"customer.level": "银卡"} and entry["outcome"] is False


def test_percent_cap_is_split_over_the_lines_in_proportion_to_their_discounts() -> None:
    text = promo('''
        tier store_coupon "店铺券" {
            rule "连衣裙85折" { percent_off 15% on lines where category == "连衣裙" cap ¥60 }
        }''')
    body = quote(text, order(line("L1", 29900), line("L2", 15900), line("L3", 5000, "T恤")))
    # asks 4485 + 2385 = 6870 > cap 6000: 6000×4485/6870 = 3917.03, 6000×2385/6870 = 2082.97
    # → 3917 + 2082 = 5999, the fen goes to the larger remainder (L2)
    assert shares(body, "连衣裙85折") == {"L1": 3917, "L2": 2083}
    notes = rule_entries(body)["连衣裙85折"]["notes"]
    assert {"note": "cap", "asked": 6870, "cap": 6000} in notes


def test_full_300_minus_40_splits_4000_fen_over_three_lines_in_proportion_remainder_to_the_largest_line() -> None:
    text = promo('''
        tier store_coupon "店铺券" pick best {
            rule "满300减40" when current_total >= ¥300 { amount_off ¥40 split by amount }
        }''')
    body = quote(text, order(line("L1", 8000), line("L2", 14000), line("L3", 8000)))
    # 4000 × 8000/30000 = 1066.67, × 14000/30000 = 1866.67: two fen left over three equal
    # remainders → the largest line L2, then the earlier equal line L1
    assert shares(body, "满300减40") == {"L1": 1067, "L2": 1867, "L3": 1066}
    assert payables(body) == {"L1": 6933, "L2": 12133, "L3": 6934}
    assert body["totals"]["discount"] == 4000


def test_full_300_minus_40_needs_the_threshold() -> None:
    text = promo('''
        tier store_coupon "店铺券" {
            rule "满300减40" when current_total >= ¥300 { amount_off ¥40 }
        }''')
    body = quote(text, order(line("L1", 29999)))
    assert body["totals"]["discount"] == 0
    assert rule_entries(body)["满300减40"]["inputs"] == {"current_total": 29999}


def test_red_packet_amount_comes_from_the_order_field() -> None:
    text = promo('''
        tier platform_red_packet "平台红包" funded by platform {
            rule "平台红包" when order.red_packet > 0 { amount_off order.red_packet split by amount }
        }''')
    body = quote(text, order(line("L1", 29900), line("L2", 10000), line("L3", 19900),
                             red_packet=500))
    # 500 × 29900/59800 = 250; × 10000/59800 = 83.61; × 19900/59800 = 166.39 → the fen to L2
    assert shares(body, "平台红包") == {"L1": 250, "L2": 84, "L3": 166}
    assert {d["funded_by"] for ln in body["lines"] for d in ln["discounts"]} == {"platform"}
    assert body["totals"]["platform_funded"] == 500 and body["totals"]["merchant_funded"] == 0


def test_amount_larger_than_the_order_is_capped_and_no_line_goes_below_zero() -> None:
    text = promo('''
        tier platform_red_packet "平台红包" {
            rule "平台红包" { amount_off order.red_packet }
        }''')
    body = quote(text, order(line("L1", 2000), line("L2", 1000), red_packet=5000))
    assert payables(body) == {"L1": 0, "L2": 0}
    entry = rule_entries(body)["平台红包"]
    assert entry["discount"] == 3000
    assert {"note": "capped_to_lines", "asked": 5000, "available": 3000} in entry["notes"]


def test_every_200_off_20_counts_whole_steps_and_respects_the_cap() -> None:
    text = promo('''
        tier store_coupon "店铺券" {
            rule "每满200减20" { every ¥200 off ¥20 cap ¥100 split by amount }
        }''')
    small = quote(text, order(line("L1", 30000), line("L2", 25000)))
    # 55000 // 20000 = 2 steps → 4000: 4000×30000/55000 = 2181.82, ×25000/55000 = 1818.18
    assert shares(small, "每满200减20") == {"L1": 2182, "L2": 1818}
    big = quote(text, order(line("L1", 100000), line("L2", 25000)))
    # 125000 // 20000 = 6 steps → 12000, capped at 10000: 8000 / 2000
    assert shares(big, "每满200减20") == {"L1": 8000, "L2": 2000}
    assert {"note": "cap", "asked": 12000, "cap": 10000} in rule_entries(big)["每满200减20"]["notes"]
    below = quote(text, order(line("L1", 19999)))
    assert rule_entries(below)["每满200减20"]["status"] == "no_discount"


def test_fixed_price_lowers_matching_lines_to_price_times_qty_and_never_raises_one() -> None:
    text = promo('''
        tier member_discount "会员" {
            rule "外套一口价" { fixed_price ¥199 on lines where category == "外套" }
        }''')
    body = quote(text, order(line("L1", 91800, "外套", qty=2), line("L2", 15900, "外套"),
                             line("L3", 29900, "连衣裙")))
    # L1: 2 × ¥459 → 2 × ¥199 = 39800, a 52000 discount; L2 is already below ¥199: unchanged
    assert shares(body, "外套一口价") == {"L1": 52000}
    assert payables(body) == {"L1": 39800, "L2": 15900, "L3": 29900}


def test_gift_adds_a_zero_price_gift_line_and_records_the_gift() -> None:
    text = promo('''
        tier t "t" { rule "r" when current_total > ¥100000 { percent_off 1% } }
        gift "满399赠丝巾" when current_total >= ¥399 { add sku "GIFT-SCARF" qty 1 }''')
    body = quote(text, order(line("L1", 39900)))
    assert body["gifts"] == [{"sku_id": "GIFT-SCARF", "qty": 1, "rule": "满399赠丝巾"}]
    gift_line = body["lines"][-1]
    assert gift_line["gift"] is True and gift_line["sku_id"] == "GIFT-SCARF"
    assert gift_line["original"] == gift_line["payable"] == 0 and gift_line["qty"] == 1
    assert body["totals"]["payable"] == 39900
    no_gift = quote(text, order(line("L1", 39899)))
    assert no_gift["gifts"] == [] and len(no_gift["lines"]) == 1


FREIGHT = promo('''
    tier t "t" { rule "r" when current_total > ¥100000 { percent_off 1% } }
    freight 标准运费 {
        base ¥10 free over ¥99
        region 新疆, 西藏 base ¥25 free over ¥299
        region 青海 base ¥15
    }''')


def test_freight_base_fee_and_free_shipping_threshold() -> None:
    assert quote(FREIGHT, order(line("L1", 9899), province="浙江省"))["totals"]["freight"] == 1000
    free = quote(FREIGHT, order(line("L1", 9900), province="浙江省"))
    assert free["totals"]["freight"] == 0 and free["totals"]["payable"] == 9900


def test_freight_region_override_matches_the_province_by_prefix() -> None:
    far = quote(FREIGHT, order(line("L1", 20000), province="新疆维吾尔自治区"))
    assert far["totals"]["freight"] == 2500 and far["totals"]["payable"] == 22500
    assert quote(FREIGHT, order(line("L1", 29900), province="西藏自治区"))["totals"]["freight"] == 0
    # a region without its own "free over" never ships free
    assert quote(FREIGHT, order(line("L1", 500000), province="青海省"))["totals"]["freight"] == 1500
    # no receiver: the template's base rule
    assert quote(FREIGHT, order(line("L1", 5000)))["totals"]["freight"] == 1000


def test_no_freight_template_means_no_freight() -> None:
    body = quote(GOLD_95, order(line("L1", 100)))
    assert body["totals"]["freight"] == 0
    assert not [e for e in body["log"] if e["event"] == "freight"]
