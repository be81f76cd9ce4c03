"""dsl.editing.replace_declaration: a form's edit of one declaration reaches the text as the
smallest line change — untouched lines keep their exact text and every comment survives."""

from __future__ import annotations

import dataclasses

import pytest

import dsl
from dsl.editing import replace_declaration
from dsl.errors import RuleError

TEXT = """# 文件头注释
channel wms wms { url env WMS_URL }   # 仓库

promotion spring "春节大促" {
    # 先会员折扣，后店铺券
    order vip > coupon
    tier vip "会员" pick best {
        rule "金卡95折" when customer.level == "金卡" { percent_off 5% }  # 金卡
    }
    tier coupon "店铺券" pick best {
        # 两张券择优
        rule "满300减40"
            when current_total >= ¥300   # 门槛
            { amount_off ¥40 }
        rule "满500减80" when current_total >= ¥500 { amount_off ¥80 }
    }
}
"""


def _promotion(text: str) -> dsl.PromotionDecl:
    return next(d for d in dsl.parse_text(text).declarations if isinstance(d, dsl.PromotionDecl))


def _with_rule(p: dsl.PromotionDecl, tier: int, index: int, **changes: object) -> dsl.PromotionDecl:
    tiers = list(p.tiers)
    rules = list(tiers[tier].rules)
    rules[index] = dataclasses.replace(rules[index], **changes)
    tiers[tier] = dataclasses.replace(tiers[tier], rules=tuple(rules))
    return dataclasses.replace(p, tiers=tuple(tiers))


def test_changing_one_rule_changes_only_its_line() -> None:
    p = _promotion(TEXT)
    discount = dataclasses.replace(p.tiers[0].rules[0].discount, percent=1000)
    out = replace_declaration(TEXT, "spring", "promotion", _with_rule(p, 0, 0, name="金卡9折", discount=discount))
    assert out == TEXT.replace('rule "金卡95折" when customer.level == "金卡" { percent_off 5% }  # 金卡',
                               'rule "金卡9折" when customer.level == "金卡" { percent_off 10% }  # 金卡')


def test_a_rule_written_over_three_lines_keeps_its_comments() -> None:
    p = _promotion(TEXT)
    rule = p.tiers[1].rules[0]
    amount = dataclasses.replace(rule.discount.amount, value=5000)
    new = _with_rule(p, 1, 0, name="满300减50", discount=dataclasses.replace(rule.discount, amount=amount))
    out = replace_declaration(TEXT, "spring", "promotion", new)
    assert '        rule "满300减50" when current_total >= ¥300 { amount_off ¥50 }  # 门槛\n' in out
    assert "        # 两张券择优\n" in out and "# 文件头注释\n" in out and "# 先会员折扣，后店铺券" in out
    assert dsl.parse_text(out).declarations[1] == new


def test_reordering_tiers_rewrites_the_order_line_only() -> None:
    p = _promotion(TEXT)
    out = replace_declaration(TEXT, "spring", "promotion", dataclasses.replace(p, order=("coupon", "vip")))
    assert out == TEXT.replace("    order vip > coupon\n", "    order coupon > vip\n")


def test_adding_and_removing_rules() -> None:
    p = _promotion(TEXT)
    extra = dataclasses.replace(p.tiers[1].rules[1], name="满800减150")
    tiers = (p.tiers[0], dataclasses.replace(p.tiers[1], rules=(*p.tiers[1].rules, extra)))
    out = replace_declaration(TEXT, "spring", "promotion", dataclasses.replace(p, tiers=tiers))
    assert out.count("\n") == TEXT.count("\n") + 1
    assert dsl.parse_text(out).declarations[1].tiers[1].rules[-1].name == "满800减150"

    tiers = (dataclasses.replace(p.tiers[0], rules=()), p.tiers[1])
    out = replace_declaration(TEXT, "spring", "promotion", dataclasses.replace(p, tiers=tiers))
    assert "金卡95折" not in out and "# 文件头注释" in out and "# 仓库" in out
    assert dsl.parse_text(out).declarations[1].tiers[0].rules == ()


def test_an_unknown_declaration_or_bad_text_is_a_rule_error() -> None:
    p = _promotion(TEXT)
    with pytest.raises(RuleError):
        replace_declaration(TEXT, "autumn", "promotion", p)
    with pytest.raises(RuleError):
        replace_declaration(TEXT + "promotion {", "spring", "promotion", p)
