"""The risk stage over the published ``risk_standard`` template, with orders stored through the
real intake (the six-channel cleaning places each address in its city): the scalper pattern
(5 orders of one phone within an hour to 3 cities) is held with its figures and the orders it
counted, one order fewer or one city fewer is not; the device rule holds the 8th order to a 5th
city within 7 days; payment switching only flags; a rule published over existing orders
back-fills its keys; a stage run twice flags once; the notify reaches the outbox with the phone
masked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from engine.orders.model import Order, OrderEvent
from engine.risk.models import RiskDimension, RiskFlag, RiskKey
from engine.storage.models import OutboxMessage
from tests.risk.helpers import T0, order, place, publish, run_stage, take_in

SCALPER = "疑似黄牛"


@pytest.fixture
def standard(services):
    publish(services, "sources_six_channels")
    publish(services, "risk_standard")
    services.clock.set(T0 + timedelta(hours=2))
    return services


def _kinds(notes) -> list[str]:
    return [n.kind for n in notes]


def test_five_orders_of_one_phone_in_an_hour_to_three_cities_hold_the_fifth_with_its_evidence(standard) -> None:
    cities = ["杭州", "南京", "杭州", "上海", "杭州"]
    results = [place(standard, order(f"D{i}", at=T0 + timedelta(minutes=10 * i), city=c))
               for i, c in enumerate(cities)]
    for _, notes in results[:4]:
        assert _kinds(notes) == ["risk_passed"]
        assert notes[0].detail == {"rules": ["疑似黄牛", "设备多地下单", "支付方式频繁切换"]}
        assert (notes[0].ruleset, notes[0].ruleset_version) == ("risk_standard", 1)
    pk, notes = results[4]
    held = [n for n in notes if n.kind == "risk_held"]
    assert len(held) == 1
    note = held[0]
    assert note.tags == (SCALPER,)
    assert (note.ruleset, note.ruleset_version) == ("risk_standard", 1)
    assert note.hold == ("风控规则 疑似黄牛（疑似黄牛）：count(orders by buyer_phone within 1h) = 5；"
                         "distinct(receiver.city of orders by buyer_phone within 1h) = 3")
    refs = [f"douyin/D{i}" for i in range(5)]
    assert note.detail["figures"] == [
        {"measure": "count(orders by buyer_phone within 1h)", "value": 5, "by": "buyer_phone",
         "key": "13812345678", "within_s": 3600, "orders": refs},
        {"measure": "distinct(receiver.city of orders by buyer_phone within 1h)", "value": 3, "by": "buyer_phone",
         "key": "13812345678", "within_s": 3600, "orders": refs},
    ]
    # the other two rules passed in the same run
    assert [n.detail for n in notes if n.kind == "risk_passed"] == [{"rules": ["设备多地下单", "支付方式频繁切换"]}]
    with standard.db.session() as s:
        flag = s.scalars(select(RiskFlag)).one()
        assert (flag.order_pk, flag.rule, flag.flag, flag.held, flag.ruleset, flag.ruleset_version) == (
            pk, SCALPER, SCALPER, True, "risk_standard", 1)
        assert s.get(Order, pk).tags == [SCALPER]
        kinds = s.scalars(select(OrderEvent.kind).where(OrderEvent.order_pk == pk).order_by(OrderEvent.id)).all()
        assert kinds == ["created", "risk_held", "risk_passed"]
        # the template's notify: one message to 客服组长群 (WeCom), the phone masked
        message = s.scalars(select(OutboxMessage)).one()
        assert message.topic == "notify.wecom" and message.order_ref == "douyin/D4"
        assert message.payload["message"] == "订单 D4 疑似黄牛（手机号 138****5678），已挂起待审核"
        assert message.payload["channel"] == "客服组长群"
        assert message.ruleset_version == "risk_standard@1"


def test_the_window_is_one_hour_back_from_the_order_and_cities_must_reach_three(standard) -> None:
    # the first order is exactly one hour before the fifth: outside "within 1h"
    times = [0, 20, 30, 40, 60]
    cities = ["杭州", "南京", "上海", "杭州", "广州"]
    last = [place(standard, order(f"W{i}", at=T0 + timedelta(minutes=m), city=c))
            for i, (m, c) in enumerate(zip(times, cities))][-1][1]
    assert _kinds(last) == ["risk_passed"]
    # five within the hour, but only two cities
    two = [place(standard, order(f"X{i}", at=T0 + timedelta(minutes=i), city=("杭州", "南京")[i % 2],
                                 phone="13900001111")) for i in range(5)][-1][1]
    assert _kinds(two) == ["risk_passed"]
    with standard.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RiskFlag)) == 0


def test_an_order_without_a_phone_is_never_grouped_with_others(standard) -> None:
    for i in range(6):
        pk, notes = place(standard, order(f"N{i}", at=T0 + timedelta(minutes=i), city=("杭州", "南京", "上海")[i % 3],
                                          phone=None))
        assert _kinds(notes) == ["risk_passed"]
    with standard.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RiskKey).where(RiskKey.dimension == "buyer_phone")) == 0


def test_one_device_eight_orders_in_seven_days_to_five_cities_holds_the_eighth(standard) -> None:
    cities = ["杭州", "南京", "上海", "广州", "杭州", "南京", "上海", "北京"]
    out = [place(standard, order(f"V{i}", at=T0 + timedelta(hours=20 * i), city=c, device="dev-7f3a",
                                 phone=f"1370000{i:04d}")) for i, c in enumerate(cities)]
    assert all(_kinds(n) == ["risk_passed"] for _, n in out[:7])
    held = [n for n in out[7][1] if n.kind == "risk_held"]
    assert [n.tags for n in held] == [("设备多地下单",)]
    figures = held[0].detail["figures"]
    assert [(f["measure"], f["value"]) for f in figures] == [
        ("count(orders by customer.device_id within 7d)", 8),
        ("distinct(receiver.city of orders by customer.device_id within 7d)", 5)]
    assert figures[0]["orders"] == [f"douyin/V{i}" for i in range(8)]


def test_three_payment_methods_in_a_day_flag_without_holding(standard) -> None:
    methods = ["alipay", "wechat", "credit_card"]
    out = [place(standard, order(f"P{i}", at=T0 + timedelta(hours=5 * i), method=m, phone="13600002222"))
           for i, m in enumerate(methods)]
    notes = out[2][1]
    flagged = [n for n in notes if n.kind == "risk_flagged"]
    assert len(flagged) == 1 and flagged[0].hold is None and flagged[0].tags == ("支付方式切换",)
    assert [(f["value"], f["orders"]) for f in flagged[0].detail["figures"]] == [
        (3, ["douyin/P0", "douyin/P1", "douyin/P2"]), (3, ["douyin/P0", "douyin/P1", "douyin/P2"])]
    assert not any(n.hold for n in notes)


def test_running_the_stage_again_flags_once(standard) -> None:
    pks = [place(standard, order(f"R{i}", at=T0 + timedelta(minutes=i), city=("杭州", "南京", "上海")[i % 3]))[0]
           for i in range(5)]
    again = run_stage(standard, pks[-1])
    assert [n.kind for n in again if n.hold] == ["risk_held"]
    with standard.db.session() as s:
        assert s.scalar(select(func.count()).select_from(RiskFlag)) == 1
        # one key (buyer_phone): the order has no device id
        assert s.scalar(select(func.count()).select_from(RiskKey).where(RiskKey.order_pk == pks[-1])) == 1


def test_a_rule_published_over_existing_orders_backfills_the_keys_its_window_reaches(services) -> None:
    publish(services, "sources_six_channels")
    services.clock.set(T0 + timedelta(days=10))
    # 12 orders of one device over 11 days, stored before any risk rule exists
    pks = [take_in(services, order(f"B{i}", at=T0 + timedelta(days=i), device="dev-old",
                                   city=("杭州", "南京", "上海", "广州", "北京", "成都")[i % 6],
                                   phone=f"1350000{i:04d}")) for i in range(11)]
    for pk in pks:
        assert run_stage(services, pk) == []  # no rule published: nothing to say
    publish(services, "risk_standard")
    pk, notes = place(services, order("B11", at=T0 + timedelta(days=10, hours=1), device="dev-old", city="杭州",
                                      phone="13500000011"))
    held = [n for n in notes if n.kind == "risk_held"]
    assert [n.tags for n in held] == [("设备多地下单",)]
    # orders of the last 7 days before B11's time: days 4..10 (7 orders) and B11 itself
    assert held[0].detail["figures"][0]["value"] == 8
    assert held[0].detail["figures"][0]["orders"] == [f"douyin/B{i}" for i in range(4, 12)]
    with services.db.session() as s:
        dims = {d.dimension: d for d in s.scalars(select(RiskDimension))}
        assert set(dims) == {"buyer_phone", "customer.device_id"}
        # back-filled from 7 days before the clock (T0+10d): B3..B11, B11 stored before its stage ran
        direct = s.scalar(text("SELECT count(*) FROM orders WHERE created_at >= :since AND dropped_rule IS NULL"),
                          {"since": (T0 + timedelta(days=3)).replace(tzinfo=None)
                           if services.db.is_sqlite else T0 + timedelta(days=3)})
        assert dims["customer.device_id"].filled_orders == direct == 9
        keyed = s.scalar(select(func.count()).select_from(RiskKey)
                         .where(RiskKey.dimension == "customer.device_id"))
        assert keyed == 9


FIELD_RULES = """\
risk 大额连单 {
    when sum(payment.paid_amount of orders by buyer_phone within 1h) >= ¥117 then flag "大额连单"
}

risk 预售连单 {
    when count(orders where presale == true by buyer_phone within 1h) >= 2 then flag "预售连单"
}
"""
LIST_RULE = """\
risk 多款连单 {
    when distinct(lines of orders by buyer_phone within 1h) >= 3 then flag "多款连单"
}
"""


def _three_orders(services, prefix: str, phone: str) -> list:
    amounts, presale, skus = [3900, 5200, 2600], [True, False, True], ["TEA-COLD", "TEA-JASMINE", "JAR-GLASS"]
    notes = []
    for i in range(3):
        body = order(f"{prefix}{i}", at=T0 + timedelta(minutes=5 * i), phone=phone,
                     payment={"method": "alipay", "paid_amount": amounts[i]},
                     lines=[{"line_id": "1", "sku_id": skus[i], "title": skus[i], "qty": 1, "unit_price": amounts[i],
                             "amount": amounts[i]}], presale=presale[i])
        notes.append(place(services, body)[1])
    return notes


def _figures(notes) -> dict:
    return {n.detail["rule"]: (n.detail["figures"][0]["value"], n.detail["figures"][0]["orders"])
            for n in notes if n.kind == "risk_flagged"}


def test_neighbours_read_as_single_fields_or_whole_documents_give_the_same_figures(services) -> None:
    """Money and true/false fields read from each neighbour's document alone (exact integers,
    real booleans, on both back ends), then the same with a rule that needs whole documents (a
    list) published beside them: the same decisions and figures."""
    from tests.alerts.support import publish_new

    publish(services, "sources_six_channels")
    publish_new(services, "field_rules", FIELD_RULES)
    services.clock.set(T0 + timedelta(hours=2))
    fields = _three_orders(services, "F", "13811110000")
    assert [sorted(t for n in ns for t in n.tags) for ns in fields] == [[], [], ["大额连单", "预售连单"]]
    figures = _figures(fields[2])
    assert figures == {"大额连单": (11700, ["douyin/F0", "douyin/F1", "douyin/F2"]),
                       "预售连单": (2, ["douyin/F0", "douyin/F2"])}
    assert type(figures["大额连单"][0]) is int

    publish_new(services, "list_rules", LIST_RULE)  # now every neighbour is read whole
    whole = _three_orders(services, "G", "13822220000")
    assert [sorted(t for n in ns for t in n.tags) for ns in whole] == [[], [], ["多款连单", "大额连单", "预售连单"]]
    assert _figures(whole[2]) == {"大额连单": (11700, ["douyin/G0", "douyin/G1", "douyin/G2"]),
                                  "预售连单": (2, ["douyin/G0", "douyin/G2"]),
                                  "多款连单": (3, ["douyin/G0", "douyin/G1", "douyin/G2"])}
