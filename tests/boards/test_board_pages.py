"""The board pages over the Flask test client, the way staff use them: a 客服's queue with the
overdue ticket first, the kanban's buttons and forms per role and its refusals in Chinese, an
order's story masked per role, stock figures with drift and an adjustment with its reason,
the risk holds a 客服组长 releases or cancels (an order also from its own page), and the alert firings a 仓储 user acknowledges once."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from engine.inventory.models import ChannelPush, ChannelSnapshot, LedgerEntry, StockItem
from engine.orders.model import Order, OrderEvent
from engine.orders.pipeline_model import OrderPipeline, OrderTicket
from engine.workflow.models import WorkflowInstance
from tests.boards import world as w
from tests.builder.conftest import csrf_of


def _rows(html: str, table: str) -> list[str]:
    body = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def test_the_cs_queue_lists_its_tickets_overdue_first_with_the_time_left(signed_in: Any, world: w.World) -> None:
    html = signed_in("cs").get("/work").get_data(as_text=True)
    a, b, c = (world.tickets[n] for n in "ABC")
    assert _rows(html, "work-list") == [
        f"#{a} 标准售后 待审核 DY1000 — 138****5678 2026-11-12 10:00 已超时 6小时 在看板中处理 工单 #{a}",
        f"#{b} 标准售后 待审核 DY1001 — 138****5678 2026-11-12 20:00 剩余 4小时 在看板中处理 工单 #{b}",
        f"#{c} 标准售后 待审核 DY2000 — 139****6666 2026-11-13 06:00 剩余 14小时 在看板中处理 工单 #{c}",
    ]
    assert 'id="f-owner"' not in html  # a 客服 sees its own queue only


def test_the_queue_searches_by_phone_tail_and_an_admin_may_open_another_roles_queue(
        signed_in: Any, world: w.World) -> None:
    html = signed_in("cs").get("/work?q=6666").get_data(as_text=True)
    assert [r.split()[0] for r in _rows(html, "work-list")] == [f"#{world.tickets['C']}"]
    html = signed_in("admin").get("/work?owner=warehouse").get_data(as_text=True)
    rows = _rows(html, "work-list")
    # the warehouse owns the four order tickets waiting for shipment (the held and the short
    # order have none yet) and the after-sales ticket waiting for its quality check
    assert [r.split()[:3] for r in rows] == [["#1", "订单生命周期", "待发货"], ["#2", "订单生命周期", "待发货"],
                                             ["#3", "订单生命周期", "待发货"], ["#4", "订单生命周期", "待发货"],
                                             [f"#{world.tickets['Q']}", "标准售后", "待质检"]]
    assert "13812345678" in html  # 管理员 sees phones in full
    html = signed_in("cs").get("/work?owner=warehouse").get_data(as_text=True)
    assert f"#{world.tickets['Q']}" not in html  # only 管理员 and 运营 choose another queue


def test_the_kanban_shows_columns_with_owner_deadline_counts_and_the_roles_buttons(
        signed_in: Any, world: w.World) -> None:
    cs = signed_in("cs").get("/boards/aftersales").get_data(as_text=True)
    heads = re.findall(r'<h2 id="col-\d+">(.*?) <span class="tag due">(\d+)</span></h2>\s*<div class="meta">(.*?)</div>',
                       cs)
    assert heads == [("待审核", "3", "负责人：客服 · 时限 24h"), ("待退货", "0", "负责人：消费者 · 时限 7d"),
                     ("待质检", "1", "负责人：仓储 · 时限 48h"), ("待处理", "0", "负责人：客服组长"),
                     ("已补发", "0", "负责人：仓储"), ("待退款", "0", "负责人：财务")]
    assert cs.count(">审核通过</button>") == 3
    assert "质检通过…" not in cs  # 质检 is the warehouse's
    assert "在办 3 单" in cs and "在办 1 单" in cs  # the diagram's counts
    warehouse = signed_in("warehouse").get("/boards/aftersales").get_data(as_text=True)
    assert ">审核通过</button>" not in warehouse and warehouse.count("质检通过…") == 1


def test_a_cs_approves_a_ticket_and_a_refusal_is_explained_on_the_card(signed_in: Any, services: Any,
                                                                       world: w.World) -> None:
    cs = signed_in("cs")
    token = csrf_of(cs.get("/boards/aftersales").data)
    a = world.tickets["A"]
    done = cs.post(f"/boards/tickets/{a}/actions/审核通过", data={"csrf_token": token, "machine": "aftersales"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"ticket={a}")
    page = cs.get(done.headers["Location"]).get_data(as_text=True)
    assert f"已执行「审核通过」：工单 #{a} 从「待审核」到「待退货」" in page
    assert "审核通过：待审核 → 待退货 · user:" in page  # the side panel's history
    again = cs.post(f"/boards/tickets/{a}/actions/审核通过", data={"csrf_token": token, "machine": "aftersales"})
    assert again.status_code == 409
    assert "当前状态「待退货」不能执行「审核通过」：它只能从「待审核」执行" in again.get_data(as_text=True)
    with services.db.session() as s:
        assert s.get(WorkflowInstance, a).state == "待退货"


def test_the_warehouse_enters_the_quality_check_result_and_a_failed_guard_changes_nothing(
        signed_in: Any, services: Any, world: w.World) -> None:
    wh = signed_in("warehouse")
    token = csrf_of(wh.get("/boards/aftersales").data)
    q = world.tickets["Q"]
    missing = wh.post(f"/boards/tickets/{q}/actions/质检通过", data={"csrf_token": token, "qc_result": ""})
    assert missing.status_code == 422 and "执行「质检通过」需要先填写：qc_result" in missing.get_data(as_text=True)
    bad = wh.post(f"/boards/tickets/{q}/actions/质检通过", data={"csrf_token": token, "qc_result": "破损"})
    assert bad.status_code == 422
    assert "「质检通过」的条件不成立：qc_result == &#34;合格&#34;" in bad.get_data(as_text=True)
    with services.db.session() as s:
        assert s.get(WorkflowInstance, q).state == "待质检"
    ok = wh.post(f"/boards/tickets/{q}/actions/质检通过", data={"csrf_token": token, "qc_result": "合格"})
    assert ok.status_code == 302
    with services.db.session() as s:
        inst = s.get(WorkflowInstance, q)
        assert (inst.state, inst.data["qc_result"]) == ("待处理", "合格")


def test_the_order_story_is_masked_per_role(signed_in: Any, world: w.World) -> None:
    pk = world.orders["DY1004"]
    cs = signed_in("cs").get(f"/orders/{pk}").get_data(as_text=True)
    assert "王小明 · 138****5678" in cs and "浙江省杭州市西湖区****" in cs and "文三路" not in cs
    assert "平台原始数据仅管理员、运营可见" in cs
    assert "挂起中：风控规则 疑似黄牛（疑似黄牛）" in cs
    wh = signed_in("warehouse").get(f"/orders/{pk}").get_data(as_text=True)
    assert "王小明 · 13812345678" in wh and "浙江省杭州市西湖区文三路90号" in wh
    short = signed_in("ops").get(f"/orders/{world.orders['DY2000']}").get_data(as_text=True)
    assert "缺货 SKU：MUG-BLUE" in short and "¥195.00" in short


def test_the_order_list_filters_by_tag(signed_in: Any, world: w.World) -> None:
    client = signed_in("cs_lead")
    for tag, expected in (("风险", ["DY1004"]), ("缺货", ["DY2000"]), ("价格异常", [])):
        html = client.get(f"/orders?tag={tag}").get_data(as_text=True)
        found = re.findall(r'<tr data-order="([^"]+)">', html)
        assert found == expected, tag
    html = client.get("/orders?q=6666").get_data(as_text=True)
    assert re.findall(r'<tr data-order="([^"]+)">', html) == ["DY2000"]


def test_stock_shows_figures_drift_and_the_ledger_and_an_adjustment_needs_a_reason(
        signed_in: Any, services: Any, world: w.World) -> None:
    now = services.clock.now()
    with services.db.transaction() as s:
        s.add(ChannelPush(channel="douyin", sku_id="TEA-COLD", queued_version=5, queued_available=96,
                          pushed_version=5, pushed_available=96, pushed_at=now))
        s.add(ChannelSnapshot(channel="douyin", sku_id="TEA-COLD", reported_stock=90, available_at_pull=96,
                              fence_token=1, pulled_at=now))
    wh = signed_in("warehouse")
    listing = wh.get("/stock").get_data(as_text=True)
    assert _rows(listing, "stock-list") == [
        "MUG-BLUE 3 0 0 3 一致 2026-11-11 10:00",
        "TEA-COLD 100 4 0 96 平台显示与推送不一致 2026-11-11 10:30",
    ]
    page = wh.get("/stock/TEA-COLD").get_data(as_text=True)
    douyin = [r for r in _rows(page, "channel-figures") if r.startswith("抖音")]
    assert douyin == ["抖音 96 96 2026-11-12 16:00 90 2026-11-12 16:00 差 -6"]
    token = csrf_of(page)
    refused = wh.post("/stock/TEA-COLD/adjust", data={"csrf_token": token, "delta": "-5", "reason": ""})
    assert refused.status_code == 422 and "请填写调整原因" in refused.get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    form = {"csrf_token": token, "delta": "-5", "reason": "盘点差异", "nonce": nonce}
    assert wh.post("/stock/TEA-COLD/adjust", data=form).status_code == 302
    assert wh.post("/stock/TEA-COLD/adjust", data=form).status_code == 302  # a double click: once
    after = wh.get("/stock/TEA-COLD").get_data(as_text=True)
    assert _rows(after, "ledger")[0].endswith("调整 -5 +0 95/4 — " + wh.username + " 盘点差异")
    with services.db.session() as s:
        assert len(s.scalars(select(LedgerEntry).where(LedgerEntry.reason == "盘点差异")).all()) == 1
    assert 'action="/stock/TEA-COLD/adjust"' not in signed_in("cs").get("/stock/TEA-COLD").get_data(as_text=True)


def test_a_cs_lead_releases_a_risk_hold(signed_in: Any, services: Any, world: w.World) -> None:
    lead = signed_in("cs_lead")
    html = lead.get("/warnings").get_data(as_text=True)
    assert _rows(html, "risk-holds") == [
        "DY1004 抖音 疑似黄牛 疑似黄牛 · risk_standard v1 "
        "count(orders by buyer_phone within 1h) = 5（buyer_phone 138****5678） "
        "distinct(receiver.city of orders by buyer_phone within 1h) = 3（buyer_phone 138****5678） "
        "¥39.00 2026-11-11 10:40 放行 订单 DY1004 取消… 订单 DY1004 取消原因 确认取消 订单 DY1004"]
    assert "由客服组长处理" in signed_in("cs").get("/warnings").get_data(as_text=True)
    pk = world.orders["DY1004"]
    done = lead.post(f"/warnings/holds/{pk}/release", data={"csrf_token": csrf_of(html)})
    assert done.status_code == 302
    after = lead.get("/warnings").get_data(as_text=True)
    assert "已放行订单 DY1004，订单继续处理" in after and 'id="risk-holds"' not in after
    with services.db.session() as s:
        assert s.get(OrderPipeline, pk).hold_reason is None


def test_a_cs_lead_cancels_a_risk_held_order_with_a_reason_and_a_refusal_shows_on_its_row(
        signed_in: Any, services: Any, world: w.World) -> None:
    lead = signed_in("cs_lead")
    html = lead.get("/warnings").get_data(as_text=True)
    pk = world.orders["DY1004"]
    assert f'action="/warnings/holds/{pk}/cancel"' in html
    assert f'action="/warnings/holds/{pk}/cancel"' not in signed_in("cs").get("/warnings").get_data(as_text=True)
    refused = lead.post(f"/warnings/holds/{pk}/cancel", data={"csrf_token": csrf_of(html), "reason": "  "})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    row = page.split('data-order="DY1004"', 1)[1].split("</tr>", 1)[0]
    assert '<div class="alert error" role="alert">请填写取消原因（1 到 200 个字）</div>' in row
    assert "<details open>" in row  # the form stays open where the refusal is
    with services.db.session() as s:
        assert s.get(Order, pk).status == "paid_hold"

    done = lead.post(f"/warnings/holds/{pk}/cancel", data={"csrf_token": csrf_of(page), "reason": "疑似黄牛，电话核实后取消"})
    assert done.status_code == 302
    after = lead.get("/warnings").get_data(as_text=True)
    assert "已取消订单 DY1004，没有需要释放的库存" in after and 'id="risk-holds"' not in after
    with services.db.session() as s:
        assert s.get(Order, pk).status == "cancelled" and s.get(OrderPipeline, pk).hold_reason is None
        entry = s.scalars(select(OrderEvent).where(OrderEvent.order_pk == pk, OrderEvent.kind == "cancelled")).one()
        assert (entry.actor, entry.detail["reason"], entry.detail["hold"]["held_by"]) == (
            f"user:{lead.username}", "疑似黄牛，电话核实后取消", "pipeline:risk")


def test_an_order_is_cancelled_from_its_page_its_stock_released_and_its_ticket_cancelled(
        signed_in: Any, services: Any, world: w.World) -> None:
    lead = signed_in("cs_lead")
    pk = world.orders["DY1001"]
    html = lead.get(f"/orders/{pk}").get_data(as_text=True)
    assert 'aria-label="取消订单 DY1001"' in html
    assert 'aria-label="取消订单 DY1001"' not in signed_in("warehouse").get(f"/orders/{pk}").get_data(as_text=True)
    with services.db.session() as s:
        before = s.get(StockItem, "TEA-COLD")
        figures = (before.total_stock, before.reserved_stock)
    refused = lead.post(f"/orders/{pk}/cancel", data={"csrf_token": csrf_of(html), "reason": ""})
    assert refused.status_code == 422 and "请填写取消原因（1 到 200 个字）" in refused.get_data(as_text=True)
    done = lead.post(f"/orders/{pk}/cancel", data={"csrf_token": csrf_of(html), "reason": "买家拍错规格"})
    assert done.status_code == 302
    after = lead.get(done.headers["Location"]).get_data(as_text=True)
    assert "已取消订单 DY1001，释放库存 1 件" in after
    assert 'aria-label="取消订单 DY1001"' not in after  # a cancelled order offers no 取消
    with services.db.session() as s:
        item = s.get(StockItem, "TEA-COLD")
        assert (item.total_stock, item.reserved_stock) == (figures[0], figures[1] - 1)
        ticket = s.scalar(select(WorkflowInstance).join(OrderTicket, OrderTicket.instance_id == WorkflowInstance.id)
                          .where(OrderTicket.order_pk == pk))
        assert (ticket.state, ticket.data["cancel_reason"]) == ("已取消", "买家拍错规格")


def test_the_alert_list_shows_the_figures_and_a_warehouse_user_acknowledges_once(signed_in: Any,
                                                                                 services: Any) -> None:
    from datetime import UTC, datetime

    from builder_ui.boards.display import shanghai
    from engine.alerts.models import AlertFiring

    with services.db.transaction() as s:
        s.add(AlertFiring(ruleset="alerts_standard", ruleset_version=1, alert="面料起球预警", grp="", period="week",
                          window_start=datetime(2026, 11, 8, 16, tzinfo=UTC), window_end=datetime(2026, 11, 15, 16, tzinfo=UTC),
                          figures={"value": 23, "previous": 12, "change_vs_previous_bp": 9167,
                                   "change_vs_previous": "+91.67%"},
                          message="面料起球退货周环比上升 +91.67%：本周 23 件，上周 12 件", channels="品控主管群",
                          deliveries=[], state="firing", fired_at=datetime(2026, 11, 12, 2, tzinfo=UTC)))
    assert "待确认" in signed_in("finance").get("/warnings").get_data(as_text=True)  # may read, may not acknowledge
    user = signed_in("warehouse")
    html = user.get("/warnings").get_data(as_text=True)
    assert _rows(html, "alert-firings") == [
        "面料起球预警 面料起球退货周环比上升 +91.67%：本周 23 件，上周 12 件 全部 2026-11-09 00:00 起 23 12 +91.67% "
        "告警中 无通知 确认 告警 面料起球预警"]
    with services.db.session() as s:
        firing_id = s.scalars(select(AlertFiring.id)).one()
    done = user.post(f"/warnings/alerts/{firing_id}/ack", data={"csrf_token": csrf_of(html)})
    assert done.status_code == 302
    after = user.get("/warnings").get_data(as_text=True)
    assert "已确认告警「面料起球预警」" in after
    acked_at = shanghai(services.clock.now())
    assert _rows(after, "alert-firings")[0].endswith(f"告警中 无通知 {user.username} {acked_at} 已确认")
    again = user.post(f"/warnings/alerts/{firing_id}/ack", data={"csrf_token": csrf_of(after)})
    assert "这条告警已被确认过" in user.get(again.headers["Location"]).get_data(as_text=True)
    with services.db.session() as s:
        row = s.get(AlertFiring, firing_id)
        assert (row.acknowledged_by, row.acknowledged_at) == (user.username, services.clock.now())
