"""The builder the way a shop's staff use it, in chromium: 运营 imports the festival promotion,
publishes it, changes 满300减40 to 满300减50 in the form (the DSL follows, its comments kept),
types an error and sees it underlined with its message, simulates a sample order against the
published version, saves with Ctrl+S, publishes, compares versions and rolls back; 客服 sees no
发布 button; 管理员 creates a user and revokes a token. Every page is screenshotted at
1366×768 and checked with axe-core.

The steps share one server and one signed-in context per role, and run in order.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.browser.conftest import check_accessibility, screenshot

RULESET = "promotion_apparel_festival"


def nav(page: Any, name: str) -> Any:
    """A link of the main navigation."""
    return page.get_by_role("navigation").get_by_role("link", name=name, exact=True)


def editor_text(page: Any) -> str:
    """The editor's document (not its rendered lines)."""
    return page.get_by_role("textbox", name="规则文本").evaluate("node => OPEditor.textOf(node)")


def test_login_page_is_labelled(browser: Any, base_url: str) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.goto(base_url + "/login")
    page.get_by_label("用户名").fill("wang_yun")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    page.get_by_role("alert").filter(has_text="用户名或密码错误").wait_for()
    screenshot(page, "01-login")
    check_accessibility(page)
    context.close()


def test_ops_imports_the_festival_template_and_publishes_it(staff: Any) -> None:
    page = staff("ops").page
    page.get_by_role("heading", name="工作台").wait_for()
    screenshot(page, "00-home")
    check_accessibility(page)
    nav(page, "规则集").click()
    page.get_by_role("heading", name="规则集").wait_for()
    assert nav(page, "用户").count() == 0  # 运营 is not an administrator
    assert page.get_by_role("button", name="新建规则集").is_visible()
    screenshot(page, "02-rulesets-empty")
    check_accessibility(page)

    nav(page, "模板库").click()
    card = page.get_by_role("article", name="女装节大促")
    assert "满300减40" in card.get_by_label("女装节大促 规则文本预览").inner_text()
    assert "促销 apparel_festival" in card.inner_text()
    screenshot(page, "03-templates")
    check_accessibility(page)
    card.get_by_role("button", name="导入").click()

    page.wait_for_url(f"**/rulesets/{RULESET}")
    assert page.get_by_role("status").filter(has_text="已新建规则集").count() == 1
    assert 'rule "满300减40" when current_total >= ¥300 { amount_off ¥40' in editor_text(page)
    page.get_by_label("发布说明").fill("导入女装节大促模板")
    page.get_by_role("button", name="发布").click()
    page.get_by_role("status").filter(has_text="已发布 v1").wait_for()


def test_ops_edits_the_coupon_in_the_form_and_the_dsl_follows(staff: Any) -> None:
    page = staff("ops").page
    rule = page.locator('.rule[data-rule="满300减40"]')
    rule.get_by_label("规则名称").fill("满300减50")
    rule.get_by_label("规则名称").press("Tab")
    rule.get_by_label("减免金额（元）").fill("50")
    rule.get_by_label("减免金额（元）").press("Tab")
    page.wait_for_function(
        "() => OPEditor.textOf(document.querySelector('.cm-content')).includes('amount_off ¥50')")
    text = editor_text(page)
    assert 'rule "满300减50" when current_total >= ¥300 { amount_off ¥50 split by amount on lines where category != "礼品卡" }' in text
    assert "满300减40" not in text
    # The writer's comments survive the form edit.
    assert "# 女装节大促：会员等级折扣 → 店铺券（二选一，择优）→ 平台红包与跨店满减（平台出资）；" in text
    assert page.get_by_role("region", name="检查结果").inner_text().strip().endswith("没有发现问题")

    # Tiers are in priority order: a button and a drag each move one, and `order` follows.
    page.get_by_role("button", name="下移 会员等级折扣").click()
    page.wait_for_function(
        "() => OPEditor.textOf(document.querySelector('.cm-content')).includes('order store_coupon > member_discount')")
    tiers = page.locator(".tier[data-tier]")
    assert tiers.nth(0).get_attribute("data-tier") == "store_coupon"
    tiers.nth(1).drag_to(tiers.nth(0), source_position={"x": 6, "y": 6}, target_position={"x": 6, "y": 6})
    page.wait_for_function(
        "() => OPEditor.textOf(document.querySelector('.cm-content'))"
        ".includes('order member_discount > store_coupon > platform_red_packet')")
    assert page.locator(".tier[data-tier]").nth(0).get_attribute("data-tier") == "member_discount"


def test_ops_types_an_error_and_sees_it_underlined(staff: Any) -> None:
    page = staff("ops").page
    before = editor_text(page)
    box = page.get_by_role("textbox", name="规则文本")
    box.click()
    page.keyboard.press("Control+End")
    page.keyboard.insert_text('\npromotion 新客 { tier t { rule "新客95折" when custmer.level == "新客" { percent_off 5% } } }')
    results = page.get_by_role("region", name="检查结果")
    results.get_by_text("未知字段 custmer.level；你是不是想写 customer？").wait_for()
    assert re.search(r"第 \d+ 行第 \d+ 列：未知字段 custmer.level；你是不是想写 customer？", results.inner_text())
    underline = page.locator(".cm-lintRange-error")
    underline.first.wait_for()
    assert underline.first.inner_text() == "custmer.level"
    screenshot(page, "04-ruleset-error")
    # Put the text back as it was, then the check is clean again.
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(before)
    results.get_by_text("没有发现问题").wait_for()


def test_ops_simulates_the_draft_against_the_published_version(staff: Any) -> None:
    page = staff("ops").page
    page.get_by_role("button", name="试算").click()
    results = page.get_by_role("region", name="试算结果")
    results.locator('[data-payable="已发布"]').wait_for()
    # 真丝连衣裙 ¥299 + 纯棉T恤 ¥89 = ¥388; 银卡98折 -¥7.76; 店铺券; 跨店每满300减30 -¥30; 包邮.
    assert results.locator('[data-payable="草稿"]').inner_text() == "¥300.24"
    assert results.locator('[data-payable="已发布"]').inner_text() == "¥310.24"
    assert "满300减50 -¥38.53" in results.inner_text()  # its share on the ¥299 line
    page.locator("#sim-results details").first.evaluate("d => d.open = true")
    page.get_by_role("heading", name="试算").scroll_into_view_if_needed()
    assert "规则「满300减50」" in results.inner_text()  # the Chinese audit log
    screenshot(page, "05-ruleset-simulate")
    check_accessibility(page)


def test_ops_saves_with_ctrl_s_publishes_compares_and_rolls_back(staff: Any) -> None:
    page = staff("ops").page
    page.get_by_role("textbox", name="规则文本").click()
    page.keyboard.press("Control+s")
    page.get_by_role("status").filter(has_text="已保存（修订 2）").wait_for()
    page.get_by_label("发布说明").fill("店铺券改为满300减50")
    page.get_by_role("button", name="发布").click()
    page.get_by_role("status").filter(has_text="已发布 v2").wait_for()

    page.get_by_label("版本 A").select_option("1")
    page.get_by_label("版本 B").select_option("2")
    page.get_by_role("button", name="对比").click()
    page.wait_for_url("**/diff?a=1&b=2")
    assert page.locator("#diff-summary").inner_text() == "v1 → v2：1 行不同"
    changed = page.locator("tr.replace")
    assert "amount_off ¥40" in changed.first.inner_text() and "amount_off ¥50" in changed.first.inner_text()
    screenshot(page, "06-diff")
    check_accessibility(page)

    page.go_back()
    page.locator("tr", has_text="导入女装节大促模板").get_by_role("button", name="回滚").click()
    summary = page.get_by_role("alert")
    assert "将把 v1" in summary.inner_text() and "重新发布为 v3" in summary.inner_text()
    assert "共 1 行变化" in summary.inner_text()
    screenshot(page, "07-rollback-confirm")
    check_accessibility(page)
    page.get_by_label("回滚说明").fill("满减力度先恢复")
    page.get_by_role("button", name="回滚").click()
    page.get_by_role("status").filter(has_text="已回滚到 v1 的内容，发布为 v3").wait_for()
    assert "amount_off ¥40" in editor_text(page)
    audit = page.get_by_role("region", name="操作记录") if False else page.locator("section", has_text="操作记录")
    assert "回滚" in audit.last.inner_text()
    screenshot(page, "08-ruleset")
    check_accessibility(page)

    nav(page, "规则集").click()
    row = page.locator("tr", has_text=RULESET)
    assert "已发布" in row.inner_text() and "v3" in row.inner_text()


def test_ops_walks_the_aftersales_machine_in_the_sandbox(staff: Any) -> None:
    page = staff("ops").page
    nav(page, "模板库").click()
    page.get_by_role("article", name="标准售后").get_by_role("button", name="导入").click()
    page.wait_for_url("**/rulesets/aftersales_standard")
    sandbox = page.locator("#sandbox")
    sandbox.get_by_role("status").filter(has_text="当前状态：待审核（负责人 客服，时限 24h）").wait_for()
    result = page.get_by_role("region", name="沙盒结果")

    sandbox.get_by_label("以角色").select_option(label="仓储")
    sandbox.get_by_role("button", name="审核通过").click()
    result.get_by_text("已拒绝：角色「仓储」不能执行「审核通过」，只有客服可以").wait_for()

    sandbox.get_by_label("以角色").select_option(label="客服")
    sandbox.get_by_role("button", name="审核通过").click()
    result.get_by_text("已执行「审核通过」：待审核 → 待退货").wait_for()
    sandbox.get_by_role("button", name="登记退货物流").click()
    result.get_by_text("已拒绝：执行「登记退货物流」需要先填写：return_tracking_no").wait_for()
    sandbox.get_by_label("登记退货物流 的 return_tracking_no").fill("SF1234567890")
    sandbox.get_by_role("button", name="登记退货物流").click()
    result.get_by_text("已执行「登记退货物流」：待退货 → 待质检").wait_for()
    sandbox.get_by_label("以角色").select_option(label="仓储")
    sandbox.get_by_label("质检通过 的 qc_result").fill("不合格")
    sandbox.get_by_role("button", name="质检通过").click()
    result.get_by_text('已拒绝：「质检通过」的条件不成立：qc_result == "合格"').wait_for()
    assert sandbox.get_by_role("status").first.inner_text() == "当前状态：待质检（负责人 仓储，时限 48h）"
    assert page.locator("#sb-diagram g.lane").count() >= 4  # swimlanes by owner
    assert page.locator("#sb-diagram g[data-lane=warehouse]").count() == 1
    assert page.locator("#sb-diagram rect.current").count() == 1
    # The machine form edits the same model: 待质检's deadline 48h → 72h; the DSL and the sandbox follow.
    form = page.locator("#machine-forms")
    form.get_by_label("待质检 的时限（小时）").fill("72")
    form.get_by_label("待质检 的时限（小时）").press("Tab")
    page.wait_for_function("() => OPEditor.textOf(document.querySelector('.cm-content')).includes('state 待质检 owner 仓储 deadline 72h')")
    sandbox.get_by_role("status").filter(has_text="当前状态：待质检（负责人 仓储，时限 72h）").wait_for()
    sandbox.scroll_into_view_if_needed()
    screenshot(page, "09-sandbox")
    check_accessibility(page)


RISK_RULES = """# 风控与预警
channel 品控主管群 feishu { webhook env FEISHU_QC_HOOK, secret env FEISHU_QC_SECRET }

alert 面料起球预警 {
    measure count(returns where reason == "面料起球") per week
    when change_vs_previous > 15%
    notify 品控主管群 "面料起球退货周环比上升 {change}"
}

risk 疑似黄牛 {
    # 同一手机号一小时内多单、多城市
    when count(orders by buyer_phone within 1h) >= 5 and distinct(receiver.city of orders by buyer_phone within 1h) >= 3
    then flag "疑似黄牛" hold
}
"""


def test_ops_creates_a_ruleset_and_sets_risk_and_alert_numbers_in_plain_fields(staff: Any) -> None:
    page = staff("ops").page
    nav(page, "规则集").click()
    page.get_by_label("名称").fill("risk_rules")
    page.get_by_label("标题").fill("风控与预警")
    page.get_by_role("button", name="新建规则集").click()
    page.wait_for_url("**/rulesets/risk_rules")
    page.get_by_role("textbox", name="规则文本").click()
    page.keyboard.insert_text(RISK_RULES)
    form = page.locator("#promotion-forms")
    form.get_by_label("订单 数量（按 buyer_phone） 阈值").fill("4")
    form.get_by_label("订单 数量（按 buyer_phone） 阈值").press("Tab")
    page.wait_for_function("() => OPEditor.textOf(document.querySelector('.cm-content')).includes('>= 4 and')")
    form.get_by_label("订单 数量（按 buyer_phone） 时间窗（分钟）").fill("30")
    form.get_by_label("订单 数量（按 buyer_phone） 时间窗（分钟）").press("Tab")
    form.get_by_label("环比变化 阈值").fill("20")
    form.get_by_label("环比变化 阈值").press("Tab")
    page.wait_for_function("() => OPEditor.textOf(document.querySelector('.cm-content')).includes('> 20%')")
    text = editor_text(page)
    assert "when count(orders by buyer_phone within 30m) >= 4 and distinct(receiver.city of orders by buyer_phone " \
           "within 1h) >= 3" in text
    assert "    when change_vs_previous > 20%\n" in text
    assert "# 风控与预警\n" in text and "    # 同一手机号一小时内多单、多城市\n" in text
    page.get_by_role("button", name="保存草稿").click()
    page.get_by_role("status").filter(has_text="已保存（修订 2）").wait_for()
    screenshot(page, "12-risk-form")
    check_accessibility(page)


def test_cs_finds_no_publish_button(staff: Any) -> None:
    page = staff("cs").page
    nav(page, "规则集").click()
    assert page.get_by_role("button", name="新建规则集").count() == 0
    page.get_by_role("link", name=RULESET).click()
    page.get_by_role("region", name="检查结果").wait_for()
    for name in ("发布", "保存草稿", "格式化", "回滚"):
        assert page.get_by_role("button", name=name, exact=True).count() == 0, name
    assert page.get_by_role("button", name="试算").count() == 1
    screenshot(page, "10-ruleset-cs")
    check_accessibility(page)
    nav(page, "模板库").click()
    assert page.get_by_role("button", name="导入").count() == 0


def test_admin_creates_a_user_and_revokes_a_token(staff: Any, base_url: str) -> None:
    page = staff("admin").page
    nav(page, "用户").click()
    page.get_by_label("用户名", exact=True).fill("liu_cangchu")
    page.get_by_label("姓名").fill("刘仓储")
    page.get_by_label("角色").select_option(label="仓储")
    page.get_by_label("密码", exact=True).fill("仓库-口令-2026")
    page.get_by_role("button", name="创建用户").click()
    page.get_by_role("status").filter(has_text="已创建用户 liu_cangchu").wait_for()
    row = page.locator('tr[data-user="liu_cangchu"]')
    assert "仓储" in row.inner_text() and "正常" in row.inner_text()

    row.get_by_label("liu_cangchu 的令牌用途").fill("WMS 对接")
    row.get_by_role("button", name="为 liu_cangchu 创建令牌").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("op_")
    api = base_url + "/api/v1/stock/SKU-1"
    assert requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code in (200, 404)
    screenshot(page, "11-users")
    check_accessibility(page)

    page.locator('tr[data-user="liu_cangchu"]').get_by_role("button", name=f"吊销令牌 {token[:10]}").click()
    page.get_by_role("status").filter(has_text=f"已吊销令牌 {token[:10]}").wait_for()
    assert "已吊销" in page.locator('tr[data-user="liu_cangchu"]').inner_text()
    assert requests.get(api, headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 401


@pytest.mark.parametrize("path", ["/rulesets", "/templates"])
def test_pages_render_for_the_admin_too(staff: Any, path: str) -> None:
    page = staff("admin").page
    page.goto(path)
    assert nav(page, "用户").count() == 1
    check_accessibility(page)
