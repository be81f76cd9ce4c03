"""A 客服组长 cancels a risk-held order on 预警, in chromium: the shop's day of
:mod:`tests.boards.world` plus a sixth order of the same phone from the mini-program, whose
checkout had already reserved its two units (``POST /stock/reserve`` under the order's key)
when the risk rule held it as 疑似黄牛. The 客服组长 opens 取消 on its row, types the reason,
confirms; the order leaves the list, its order page says 已取消 with who and why, and 库存 shows
the two units back. Pages are screenshotted at 1366×768 and checked with axe-core.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from engine.clock import ManualClock
from tests.boards import world as w
from tests.browser.conftest import PASSWORD, VIEWPORT, check_accessibility, screenshot
from tests.browser.test_boards_flow import BOARD_STAFF, cells, nav
from tests.support import backends

HELD = "MP1005"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, redis_url: str | None,
         redis_prefix: str) -> Iterator[tuple[Any, w.World]]:
    from engine.auth.users import create_user
    from engine.config import Settings
    from engine.services import Services
    from engine.storage.db import Database
    from engine.storage.migrate import upgrade

    url = backends.configured_database_url()
    schema = None
    if url and url.startswith("postgresql"):
        schema = backends.PostgresSchema(url)
        db_url = schema.create()
    else:
        db_url = f"sqlite:///{tmp_path_factory.mktemp('boards_cancel')}/boards.db"
    db = Database(db_url)
    upgrade(db)
    db.dispose()
    settings = Settings(database_url=db_url, redis_url=redis_url, redis_prefix=redis_prefix + "boards-cancel:",
                        secret_key="boards-cancel-secret", testing=True, handler_modules=("tests.support.handlers",))
    services = Services.build(settings, clock=ManualClock(w.T0))
    world = w.build(services)
    at = w.T0 + timedelta(minutes=50)
    services.clock.set(at)
    services.inventory.reserve(f"miniprogram/{HELD}", [{"sku_id": "TEA-COLD", "qty": 2}], channel="miniprogram",
                               actor="checkout")
    world.orders[HELD] = w.take_in(services, w.order(HELD, at=at, city="南京", qty=2, channel="miniprogram"))
    services.clock.set(w.NOW)
    with services.db.transaction() as s:
        for role, (username, display) in BOARD_STAFF.items():
            create_user(s, username, role, PASSWORD, display_name=display)
    yield services, world
    services.db.dispose()
    if schema is not None:
        schema.drop()


@pytest.fixture(scope="module")
def shop_url(shop: tuple[Any, w.World]) -> Iterator[str]:
    from werkzeug.serving import make_server

    from engine.app import create_app

    server = make_server("127.0.0.1", 0, create_app(services=shop[0]), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def as_role(browser: Any, shop_url: str) -> Iterator[Any]:
    contexts: dict[str, Any] = {}

    def login(role: str) -> Any:
        if role not in contexts:
            context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", base_url=shop_url)
            context.set_default_timeout(30_000)  # a busy CI machine: a wait budget, not a timed assertion
            context.set_default_navigation_timeout(30_000)
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("用户名").fill(BOARD_STAFF[role][0])
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            page.wait_for_url("**/")
            contexts[role] = context
        return contexts[role].pages[0]

    yield login
    for context in contexts.values():
        context.close()


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
