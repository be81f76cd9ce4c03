"""A 客服组长 cancels a risk-held order on 预警, in chromium: the shop's day of
:mod:`tests.boards.world` plus a sixth order of the same phone from the mini-program, whose
checkout had already reserved its two units (``POST /stock/reserve`` under the order's key)
when the risk rule held it as 疑似黄牛. The 客服组长 opens 取消 on its row, types the reason,
confirms; the order leaves the list, its order page says 已取消 with who and why, and 库存 shows
the two units back. Pages are screenshotted at 1366×768 and checked with axe-core.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.boards import world as w
from tests.browser.conftest import check_accessibility, screenshot
from tests.browser.test_boards_flow import board_staff, boards_shop, cells, nav

HELD = "MP1005"


def _reserved_at_checkout_then_held(services: Any, world: w.World) -> None:
    at = w.T0 + timedelta(minutes=50)
    services.clock.set(at)
    services.inventory.reserve(f"miniprogram/{HELD}", [{"sku_id": "TEA-COLD", "qty": 2}], channel="miniprogram",
                               actor="checkout")
    world.orders[HELD] = w.take_in(services, w.order(HELD, at=at, city="南京", qty=2, channel="miniprogram"))
    services.clock.set(w.NOW)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, redis_url: str | None,
         redis_prefix: str) -> Iterator[tuple[Any, w.World]]:
    with boards_shop(tmp_path_factory, redis_url, redis_prefix, "boards-cancel",
                     _reserved_at_checkout_then_held) as made:
        yield made


@pytest.fixture(scope="module")
def as_role(browser: Any, shop: tuple[Any, w.World]) -> Iterator[Any]:
    with board_staff(browser, shop[0]) as login:
        yield login


def test_a_cs_lead_cancels_a_risk_held_order_and_its_stock_comes_back(as_role: Any,
                                                                      shop: tuple[Any, w.World]) -> None:
    services, world = shop
    assert services.inventory.get("TEA-COLD")["reserved_stock"] == 6  # DY1000…DY1003 and the checkout's two
    page = as_role("cs_lead")
    nav(page, "预警").click()
    page.get_by_role("heading", name="风控挂起的订单").wait_for()
    row = page.locator(f'#risk-holds tbody tr[data-order="{HELD}"]')
    assert cells(row)[:2] == [HELD, "小程序"]
    form = row.get_by_role("form", name=f"取消订单 {HELD}")
    form.get_by_text("取消…").click()
    form.get_by_label("取消原因").fill("电话核实为黄牛，与买家协商取消")
    screenshot(page, "27-boards-cancel-form")
    check_accessibility(page)
    form.get_by_role("button", name=f"确认取消 订单 {HELD}").click()
    page.get_by_role("status").filter(has_text=f"已取消订单 {HELD}，释放库存 2 件").wait_for()
    assert page.locator(f'#risk-holds tbody tr[data-order="{HELD}"]').count() == 0
    assert page.locator('#risk-holds tbody tr[data-order="DY1004"]').count() == 1  # the other hold stays
    screenshot(page, "27-boards-cancelled")

    page.goto(f"/orders/{world.orders[HELD]}")
    page.get_by_role("heading", name=f"订单 {HELD} 小程序 · 旗舰店").wait_for()
    assert page.locator("#order-facts dd").first.inner_text().startswith("已取消")
    assert page.get_by_role("form", name=f"取消订单 {HELD}").count() == 0
    assert "人工取消：电话核实为黄牛，与买家协商取消" in page.locator("main").inner_text()

    nav(page, "库存").click()
    rows = page.locator("#stock-list tbody tr")
    figures = {cells(rows.nth(i))[0]: cells(rows.nth(i))[:5] for i in range(rows.count())}
    assert figures["TEA-COLD"] == ["TEA-COLD", "100", "4", "0", "96"]
    page.get_by_role("link", name="TEA-COLD").click()
    page.get_by_role("heading", name="库存流水").wait_for()
    assert "人工取消：电话核实为黄牛，与买家协商取消" in page.locator("#ledger tbody tr").first.inner_text()
    stock = services.inventory.get("TEA-COLD")
    assert (stock["total_stock"], stock["reserved_stock"], stock["available"]) == (100, 4, 96)
