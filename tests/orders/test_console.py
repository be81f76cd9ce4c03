"""The demo console: short Chinese lines per order event, nothing for repeats, no personal data;
JSON logs still get the whole (masked) event."""

from __future__ import annotations

import io
import json
import logging

from engine.orders.console import attach_console, console_line, yuan
from engine.orders.document import from_json
from engine.orders.intake import intake_normalized_order
from tests.orders.order_factory import order_json


def test_lines_for_each_event_a_person_cares_about() -> None:
    created = {"outcome": "created", "channel": "douyin", "order_id": "6920184736251093581", "total": 31700,
               "region": ["重庆市", "重庆市", "璧山区"]}
    assert console_line(created) == "新订单 抖音 6920…3581 ¥317.00 重庆-重庆-璧山区"
    assert console_line({**created, "region": ["浙江省", "杭州市", "临平区"], "total": 5}) == \
        "新订单 抖音 6920…3581 ¥0.05 浙江-杭州-临平区"
    assert console_line({"outcome": "updated", "channel": "taobao", "order_id": "T1", "status": "shipped",
                         "changes": ["status", "updated_at"]}) == "订单更新 淘宝 T1 状态 已发货"
    assert console_line({"outcome": "updated", "channel": "pdd", "order_id": "P1", "status": "cancelled",
                         "changes": ["status"]}) == "已取消 拼多多 P1"
    assert console_line({"outcome": "dropped", "channel": "kuaishou", "order_id": "K1",
                         "rule": 'receiver.name == "张三"'}) == '测试单已剔除 快手 K1 规则: receiver.name == "张三"'
    assert console_line({"outcome": "parked", "source": "xiaohongshu", "path": "$.price"}) == "映射失败已挂起 小红书 $.price"
    assert console_line({"outcome": "unchanged", "channel": "douyin", "order_id": "X"}) is None
    assert console_line({"outcome": "stale", "channel": "douyin", "order_id": "X"}) is None
    assert yuan(-1234) == "-¥12.34"


def test_intake_prints_one_line_per_change_and_the_json_log_is_masked(services, log_stream) -> None:
    out = io.StringIO()
    handler = attach_console(out)
    try:
        order = from_json(order_json("MP-CONSOLE"))
        order["channel"] = "miniprogram"
        intake_normalized_order(services, order)
        intake_normalized_order(services, order)  # a repeat: no line
        later = from_json(order_json("MP-CONSOLE", minutes=5, status="cancelled"))
        later["channel"] = "miniprogram"
        intake_normalized_order(services, later)
    finally:
        logging.getLogger("engine.orders").removeHandler(handler)
    assert out.getvalue().splitlines() == ["新订单 小程序 MP-CONSOLE ¥317.00 重庆-重庆-璧山区", "已取消 小程序 MP-CONSOLE"]
    events = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    intake = [e for e in events if e["event"] == "order_intake"]
    assert [e["outcome"] for e in intake] == ["created", "updated"]  # a repeat logs nothing
    assert "13812345678" not in log_stream.getvalue()


def test_the_pipeline_story_in_one_line_per_timeline_entry() -> None:
    from engine.orders.console import dead_letter_line, timeline_line

    oid = "261203-500000000000001"
    assert timeline_line("risk_passed", {"message": "风控检查通过"}, "pdd", oid) == "风控通过 拼多多 2612…0001"
    assert timeline_line("risk_held", {"summary": "疑似黄牛：1h 内 5 单"}, "douyin", "D1") == \
        "风控挂起 抖音 D1 疑似黄牛：1h 内 5 单"
    assert timeline_line("price_checked", {"allowed": 16800, "charged": 16300}, "pdd", oid) == \
        "核价 拼多多 2612…0001 规则最低应付 ¥168.00 平台实收 ¥163.00"
    assert timeline_line("priced", {"goods": 31700}, "miniprogram", "MP1") == "核价 小程序 MP1 商品应付 ¥317.00"
    assert timeline_line("price_anomaly", {"charged": 11800, "allowed": 16800, "difference": 5000}, "pdd", oid) == \
        "价格异常 拼多多 2612…0001 平台实收 ¥118.00 低于规则允许 ¥168.00，少收 ¥50.00"
    assert timeline_line("reserved", {"lines": [{"sku_id": "TEA-LJ-250", "qty": 2}]}, "taobao", "T1") == \
        "锁库存 淘宝 T1 TEA-LJ-250×2"
    assert timeline_line("short", {"short_skus": ["SCARF-SILK"]}, "taobao", "T1") == "缺货 淘宝 T1 SCARF-SILK"
    assert timeline_line("ticket_opened", {"ticket": 7, "machine": "order_lifecycle", "state": "待发货"},
                         "kuaishou", "K1") == "开工单 快手 K1 工单#7 order_lifecycle 待发货"
    assert timeline_line("ticket_opened", {"ticket": 9, "machine": "return_refund", "refund_id": "R1", "amount": 8990,
                                           "reason": "尺码不合适"}, "taobao", "T1") == \
        "售后单 淘宝 T1 工单#9 return_refund 退款 ¥89.90 尺码不合适"
    assert timeline_line("shipped", {"courier": "ZTO", "courier_name": "中通快递", "tracking_no": "78123456789012"},
                         "xiaohongshu", "X1") == "发货 小红书 X1 中通快递 78123456789012"
    assert timeline_line("writeback_accepted", {"tracking_no": "78123456789012"}, "xiaohongshu", "X1") == \
        "回传平台成功 小红书 X1 运单号 78123456789012"
    assert timeline_line("reservation_released", {"reason": "cancelled", "released": [{"sku_id": "A", "qty": 2}]},
                         "taobao", "T1") == "取消释放库存 淘宝 T1 A×2"
    assert timeline_line("ticket_action", {"action": "付款"}, "taobao", "T1") is None
    assert dead_letter_line("pdd/" + oid, {"tracking_no": "SF1"}, "business error 10001\ntrace") == \
        "回传平台失败进入死信 拼多多 2612…0001 运单号 SF1 business error 10001"
