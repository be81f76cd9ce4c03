"""会有什么变化 beyond the price: stored orders run through a draft's risk rules, its price check
tolerance and its follow declarations against the published ones — the orders that would be
flagged or held differently, tagged 价格异常 or not, or whose ticket would take another path,
each with its exact count in a Chinese sentence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.builder.conftest import csrf_of
from tests.risk.helpers import T0, order, place, publish

LIBRARY = Path(__file__).resolve().parents[2] / "templates_library"


def _template(name: str) -> str:
    return (LIBRARY / f"{name}.op").read_text(encoding="utf-8")


def _run(client: Any, ruleset: str, draft: str, n: int = 1000) -> dict[str, Any]:
    resp = client.post(f"/rulesets/{ruleset}/what-changes", json={"content": draft, "n": n},
                       headers={"X-CSRFToken": csrf_of(client.get("/").data)})
    assert resp.status_code == 200 and resp.mimetype == "application/x-ndjson", resp.data
    last = json.loads(resp.get_data(as_text=True).splitlines()[-1])
    assert "result" in last, last
    return last["result"]


def _by_key(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for c in result["comparisons"]}


# ------------------------------------------------------------------------------------ risk

SCALPER_AT_5 = "when count(orders by buyer_phone within 1h) >= 5"
PAYMENT_RULE = _template("risk_standard")[_template("risk_standard").index("# 同一手机号 24 小时内"):]


@pytest.fixture
def scalper_orders(services: Any) -> Any:
    """risk_standard published; one phone orders five times ten minutes apart to 北京, 上海,
    广州, 广州, 杭州 paying alipay, wechat, card, alipay, alipay; another phone once. Published:
    the fifth is held as 疑似黄牛 (5 orders, 4 cities), the third to fifth are flagged
    支付方式切换 (3 methods within 24h)."""
    publish(services, "sources_six_channels")
    publish(services, "risk_standard")
    services.clock.set(T0 + timedelta(hours=2))
    cities = ["北京", "上海", "广州", "广州", "杭州"]
    methods = ["alipay", "wechat", "card", "alipay", "alipay"]
    for i, (city, method) in enumerate(zip(cities, methods, strict=True)):
        place(services, order(f"R{i}", at=T0 + timedelta(minutes=10 * i), city=city, method=method))
    place(services, order("OTHER", at=T0 + timedelta(minutes=45), phone="13700000000"))
    return services


def test_a_lower_scalper_threshold_without_the_payment_rule_holds_one_more_and_unflags_three(
        signed_in: Any, scalper_orders: Any) -> None:
    draft = _template("risk_standard").replace(SCALPER_AT_5, "when count(orders by buyer_phone within 1h) >= 4")
    draft = draft.replace(PAYMENT_RULE, "")
    result = _run(signed_in("ops"), "risk_standard", draft)
    assert result["examined"] == 6
    (risk,) = result["comparisons"]
    assert risk["key"] == "risk" and risk["label"] == "风控标记与挂起" and risk["table_label"] == "风控结果变化的订单"
    assert risk["summary"] == "3 单风控结果变化：新增挂起 1 单，新增标记 1 单，去掉标记 3 单"
    assert risk["totals"] == {"changed": 3, "held_added": 1, "held_removed": 0, "flagged_added": 1,
                              "flagged_removed": 3}
    assert risk["columns"] == ["渠道", "订单号", "已发布版本", "草稿", "变化"]
    assert risk["rows"] == [
        ["douyin", "R4", "挂起（支付方式切换、疑似黄牛）", "挂起（疑似黄牛）", "去掉标记 支付方式切换"],
        ["douyin", "R3", "标记（支付方式切换）", "挂起（疑似黄牛）", "新增挂起；新增标记 疑似黄牛；去掉标记 支付方式切换"],
        ["douyin", "R2", "标记（支付方式切换）", "通过", "去掉标记 支付方式切换"],
    ]
    assert risk["skipped"] == 0
    # the top-level figures are the price's; without a promotion there is none
    assert result["total_delta"] == 0 and result["changes"] == []


def test_a_draft_grouping_by_a_field_no_published_rule_keys_skips_rather_than_guesses(
        signed_in: Any, scalper_orders: Any) -> None:
    draft = _template("risk_standard") + ('\nrisk 同店爆单 {\n    when count(orders by shop within 1h) >= 2\n'
                                          '    then flag "同店爆单"\n}\n')
    risk = _by_key(_run(signed_in("ops"), "risk_standard", draft))["risk"]
    assert risk["summary"] == "0 单风控结果变化" and risk["skipped"] == 6


def test_the_same_rules_change_nothing(signed_in: Any, scalper_orders: Any) -> None:
    risk = _by_key(_run(signed_in("cs"), "risk_standard", _template("risk_standard")))["risk"]
    assert (risk["summary"], risk["rows"], risk["skipped"]) == ("0 单风控结果变化", [], 0)


# ------------------------------------------------------------------------------ price check

FESTIVAL = "promotion_apparel_festival"


@pytest.fixture
def charged_orders(services: Any, festival: str) -> None:
    """The festival promotion published (price_check tolerance ¥10 or 5%); four ¥200 dress
    orders (no discount reaches them) charged ¥200, ¥192, ¥180 and one without a paid amount."""
    from engine.orders.store import Incoming, store_order
    from engine.rulesets import service
    from tests.orders.order_factory import order_py

    with services.db.transaction() as s:
        service.publish(s, FESTIVAL, actor="setup", now=services.clock.now())
    for i, paid in enumerate((20000, 19200, 18000, None)):
        line = {"line_id": "1", "sku_id": "DRESS-1", "title": "连衣裙", "qty": 1, "unit_price": 20000, "amount": 20000}
        body = order_py(f"PC-{i}", lines=[line], freight=0)
        if paid is not None:
            body["payment"] = {"method": "alipay", "paid_amount": paid}
        body["created_at"] = datetime(2026, 3, 8, 12, i, tzinfo=UTC)
        store_order(services.db, Incoming(order=body, source="douyin", via="pull"),
                    now=datetime(2026, 3, 8, 12, 0, tzinfo=UTC) + timedelta(minutes=i))


def test_a_tighter_tolerance_tags_the_order_charged_eight_yuan_less(signed_in: Any, charged_orders: None) -> None:
    draft = _template(FESTIVAL).replace("price_check tolerance ¥10 or 5%", "price_check tolerance ¥5")
    found = _by_key(_run(signed_in("ops"), FESTIVAL, draft))
    assert found["price"]["summary"] == "0 单优惠变化，合计 ¥0.00"
    check = found["price_check"]
    assert check["label"] == "价格异常" and check["table_label"] == "价格异常标记变化的订单"
    assert check["summary"] == "1 单价格异常标记变化：新增 1 单"
    assert check["totals"] == {"changed": 1, "anomaly_added": 1, "anomaly_removed": 0}
    assert check["columns"] == ["渠道", "订单号", "实收商品", "已发布版本", "草稿", "变化"]
    assert check["rows"] == [["douyin", "PC-1", "¥192.00", "最低 ¥200.00，容差 ¥10.00", "最低 ¥200.00，容差 ¥5.00",
                              "新增价格异常"]]
    assert check["skipped"] == 1  # PC-3 has no paid amount: the price stage does not check it either

    looser = _template(FESTIVAL).replace("price_check tolerance ¥10 or 5%", "price_check tolerance ¥30")
    check = _by_key(_run(signed_in("ops"), FESTIVAL, looser))["price_check"]
    assert check["summary"] == "1 单价格异常标记变化：不再标记 1 单"
    assert check["rows"] == [["douyin", "PC-2", "¥180.00", "最低 ¥200.00，容差 ¥10.00", "最低 ¥200.00，容差 ¥30.00",
                              "不再标记价格异常"]]


# ------------------------------------------------------------------------------ ticket path

LIFECYCLE = "order_lifecycle"
PRESALE_FOLLOW = """
follow 预售订单 for orders on order_lifecycle when presale {
    open { order_id = order_id, channel = channel, consumer_phone = buyer_phone }
    status awaiting_shipment do 付款
}
"""


@pytest.fixture
def followed_orders(services: Any) -> None:
    """order_lifecycle published; orders awaiting shipment, delivered, cancelled after payment,
    awaiting payment, and a presale order awaiting shipment."""
    from engine.orders.store import Incoming, store_order
    from tests.orders.order_factory import order_py

    publish(services, LIFECYCLE)
    shipped = datetime(2026, 11, 11, 5, 0, tzinfo=UTC)
    bodies = [order_py("T-WAIT"), order_py("T-DELIVERED", status="delivered", shipped_at=shipped),
              order_py("T-CANCELLED", status="cancelled"), order_py("T-UNPAID", status="pending_payment"),
              order_py("T-PRESALE", presale=True)]
    for i, body in enumerate(bodies):
        body["created_at"] = datetime(2026, 11, 11, 2, i, tzinfo=UTC)
        store_order(services.db, Incoming(order=body, source="douyin", via="pull"), now=services.clock.now())


def test_presale_orders_on_their_own_declaration_and_delivery_no_longer_signed(
        signed_in: Any, followed_orders: None) -> None:
    draft = _template(LIFECYCLE).replace("    status delivered do 签收\n", "") + PRESALE_FOLLOW
    result = _run(signed_in("ops"), LIFECYCLE, draft)
    assert result["examined"] == 5
    (ticket,) = result["comparisons"]
    assert ticket["key"] == "ticket" and ticket["label"] == "工单路径" and ticket["table_label"] == "工单路径变化的订单"
    assert ticket["summary"] == "2 单工单路径变化：换跟随声明 1 单，触发的动作不同 1 单"
    assert ticket["totals"] == {"changed": 2, "no_ticket": 0, "new_ticket": 0, "machine": 0, "follow": 1, "actions": 1}
    assert ticket["columns"] == ["渠道", "订单号", "平台状态", "已发布版本", "草稿"]
    assert ticket["rows"] == [
        ["douyin", "T-PRESALE", "待发货", "order_lifecycle（平台订单）：付款，停在 待发货",
         "order_lifecycle（预售订单）：付款，停在 待发货"],
        ["douyin", "T-DELIVERED", "已签收", "order_lifecycle（平台订单）：付款 → 发货 → 签收，停在 已签收",
         "order_lifecycle（平台订单）：付款 → 发货，停在 已发货"],
    ]


def test_a_follow_only_for_presale_leaves_the_other_orders_without_a_ticket(
        signed_in: Any, followed_orders: None) -> None:
    draft = _template(LIFECYCLE).replace("follow 平台订单 for orders on order_lifecycle {",
                                         "follow 平台订单 for orders on order_lifecycle when presale {")
    ticket = _by_key(_run(signed_in("ops"), LIFECYCLE, draft))["ticket"]
    assert ticket["summary"] == "4 单工单路径变化：不再开工单 4 单"
    assert [r[1] for r in ticket["rows"]] == ["T-UNPAID", "T-CANCELLED", "T-DELIVERED", "T-WAIT"]
    assert ticket["rows"][1][3:] == ["order_lifecycle（平台订单）：付款 → 取消，停在 已取消", "不开工单"]
