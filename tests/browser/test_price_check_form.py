"""运营 sets the festival promotion's 核价容差 (``price_check tolerance ¥10 or 5%``) in the
promotion form: the imported template shows ¥10 and 5%; changing the amount rewrites the DSL
line, emptying the percent leaves the amount alone, and the check stays clean."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import check_accessibility, screenshot

RULESET = "promotion_apparel_festival"


def _text(page: Any) -> str:
    return page.get_by_role("textbox", name="规则文本").evaluate("node => OPEditor.textOf(node)")


def _wait_for(page: Any, fragment: str) -> None:
    page.wait_for_function(
        "(f) => OPEditor.textOf(document.querySelector('.cm-content')).includes(f)", arg=fragment)


def test_ops_sets_the_price_check_tolerance_in_the_promotion_form(staff: Any) -> None:
    page = staff("ops").page
    page.get_by_role("navigation").get_by_role("link", name="模板库", exact=True).click()
    page.get_by_role("article", name="女装节大促").get_by_role("button", name="导入").click()
    page.wait_for_url(f"**/rulesets/{RULESET}")
    amount, percent = page.get_by_label("核价容差金额（元）"), page.get_by_label("核价容差比例（%）")
    assert (amount.input_value(), percent.input_value()) == ("10", "5")
    assert "price_check tolerance ¥10 or 5%" in _text(page)

    amount.fill("20")
    amount.press("Tab")
    _wait_for(page, "price_check tolerance ¥20 or 5%")
    percent.fill("")
    percent.press("Tab")
    _wait_for(page, "price_check tolerance ¥20\n")
    text = _text(page)
    assert "price_check tolerance ¥20\n}" in text and "or 5%" not in text
    # the comment above the promotion about the check survives the form edits
    assert "# 核价：每张订单都按本促销算一遍" in text
    assert page.get_by_role("region", name="检查结果").inner_text().strip().endswith("没有发现问题")
    screenshot(page, "30-price-check-form")
    check_accessibility(page)
