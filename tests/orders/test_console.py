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
