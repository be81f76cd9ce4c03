"""会有什么变化 in chromium: 运营 publishes the festival promotion, changes 满300减40 to 满300减50
in the form, and runs the draft over the last N stored orders: the orders whose payable would
change are listed with the total in exact yuan; 客服 may run it too; without the CSRF token the
call is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser.conftest import check_accessibility, screenshot
from tests.browser.test_builder_flow import nav
from tests.orders.order_factory import order_py

RULESET = "promotion_apparel_festival"


@pytest.fixture(scope="module")
def stored_orders(live_services: Any) -> None:
    from engine.orders.store import Incoming, store_order

    # Stored in this order: the newest two are C and B.
    for order_id, amount in (("DY-A", 35000), ("DY-B", 20000), ("DY-C", 39900)):
        line = {"line_id": "1", "sku_id": "DRESS-1", "title": "连衣裙", "qty": 1, "unit_price": amount, "amount": amount}
        store_order(live_services.db, Incoming(order=order_py(order_id, lines=[line]), source="douyin", via="pull"),
                    now=datetime(2026, 3, 8, 12, 0, tzinfo=UTC))


def test_ops_sees_which_stored_orders_the_draft_would_price_differently(staff: Any, stored_orders: None) -> None:
    page = staff("ops").page
    page.goto("/")
    nav(page, "模板库").click()
    page.get_by_role("article", name="女装节大促").get_by_role("button", name="导入").click()
    page.wait_for_url(f"**/rulesets/{RULESET}")
    page.get_by_label("发布说明").fill("导入女装节大促模板")
    page.get_by_role("button", name="发布").click()
    page.get_by_role("status").filter(has_text="已发布 v1").wait_for()

    results = page.get_by_role("region", name="变化结果")
    page.get_by_role("button", name="计算变化").click()
    results.filter(has_text="0 单优惠变化，合计 ¥0.00（共比较 3 单）").wait_for()

    rule = page.locator('.rule[data-rule="满300减40"]')
    rule.get_by_label("减免金额（元）").fill("50")
    rule.get_by_label("减免金额（元）").press("Tab")
    page.wait_for_function("() => OPEditor.textOf(document.querySelector('.cm-content')).includes('amount_off ¥50')")

    assert page.get_by_label("最近订单数").input_value() == "1000"
    page.get_by_role("button", name="计算变化").click()
    results.filter(has_text="2 单优惠变化，合计 -¥20.00（共比较 3 单）").wait_for()
    rows = results.get_by_role("table", name="价格变化的订单").locator("tbody tr")
    assert [rows.nth(i).inner_text().split("\t") for i in range(rows.count())] == [
        ["douyin", "DY-C", "¥329.00", "¥319.00", "-¥10.00"],
        ["douyin", "DY-A", "¥280.00", "¥270.00", "-¥10.00"],
    ]
    assert "风控标记与挂起、工单路径会变化的订单" in page.locator("#whatif-panel").inner_text()
    assert "将在订单处理流程上线后" not in page.locator("#whatif-panel").inner_text()
    # the price check's tag: these orders carry no paid amount, so none is checked (as in the pipeline)
    results.filter(has_text="0 单价格异常标记变化（共比较 3 单，3 单无法比较）").wait_for()
    # progress as the stored orders are compared batch by batch (all three in one batch here)
    progress = results.get_by_role("progressbar", name="计算进度")
    assert (progress.get_attribute("value"), progress.get_attribute("max")) == ("3", "3")
    assert results.get_by_text("已比较 3 / 3 单").count() == 1
    assert results.get_by_role("heading", name="价格", exact=True).count() == 1
    assert results.get_by_role("heading", name="价格异常", exact=True).count() == 1
    screenshot(page, "22-what-changes")
    check_accessibility(page)

    page.get_by_label("最近订单数").fill("2")
    page.get_by_role("button", name="计算变化").click()
    results.filter(has_text="1 单优惠变化，合计 -¥10.00（共比较 2 单）").wait_for()


def test_reader_may_run_it_and_the_csrf_token_is_required(staff: Any) -> None:
    page = staff("cs").page
    page.goto(f"/rulesets/{RULESET}")
    page.get_by_role("button", name="计算变化").click()
    page.get_by_role("region", name="变化结果").filter(has_text="0 单优惠变化，合计 ¥0.00（共比较 3 单）").wait_for()
    refused = page.request.post(f"/rulesets/{RULESET}/what-changes", data={"content": "", "n": 10})
    assert refused.status == 400
