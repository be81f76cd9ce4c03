"""会有什么变化 beyond the price, in chromium: 运营 lowers 疑似黄牛's order count to 4 in the risk
form and sees the one more order it would hold; adds a presale follow declaration in the DSL
and sees the presale order's ticket move to it. Each section has its heading, its summary with
exact counts and its table under a stable accessible name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.browser.conftest import check_accessibility, screenshot
from tests.risk.helpers import order, place, publish

PRESALE_FOLLOW = """
follow 预售订单 for orders on order_lifecycle when presale {
    open { order_id = order_id, channel = channel, consumer_phone = buyer_phone }
    status awaiting_shipment do 付款
}
"""


@pytest.fixture(scope="module")
def held_and_followed(live_services: Any) -> None:
    """risk_standard and order_lifecycle published; one phone orders five times ten minutes
    apart to 北京, 上海, 广州, 广州, 杭州 (the fifth held as 疑似黄牛); a presale order of
    another phone. Each went through the risk stage, as the pipeline runs it."""
    for name in ("sources_six_channels", "risk_standard", "order_lifecycle"):
        publish(live_services, name)
    start = live_services.clock.now() - timedelta(hours=1)
    for i, city in enumerate(["北京", "上海", "广州", "广州", "杭州"]):
        place(live_services, order(f"W{i}", at=start + timedelta(minutes=10 * i), city=city))
    place(live_services, order("W-PRESALE", at=start + timedelta(minutes=45), phone="13700000000", presale=True))


def test_ops_sees_the_orders_a_draft_would_hold_and_the_tickets_it_would_move(staff: Any,
                                                                              held_and_followed: None) -> None:
    page = staff("ops").page
    page.goto("/rulesets/risk_standard")
    scalper = page.locator(".tier").filter(has=page.get_by_role("heading", name="风控 疑似黄牛"))
    scalper.get_by_label("订单 数量（按 buyer_phone） 阈值").fill("4")
    scalper.get_by_label("订单 数量（按 buyer_phone） 阈值").press("Tab")
    page.wait_for_function(
        "() => OPEditor.textOf(document.querySelector('.cm-content')).includes('within 1h) >= 4 and')")
    results = page.get_by_role("region", name="变化结果")
    page.get_by_role("button", name="计算变化").click()
    results.filter(has_text="1 单风控结果变化：新增挂起 1 单，新增标记 1 单（共比较 6 单）").wait_for()
    assert results.get_by_role("heading", name="风控标记与挂起").count() == 1
    rows = results.get_by_role("table", name="风控结果变化的订单").locator("tbody tr")
    assert [rows.nth(i).inner_text().split("\t") for i in range(rows.count())] == [
        ["douyin", "W3", "通过", "挂起（疑似黄牛）", "新增挂起；新增标记 疑似黄牛"]]
    screenshot(page, "23-what-changes-risk")
    check_accessibility(page)

    page.goto("/rulesets/order_lifecycle")
    page.get_by_role("textbox", name="规则文本").click()
    page.keyboard.press("Control+End")
    page.keyboard.insert_text(PRESALE_FOLLOW)
    page.wait_for_function(
        "() => OPEditor.textOf(document.querySelector('.cm-content')).includes('follow 预售订单')")
    page.get_by_role("button", name="计算变化").click()
    results = page.get_by_role("region", name="变化结果")
    results.filter(has_text="1 单工单路径变化：换跟随声明 1 单（共比较 6 单）").wait_for()
    assert results.get_by_role("heading", name="工单路径").count() == 1
    rows = results.get_by_role("table", name="工单路径变化的订单").locator("tbody tr")
    assert [rows.nth(i).inner_text().split("\t") for i in range(rows.count())] == [
        ["douyin", "W-PRESALE", "待发货", "order_lifecycle（平台订单）：付款，停在 待发货",
         "order_lifecycle（预售订单）：付款，停在 待发货"]]
    screenshot(page, "24-what-changes-tickets")
    check_accessibility(page)
