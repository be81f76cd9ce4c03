"""The operations boards the way staff use them, in chromium: a 客服 opens 我的待办, sees the
overdue ticket first and presses 审核通过 on the kanban; a 仓储 user enters the 质检 result in
the action's form (a failing result is refused on the card, the right one moves the ticket); a
客服组长 releases a risk hold on 预警; the order and stock pages tell their figures; 看板数据 draws the
day's orders. Every page is screenshotted at 1366×768 and checked with axe-core.

The shop's day is :mod:`tests.boards.world` on a manual clock (the world ends at T0+30h); the
steps share one server and run in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import expect

from engine.clock import ManualClock
from tests.boards import world as w
from tests.browser.conftest import PASSWORD, check_accessibility, private_database, screenshot, served, signed_in_staff

BOARD_STAFF = {"cs": ("zhao_kf", "赵客服"), "warehouse": ("li_wh", "李仓储"), "cs_lead": ("sun_lead", "孙组长")}


@contextmanager
def boards_shop(tmp_path_factory: pytest.TempPathFactory, redis_url: str | None, redis_prefix: str, name: str,
                prepare: Callable[[Any, w.World], None] | None = None) -> Iterator[tuple[Any, w.World]]:
    """The shop's day of :mod:`tests.boards.world` in a private database, ``prepare``d, with the
    board staff as users; yields (services, world)."""
    from engine.auth.users import create_user
    from engine.config import Settings
    from engine.services import Services

    with private_database(tmp_path_factory, name) as db_url:
        settings = Settings(database_url=db_url, redis_url=redis_url, redis_prefix=f"{redis_prefix}{name}:",
                            secret_key=f"{name}-browser-secret", testing=True,
                            handler_modules=("tests.support.handlers",))
        services = Services.build(settings, clock=ManualClock(w.T0))
        world = w.build(services)
        if prepare is not None:
            prepare(services, world)
        with services.db.transaction() as s:
            for role, (username, display) in BOARD_STAFF.items():
                create_user(s, username, role, PASSWORD, display_name=display)
        yield services, world
        services.db.dispose()


@contextmanager
def board_staff(browser: Any, services: Any) -> Iterator[Callable[[str], Any]]:
    """The app over ``services`` served over HTTP; ``login(role)``: the page of a board staff
    member signed in once per module."""
    usernames = {role: username for role, (username, _) in BOARD_STAFF.items()}
    # a busy CI machine: a wait budget, not a timed assertion
    with served(services) as url, signed_in_staff(browser, url, usernames, timeout_ms=30_000) as login:
        yield login


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, redis_url: str | None,
         redis_prefix: str) -> Iterator[tuple[Any, w.World]]:
    with boards_shop(tmp_path_factory, redis_url, redis_prefix, "boards") as made:
        yield made


@pytest.fixture(scope="module")
def as_role(browser: Any, shop: tuple[Any, w.World]) -> Iterator[Any]:
    with board_staff(browser, shop[0]) as login:
        yield login


def nav(page: Any, name: str) -> Any:
    return page.get_by_role("navigation").get_by_role("link", name=name, exact=True)


def cells(row: Any) -> list[str]:
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def test_a_cs_sees_the_overdue_ticket_first_and_approves_it_on_the_kanban(as_role: Any,
                                                                          shop: tuple[Any, w.World]) -> None:
    _, world = shop
    a, b, c = (world.tickets[n] for n in "ABC")
    page = as_role("cs")
    nav(page, "我的待办").click()
    page.get_by_role("heading", name="我的待办").wait_for()
    rows = page.locator("#work-list tbody tr")
    assert rows.count() == 3
    assert cells(rows.nth(0))[:8] == [f"#{a}", "标准售后", "待审核", "DY1000", "—", "138****5678",
                                      "2026-11-12 10:00", "已超时 6小时"]
    assert [cells(rows.nth(i))[7] for i in range(3)] == ["已超时 6小时", "剩余 4小时", "剩余 14小时"]
    assert [cells(rows.nth(i))[0] for i in range(3)] == [f"#{a}", f"#{b}", f"#{c}"]
    screenshot(page, "20-boards-work")
    check_accessibility(page)

    rows.nth(0).get_by_role("link", name=f"在看板中处理 工单 #{a}").click()
    page.get_by_role("heading", name="看板 · 标准售后 aftersales_standard").wait_for()
    card = page.get_by_role("article", name=f"工单 #{a}")
    assert "已超时 6小时" in card.inner_text()
    screenshot(page, "21-boards-kanban")
    check_accessibility(page)
    card.get_by_role("button", name="审核通过").click()
    page.get_by_role("status").filter(has_text=f"已执行「审核通过」：工单 #{a} 从「待审核」到「待退货」").wait_for()
    column = page.locator('section.column[data-state="待退货"]')
    assert column.get_by_role("article", name=f"工单 #{a}").count() == 1
    assert page.locator('section.column[data-state="待审核"] article').count() == 2
    history = page.locator("#history li").all_inner_texts()
    assert [h.split(" · ", 1)[1] for h in history] == ["创建：— → 待审核 · user:zhao_kf（客服）",
                                                     "审核通过：待审核 → 待退货 · user:zhao_kf（客服）"]
    screenshot(page, "21-boards-kanban-approved")


def test_the_warehouse_enters_the_quality_check_result_in_the_actions_form(as_role: Any,
                                                                           shop: tuple[Any, w.World]) -> None:
    services, world = shop
    q = world.tickets["Q"]
    page = as_role("warehouse")
    nav(page, "看板").click()
    page.get_by_role("link", name="标准售后").click()
    card = page.get_by_role("article", name=f"工单 #{q}")
    assert card.get_by_role("button", name="审核通过").count() == 0
    card.get_by_text("质检通过…").click()
    card.get_by_label("qc_result").fill("破损")
    screenshot(page, "22-boards-qc-form")
    check_accessibility(page)
    card.get_by_role("button", name="提交质检通过").click()
    refused = page.get_by_role("article", name=f"工单 #{q}").get_by_role("alert")
    assert refused.inner_text() == "「质检通过」的条件不成立：qc_result == \"合格\""
    card = page.get_by_role("article", name=f"工单 #{q}")
    assert card.get_by_label("qc_result").input_value() == "破损"  # what was typed stays
    card.get_by_label("qc_result").fill("合格")
    card.get_by_role("button", name="提交质检通过").click()
    page.get_by_role("status").filter(has_text=f"已执行「质检通过」：工单 #{q} 从「待质检」到「待处理」").wait_for()
    assert page.locator('section.column[data-state="待处理"]').get_by_role("article", name=f"工单 #{q}").count() == 1
    from engine.workflow.models import WorkflowInstance

    with services.db.session() as s:
        inst = s.get(WorkflowInstance, q)
        assert (inst.state, inst.data["qc_result"]) == ("待处理", "合格")


def test_a_cs_lead_releases_a_risk_hold(as_role: Any, shop: tuple[Any, w.World]) -> None:
    services, world = shop
    page = as_role("cs_lead")
    nav(page, "预警").click()
    page.get_by_role("heading", name="风控挂起的订单").wait_for()
    rows = page.locator("#risk-holds tbody tr")
    assert rows.count() == 1
    first = cells(rows.nth(0))
    assert first[:3] == ["DY1004", "抖音", "疑似黄牛\n疑似黄牛 · risk_standard v1"]
    assert first[4:6] == ["¥39.00", "2026-11-11 10:40"]
    screenshot(page, "25-boards-warnings")
    check_accessibility(page)
    rows.nth(0).get_by_role("button", name="放行 订单 DY1004").click()
    page.get_by_role("status").filter(has_text="已放行订单 DY1004，订单继续处理").wait_for()
    assert page.locator("#risk-holds").count() == 0
    from engine.orders.pipeline_model import OrderPipeline

    with services.db.session() as s:
        assert s.get(OrderPipeline, world.orders["DY1004"]).hold_reason is None


def test_the_order_and_stock_pages_tell_their_figures(as_role: Any, shop: tuple[Any, w.World]) -> None:
    page = as_role("cs_lead")
    nav(page, "订单").click()
    page.get_by_label("标记").select_option("缺货")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"/orders\?.*tag=%E7%BC%BA%E8%B4%A7"), wait_until="load")
    rows = page.locator("#order-list tbody tr")
    expect(rows).to_have_count(1)  # waits for the filtered page, then checks
    assert cells(rows.nth(0))[:7] == ["DY2000", "抖音", "旗舰店", "已付款挂起", "缺货", "¥195.00", "139****6666"]
    screenshot(page, "23-boards-orders")
    check_accessibility(page)
    rows.nth(0).get_by_role("link", name="DY2000").click()
    page.get_by_role("heading", name="订单 DY2000 抖音 · 旗舰店").wait_for()
    assert "缺货 SKU：MUG-BLUE" in page.get_by_role("status").first.inner_text()
    screenshot(page, "23-boards-order")
    check_accessibility(page)

    nav(page, "库存").click()
    rows = page.locator("#stock-list tbody tr")
    assert [cells(rows.nth(i))[:5] for i in range(rows.count())] == [["MUG-BLUE", "3", "0", "0", "3"],
                                                                    ["TEA-COLD", "100", "5", "0", "95"]]
    screenshot(page, "24-boards-stock")
    check_accessibility(page)
    page.get_by_role("link", name="TEA-COLD").click()
    page.get_by_role("heading", name="库存流水").wait_for()
    assert page.get_by_role("form", name="调整库存").count() == 0  # 客服组长 does not adjust stock
    screenshot(page, "24-boards-stock-sku")
    check_accessibility(page)


def test_the_dashboards_draw_the_shops_day(as_role: Any) -> None:
    page = as_role("cs_lead")
    nav(page, "看板数据").click()
    page.get_by_role("heading", name="看板数据").wait_for()
    # DY1000 … DY1004 were placed on Wednesday 2026-11-11 from 10:00 to 10:40 Beijing time
    cell = page.locator('#heatmap rect[data-cell="2-10"]')
    assert cell.get_attribute("data-n") == "5"
    assert page.locator("#heatmap svg").get_attribute("aria-label") == "每周各时段下单量（星期 × 小时）"
    assert cells(page.locator("#grid-list tbody tr").nth(0)) == ["1", "杭州市西湖区", "4", "66.67%"]
    screenshot(page, "26-boards-dashboards")
    check_accessibility(page)
    page.get_by_label("渠道").select_option("taobao")
    page.get_by_role("button", name="查看").click()
    page.get_by_text("所选日期内没有能定位的订单；换个日期范围试试。").wait_for()
