"""The mapping form in chromium: 运营 imports the six-channel sources template, changes the
source of one field in the mapping table and sees the DSL follow (comments kept), previews the
draft mapping on the raw payload of a stored order of that source and on a pasted payload that
does not fit (the failure in Chinese next to the field, with the payload path and mapping line);
客服 may preview but not change; a change without the CSRF token is refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import check_accessibility, screenshot
from tests.browser.test_builder_flow import editor_text, nav
from tests.orders.order_factory import order_py

RULESET = "sources_six_channels"
PAYLOAD = Path(__file__).resolve().parents[1] / "orders" / "payloads" / "douyin_shop_order_detail.json"


@pytest.fixture(scope="module")
def stored_douyin_order(live_services: Any) -> dict[str, Any]:
    from engine.orders.store import Incoming, store_order

    payload: dict[str, Any] = json.loads(PAYLOAD.read_text(encoding="utf-8"))
    store_order(live_services.db, Incoming(order=order_py(str(payload["order_id"])), source="douyin", via="pull",
                                           payload=payload), now=datetime(2026, 3, 8, 12, 0, tzinfo=UTC))
    return payload


def mapping_row(page: Any, target: str) -> Any:
    return page.locator(f'#mapping-tables tr[data-target="{target}"]')


def test_ops_edits_a_mapping_in_the_table_and_previews_a_stored_payload(staff: Any, stored_douyin_order: Any) -> None:
    page = staff("ops").page
    page.goto("/")
    nav(page, "模板库").click()
    page.get_by_role("article", name="六大平台订单与库存").get_by_role("button", name="导入").click()
    page.wait_for_url(f"**/rulesets/{RULESET}")
    page.get_by_label("映射（来源）").select_option("douyin")
    source = page.get_by_label("shop 的来源", exact=True)
    assert source.input_value() == "shop_name"
    before = editor_text(page)
    source.fill('concat(shop_name, "-抖店")')
    source.press("Tab")
    page.wait_for_function("() => OPEditor.textOf(document.querySelector('[aria-label=\"规则文本\"]'))"
                           ".includes('shop = concat(shop_name, \"-抖店\")')")
    text = editor_text(page)
    assert "    shop = concat(shop_name, \"-抖店\")\n" in text
    assert "# 收件人信息加密：明文字段为空，用平台给的脱敏值；密文留给解密和电子面单" in text
    changed = [(a, b) for a, b in zip(before.split("\n"), text.split("\n"), strict=True) if a != b]
    assert changed == [("    shop = shop_name", '    shop = concat(shop_name, "-抖店")')]  # nothing else moved

    page.get_by_label("最近订单报文").select_option(label=f"{stored_douyin_order['order_id']}（2026-03-08 12:00 UTC）")
    page.get_by_role("button", name="预览映射").click()
    result = page.get_by_role("region", name="映射预览")
    result.filter(has_text="映射成功").wait_for()
    body = result.inner_text()
    assert '"shop": "清风茶舍旗舰店-抖店"' in body
    assert f'"order_id": "{stored_douyin_order["order_id"]}"' in body
    screenshot(page, "20-mapping-preview")
    check_accessibility(page)

    bad = dict(stored_douyin_order, create_time="昨天")
    page.get_by_label("最近订单报文").select_option("")
    page.get_by_label("样例报文（JSON）").fill(json.dumps(bad, ensure_ascii=False))
    page.get_by_role("button", name="预览映射").click()
    result.filter(has_text="映射失败").wait_for()
    failure = mapping_row(page, "created_at").locator(".mapping-failure")
    line = text.split("\n").index("mapping douyin {") + 1 + 3  # created_at is the third field
    assert failure.inner_text().startswith(f"映射失败：字段「created_at」（映射第 {line} 行）取报文 $.create_time 时出错")
    screenshot(page, "21-mapping-failure")


def test_reader_may_preview_but_not_change_a_mapping(staff: Any, base_url: str) -> None:
    page = staff("cs").page
    page.goto(f"/rulesets/{RULESET}")
    page.get_by_label("映射（来源）").select_option("douyin")
    source = page.get_by_label("shop 的来源", exact=True)
    assert source.get_attribute("readonly") is not None
    assert page.get_by_role("button", name="添加字段").count() == 0
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    content = editor_text(page)
    rows = {"content": content, "rows": [{"target": "order_id", "source": "order_id"}]}
    refused = page.request.post(f"/rulesets/{RULESET}/mappings/douyin/rows", data=rows,
                                headers={"X-CSRFToken": csrf})
    assert refused.status == 403
    preview = page.request.post(f"/rulesets/{RULESET}/mappings/douyin/preview",
                                data={"content": content, "payload": json.dumps({"order_id": "X"})},
                                headers={"X-CSRFToken": csrf})
    assert preview.status == 200
    assert preview.json()["ok"] is False  # a payload without most fields does not fit


def test_a_mapping_change_without_the_csrf_token_is_refused(staff: Any) -> None:
    page = staff("ops").page
    page.goto(f"/rulesets/{RULESET}")
    content = editor_text(page)
    refused = page.request.post(f"/rulesets/{RULESET}/mappings/douyin/rows",
                                data={"content": content, "rows": [{"target": "order_id", "source": "order_id"}]})
    assert refused.status == 400
    assert editor_text(page) == content
