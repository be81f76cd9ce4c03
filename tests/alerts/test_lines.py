"""Order lines are an alert collection (``order_lines``; ``lines`` stays an order's own list):
``sum(qty of order_lines …) per day by sku_id`` and ``count(order_lines) per day by channel``
published over orders already stored are back-filled, then kept as orders arrive, and equal a direct SQL sum over ``order_lines`` per Asia/Shanghai day of
the order's creation; a line's category (kept in the order document) filters like any field; the
checker knows a line's fields, and a risk rule may not count lines."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from dsl.checker import check
from dsl.parser import parse_text
from engine.alerts.service import run_alerts
from engine.analytics.sql_time import local_date
from engine.clock import SHANGHAI
from engine.orders.model import Order, OrderLine
from tests.alerts.support import alert_errors, drain, publish_new
from tests.alerts.test_backfill import _series_key
from tests.alerts.test_shipments import _counters
from tests.risk.helpers import order, publish, take_in

RULES = """\
channel 运营群 feishu { webhook env OP_OPS_HOOK, secret env OP_OPS_SECRET }

alert SKU日销量 {
    measure sum(qty of order_lines where sku_id != "GIFT-BAG") per day by sku_id
    when value > 100000
    notify 运营群 "{group} 今日售出 {value} 件"
}

alert 渠道日行数 {
    measure count(order_lines) per day by channel
    when value > 100000
    notify 运营群 "{group} 今日 {value} 行"
}

alert 茶包周行数 {
    measure count(order_lines where category == "茶包") per week
    when value > 100000
    notify 运营群 "本周茶包 {value} 行"
}
"""
CHANNELS = ("douyin", "taobao", "pdd")
SKUS = (("TEA-COLD", "冷泡茶包", "茶包"), ("TEA-JASMINE", "茉莉花茶包", "茶包"), ("JAR-GLASS", "玻璃冷萃瓶", "器具"),
        ("GIFT-BAG", "礼品袋", "包装"))


def _lines(i: int) -> list[dict[str, Any]]:
    """One to four lines, quantities one to three: a different mix for every order."""
    out = []
    for n in range(1 + i % 4):
        sku, title, category = SKUS[(i + n) % len(SKUS)]
        qty = 1 + (i + 2 * n) % 3
        out.append({"line_id": str(n + 1), "sku_id": sku, "title": title, "category": category, "qty": qty,
                    "unit_price": 3900, "amount": 3900 * qty})
    return out


def _take(services: Any, first: int, count: int) -> int:
    """``count`` orders five hours apart from 11-10 00:00 Shanghai (so across days and a week
    boundary); how many of their lines are 茶包."""
    tea = 0
    for i in range(first, first + count):
        lines = _lines(i)
        tea += sum(1 for ln in lines if ln["category"] == "茶包")
        body = order(f"L{i}", at=datetime(2026, 11, 10, tzinfo=SHANGHAI) + timedelta(hours=5 * i),
                     channel=CHANNELS[i % 3], phone=None, lines=lines,
                     payment={"method": "alipay", "paid_amount": sum(ln["amount"] for ln in lines)})
        take_in(services, body)
    return tea


def _sql(services: Any, *, by_sku: bool) -> dict[tuple[str, str], int]:
    day = local_date(Order.created_at, services.db.engine.dialect.name)
    group = OrderLine.sku_id if by_sku else Order.channel
    figure = func.sum(OrderLine.qty) if by_sku else func.count()
    stmt = (select(day, group, figure).select_from(OrderLine).join(Order, Order.id == OrderLine.order_pk)
            .where(Order.dropped_by.is_(None)).group_by(day, group))
    if by_sku:
        stmt = stmt.where(OrderLine.sku_id != "GIFT-BAG")
    with services.db.session() as s:
        return {(str(r[0]), r[1]): int(r[2]) for r in s.execute(stmt)}


def test_line_measures_are_backfilled_then_kept_equal_to_sql(services) -> None:
    publish(services, "sources_six_channels")
    tea = _take(services, 0, 24)
    drain(services)  # no alert yet: the consumer only moves past the rows
    publish_new(services, "line_alerts", RULES)
    per_sku = _series_key('sum(qty of order_lines where sku_id != "GIFT-BAG")', "day", "sku_id")
    per_channel = _series_key("count(order_lines)", "day", "channel")
    tea_week = _series_key('count(order_lines where category == "茶包")', "week")
    run = run_alerts(services)
    assert run.backfilled == {per_sku: 24, per_channel: 24, tea_week: 24}  # orders read, each with its lines
    sku_sql = _sql(services, by_sku=True)
    assert len({day for day, _ in sku_sql}) == 5 and {sku for _, sku in sku_sql} == {"TEA-COLD", "TEA-JASMINE",
                                                                                     "JAR-GLASS"}
    assert _counters(services, per_sku, "total") == sku_sql
    assert _counters(services, per_channel, "n") == _sql(services, by_sku=False)
    assert sum(_counters(services, tea_week, "n").values()) == tea

    tea += _take(services, 24, 10)  # later orders: their lines counted incrementally, once
    while run_alerts(services).rows_read:
        pass
    assert _counters(services, per_sku, "total") == _sql(services, by_sku=True)
    assert _counters(services, per_channel, "n") == _sql(services, by_sku=False)
    assert sum(_counters(services, per_channel, "n").values()) == sum(1 + i % 4 for i in range(34)) == 83
    weeks = _counters(services, tea_week, "n")
    assert len(weeks) == 2 and sum(weeks.values()) == tea


def test_the_checker_knows_the_fields_of_a_line() -> None:
    assert alert_errors('sum(paid_amount of order_lines where channel == "douyin") per hour by category '
                        'when value > 1') == []
    errors = alert_errors('count(order_lines where categroy == "茶包") per day when value > 1')
    assert errors and "did you mean 'category'" in errors[0]
    risk = parse_text('risk r { when count(order_lines by sku_id within 1h) > 3 then flag "x" }')
    errors = [str(d) for d in check(risk) if d.severity == "error"]
    assert errors and "a risk rule counts orders; order_lines are measured by alerts" in errors[0]
    assert errors[0].startswith("<input>:1:15:")
