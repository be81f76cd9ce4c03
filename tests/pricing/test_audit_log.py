"""The audit log: every rule considered, in order, with its condition's inputs and outcome, the
base, the discount, the split and the ruleset version; as JSON and as Chinese text."""

from __future__ import annotations

import json

from engine.pricing import quote_order
from engine.pricing.loading import quote_json
from engine.pricing.log_text import render_breakdown, render_log
from tests.pricing.helpers import line, order, plan_of, promo

TEXT = promo('''
    order member_discount > store_coupon
    tier member_discount "会员等级折扣" pick best {
        rule "金卡95折" when customer.level == "金卡" { percent_off 5% }
        rule "银卡98折" when customer.level == "银卡" { percent_off 2% }
    }
    tier store_coupon "店铺券" pick best {
        rule "满300减40" when current_total >= ¥300 { amount_off ¥40 split by amount }
    }
    gift "满399赠丝巾" when current_total >= ¥399 { add sku "GIFT-SCARF" qty 1 }
    freight 标准运费 { base ¥10 free over ¥99 }''')
ORDER = order(line("L1", 29900), line("L2", 10000, "半身裙"), level="金卡", province="浙江省")


def test_log_lists_every_rule_in_order_with_inputs_outcome_base_discount_and_split() -> None:
    body = quote_order(plan_of(TEXT, name="spring", version=3), ORDER)
    log = body["log"]
    assert [e["event"] for e in log] == ["start", "tier", "rule", "rule", "tier", "rule", "gift",
                                         "freight", "total"]
    start = log[0]
    assert start["ruleset"] == {"name": "spring", "version": 3, "checksum": body["ruleset"]["checksum"]}
    assert start["ruleset"]["checksum"].startswith("sha256:") and start["original_total"] == 39900
    gold = log[2]
    assert gold == {
        "event": "rule", "tier_no": 1, "tier": "member_discount", "rule": "金卡95折",
        "condition": 'customer.level == "金卡"', "inputs": {"customer.level": "金卡"},
        "outcome": True, "status": "applied", "kind": "percent_off", "base": 39900,
        "discount": 1995, "funded_by": "merchant",
        "split": {"L1": 1495, "L2": 500}}
    assert log[3]["status"] == "condition_false" and log[3]["outcome"] is False
    coupon = log[5]
    assert coupon["inputs"] == {"current_total": 37905} and coupon["status"] == "applied"
    # 4000 over 28405 / 9500 (of 37905): 2997.49 / 1002.51 → floors 2997 + 1002, the last
    # fen to the larger remainder (L2)
    assert coupon["split"] == {"L1": 2997, "L2": 1003}
    assert log[6]["outcome"] is False and log[6]["inputs"] == {"current_total": 33905}
    assert log[7]["freight"] == 0 and log[7]["free"] is True
    assert log[8]["payable"] == body["totals"]["payable"] == 33905


def test_log_renders_as_readable_chinese() -> None:
    body = quote_order(plan_of(TEXT, name="spring", version=3),
                       order(line("L1", 39900), level="金卡", province="浙江省"))
    text = render_log(body["log"])
    assert text[2] == ('第1层 会员等级折扣：规则「金卡95折」条件 customer.level == "金卡"'
                       '（customer.level="金卡"）成立，基数 ¥399.00，优惠 ¥19.95，分摊 L1 ¥19.95，'
                       '商家承担，已采用')
    assert text[3].endswith("不成立，跳过")
    assert text[0].startswith("促销「测试促销」，规则集 spring v3，校验和 sha256:")
    assert text[1] == "第1层 会员等级折扣（member_discount，择优）：当前金额 current_total = ¥399.00"
    assert "满300减40" in text[5] and "已采用" in text[5]
    assert text[6].startswith("赠品「满399赠丝巾」条件 current_total >= ¥399（current_total=¥339.05）")
    assert text[-1] == ("合计：原价 ¥399.00，优惠 ¥59.95（商家承担 ¥59.95，平台承担 ¥0.00），"
                        "商品应付 ¥339.05，运费 ¥0.00，应付 ¥339.05")


def test_breakdown_table_shows_each_line_and_the_totals() -> None:
    body = quote_order(plan_of(TEXT), ORDER)
    table = render_breakdown(body)
    assert "金卡95折 -¥14.95（商家）" in table
    assert "原价 ¥399.00  优惠 ¥59.95  运费 ¥0.00  应付 ¥339.05" in table


def test_same_input_gives_byte_identical_json_even_from_a_freshly_prepared_plan() -> None:
    first = quote_json(quote_order(plan_of(TEXT), ORDER))
    again = quote_json(quote_order(plan_of(TEXT), json.loads(json.dumps(ORDER))))
    assert first == again
    assert json.loads(first)["lines"][0]["payable"] == 29900 - 1495 - 2997


def test_the_quote_does_not_change_the_order_it_was_given() -> None:
    before = json.dumps(ORDER, sort_keys=True)
    quote_order(plan_of(TEXT), ORDER)
    assert json.dumps(ORDER, sort_keys=True) == before
