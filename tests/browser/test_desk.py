"""The 发货台 in Chromium, the way a warehouse worker goes: five orders from five channels
wait at the desk; the worker ticks them, picks 顺丰 and presses 获取电子面单 — the own shop's
order gets its waybill from the fake 快递鸟, the marketplaces' from their own fake e-waybill
services; prints the pick list (print CSS); opens the labels and confirms 已打印，确认发货; the
outbox then writes each tracking number back to its platform's fake. Screenshots at 1366×768.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from engine.outbox.dispatcher import Dispatcher
from engine.waybills.model import Waybill
from engine.waybills.service import set_location
from tests.browser.conftest import PASSWORD, check_accessibility, screenshot, signed_in_page
from tests.orders_in.conftest import publish_sources
from tests.shipping.conftest import bring_in

CHANNELS = ("miniprogram", "taobao", "pdd", "douyin", "xiaohongshu")
LINES = {"miniprogram": [("TEA-LJ-250", 2), ("SCARF-SILK", 1)], "taobao": [("TEA-LJ-250", 1)],
         "pdd": [("TSHIRT-W-M", 2)], "douyin": [("TEA-LJ-250", 1), ("TSHIRT-W-M", 1)],
         "xiaohongshu": [("TEA-PE-357", 1)]}


@pytest.fixture(scope="module")
def shop(live_services: Any) -> Iterator[dict[str, Any]]:
    """The fakes, the sources published, a warehouse user, five orders waiting (by channel)."""
    from engine.auth.users import create_user
    from engine.orders.writeback import register_writeback_handler
    from tests.waybills.conftest import start_desk_fakes

    with pytest.MonkeyPatch.context() as mp:
        fakes = start_desk_fakes(lambda: live_services.clock.now().timestamp(), mp)
        publish_sources(live_services)
        register_writeback_handler(live_services)
        with live_services.db.transaction() as s:
            create_user(s, "li_cang", "warehouse", PASSWORD, display_name="李仓管")
        orders = {ch: bring_in(live_services, fakes[ch], ch, LINES[ch])[:2] for ch in CHANNELS}
        for sku, location in (("TEA-LJ-250", "A-01-02"), ("TSHIRT-W-M", "A-03-01"), ("SCARF-SILK", "B-01-05")):
            set_location(live_services, sku, location)
        yield {"fakes": fakes, "orders": orders}
        for fake in fakes.values():
            fake.stop()


@pytest.fixture(scope="module")
def warehouse(browser: Any, base_url: str, shop: dict[str, Any]) -> Iterator[Any]:
    page = signed_in_page(browser, base_url, "li_cang", timeout_ms=15_000,
                          init_script="window.__printed = 0; window.print = function () { window.__printed += 1; };")
    yield page
    page.context.close()


def _tick_all(page: Any, shop: dict[str, Any]) -> None:
    for channel in CHANNELS:
        page.get_by_label(f"选择订单 {shop['orders'][channel][1]}").check()


def test_a_warehouse_worker_ships_five_orders_from_the_desk(warehouse: Any, shop: dict[str, Any],
                                                            live_services: Any) -> None:
    page = warehouse
    page.get_by_role("link", name="发货台").click()
    page.wait_for_url("**/desk")
    assert page.locator("#desk-orders tbody tr").count() == 5
    screenshot(page, "desk")
    check_accessibility(page)

    _tick_all(page, shop)
    page.get_by_label("快递公司").select_option(label="顺丰速运")
    page.get_by_role("button", name="获取电子面单").click()
    page.wait_for_selector("#waybill-results")
    assert page.locator("#desk-summary").inner_text() == "取号完成：成功 5 单，失败 0 单"
    assert page.locator('#waybill-results tr[data-ok="yes"]').count() == 5
    screenshot(page, "desk_waybills")
    check_accessibility(page)
    with live_services.db.session() as s:
        numbers = {(w.channel, w.order_id): w.tracking_no for w in s.scalars(select(Waybill))}
    assert len(numbers) == 5
    fakes = shop["fakes"]
    assert [m["waybill_code"] for m in fakes["kdniao"].messages] == [numbers[("miniprogram",
                                                                               shop["orders"]["miniprogram"][1])]]
    for channel in CHANNELS[1:]:
        assert [m["waybill_code"] for m in fakes[channel].messages if m.get("waybill_code")] == [
            numbers[(channel, shop["orders"][channel][1])]]

    page.get_by_role("button", name="拣货单").click()  # the selection stays ticked after taking numbers
    page.wait_for_url("**/desk/pick-list?**")
    assert "csrf_token" not in page.url
    rows = page.locator("#pick-list tbody tr")
    assert [rows.nth(i).locator("td").nth(1).inner_text() for i in range(rows.count())] == [
        "TEA-LJ-250", "TSHIRT-W-M", "SCARF-SILK", "TEA-PE-357"]
    assert page.locator("#pick-total").inner_text() == "9"
    page.get_by_role("button", name="打印拣货单").click()
    assert page.evaluate("window.__printed") == 1
    screenshot(page, "desk_pick_list")
    check_accessibility(page)
    page.emulate_media(media="print")
    assert page.locator("header.top").is_hidden() and page.locator("#print-pick-list").is_hidden()
    screenshot(page, "desk_pick_list_print")
    page.emulate_media(media="screen")

    page.goto("/desk")
    page.wait_for_selector("#desk-orders")
    for channel in CHANNELS:
        page.get_by_label(f"选择订单 {shop['orders'][channel][1]}").check()
    page.get_by_role("button", name="打印面单").click()
    page.wait_for_url("**/desk/print?**")
    assert page.locator("article.label").count() == 5
    page.get_by_role("button", name="打印", exact=True).click()
    assert page.evaluate("window.__printed") == 1  # a new page: the counter started again
    screenshot(page, "desk_labels")
    page.get_by_role("button", name="已打印，确认发货").click()
    page.wait_for_selector("#ship-results")
    assert page.locator("#desk-summary").inner_text() == "发货完成：成功 5 单，失败 0 单"
    screenshot(page, "desk_shipped")

    assert Dispatcher(live_services, worker_id="browser").dispatch_due(limit=50) == 5
    for channel in CHANNELS:
        written = [m["tracking_no"] for m in fakes[channel].messages if m.get("tracking_no")]
        assert written == [numbers[(channel, shop["orders"][channel][1])]], channel
