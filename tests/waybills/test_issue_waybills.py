"""The shipping desk gets e-waybills over real HTTP: the own shop's plaintext orders from 快递鸟
(1007, signed), each marketplace's orders from its own e-waybill service with the order's
ciphertext; one waybill per order however often it is asked; the tracking number then ships
the order through the pipeline's ship step and reaches the platform's fake as the write-back.
A refusal (bad address, no balance, an encrypted receiver sent to Kdniao, a bad sign, no
subscription, a foreign ciphertext) shows the counterpart's reason and changes nothing. On
SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, update

from engine.orders.model import Order
from engine.waybills.model import Waybill
from engine.waybills.service import issue_waybills, ship_waybills
from tests.waybills.conftest import bring_in, dispatch, shipments, timeline_kinds

# the ship write-back each platform's fake records: (method, carrier code it took for 顺丰)
SHIP_CALLS = {
    "miniprogram": ("shipments", "SF"), "taobao": ("taobao.logistics.offline.send", "SF"),
    "pdd": ("pdd.logistics.online.send", 44), "douyin": ("order.logisticsAdd", "shunfeng"),
    "kuaishou": ("open.seller.order.goods.deliver", 4), "xiaohongshu": ("order.orderDeliver", "shunfeng"),
}
WAYBILL_CALLS = {  # where each order's waybill comes from, and the call its fake records
    "miniprogram": ("kdniao", "1007"), "taobao": ("taobao", "cainiao.waybill.ii.get"),
    "pdd": ("pdd", "pdd.waybill.get"), "douyin": ("douyin", "logistics.newCreateOrder"),
    "kuaishou": ("kuaishou", "open.express.ebill.get"), "xiaohongshu": ("xiaohongshu", "express.createEbillOrders"),
}


def snapshot(services: Any, pk: int) -> tuple[Any, ...]:
    """What a refused request must leave unchanged."""
    with services.db.session() as s:
        order = s.get(Order, pk)
        assert order is not None
        waybills = s.scalar(select(func.count()).select_from(Waybill).where(Waybill.order_pk == pk))
        return order.status, order.revision, waybills, len(shipments(services, pk)), tuple(timeline_kinds(services, pk))


def issued(fake: Any) -> list[dict[str, Any]]:
    return [m for m in fake.messages if m.get("waybill_code")]


def ship_messages(fake: Any) -> list[dict[str, Any]]:
    return [m for m in fake.messages if m.get("tracking_no")]


@pytest.mark.parametrize("channel", list(WAYBILL_CALLS))
def test_a_waybill_from_the_right_counterpart_ships_the_order_and_reaches_the_platform(
        channel: str, desk: dict[str, Any], services: Any) -> None:
    pk, order_id, _ = bring_in(services, desk[channel], channel, [("TEA-LJ-250", 2)])
    provider, call = WAYBILL_CALLS[channel]

    (outcome,) = issue_waybills(services, [pk], courier="顺丰", actor="user:li_cang")
    assert outcome.ok, outcome.reason
    assert (outcome.provider, outcome.courier, outcome.replayed) == (provider, "SF", False)
    (asked,) = issued(desk[provider])
    assert asked["method"] == call and asked["waybill_code"] == outcome.tracking_no
    if provider != "kdniao":
        assert asked["order_id"] == order_id
    with services.db.session() as s:
        row = s.scalar(select(Waybill).where(Waybill.order_pk == pk))
        assert row is not None and row.tracking_no == outcome.tracking_no and row.status == "issued"
        if provider == "kdniao":
            assert row.print_html and outcome.tracking_no in row.print_html  # the template Kdniao answered
        else:
            assert row.print_data  # the platform's cloud-print data
        assert s.get(Order, pk).status == "awaiting_shipment"  # nothing ships before the labels are printed
    assert "waybill_issued" in timeline_kinds(services, pk) and not ship_messages(desk[channel])

    (shipped,) = ship_waybills(services, [pk], actor="user:li_cang")
    assert shipped.ok, shipped.reason
    assert dispatch(services) == 1
    (written,) = ship_messages(desk[channel])
    assert (written["method"], written["company_code"], written["tracking_no"]) == (
        *SHIP_CALLS[channel], outcome.tracking_no)
    with services.db.session() as s:
        assert s.get(Order, pk).status == "shipped"
        row = s.scalar(select(Waybill).where(Waybill.order_pk == pk))
        assert row is not None and row.status == "shipped" and row.shipment_id == shipments(services, pk)[0].id


def test_asking_again_returns_the_same_waybill_and_never_a_second_number(desk: dict[str, Any], services: Any) -> None:
    mini, _, _ = bring_in(services, desk["miniprogram"], "miniprogram", [("TEA-PE-357", 1)])
    tao, _, _ = bring_in(services, desk["taobao"], "taobao", [("TEA-PE-357", 1)])
    first = issue_waybills(services, [mini, tao], courier="中通", actor="user:a")
    again = issue_waybills(services, [tao, mini, mini], courier="中通", actor="user:b")
    assert [o.ok for o in first] == [True, True]
    assert {o.order_pk: o.tracking_no for o in again} == {o.order_pk: o.tracking_no for o in first}
    assert all(o.replayed for o in again) and len(again) == 2
    assert len(issued(desk["kdniao"])) == 1 and len(issued(desk["taobao"])) == 1
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Waybill)) == 2
    # shipping twice is one shipment (the ship step is idempotent by tracking number)
    assert [r.ok for r in ship_waybills(services, [mini], actor="x")] == [True]
    assert [r.ok for r in ship_waybills(services, [mini], actor="x")] == [True]
    assert len(shipments(services, mini)) == 1


def test_the_counterpart_answers_a_lost_answers_retry_with_the_same_number(desk: dict[str, Any], services: Any) -> None:
    """The waybill was issued but our process never stored it: asking again with the same
    request id gets the number already issued, not a second one."""
    for channel in ("miniprogram", "douyin", "kuaishou"):
        pk, _, _ = bring_in(services, desk[channel], channel, [("TSHIRT-W-M", 1)])
        (first,) = issue_waybills(services, [pk], courier="SF", actor="x")
        with services.db.transaction() as s:
            s.execute(Waybill.__table__.delete().where(Waybill.order_pk == pk))
        (second,) = issue_waybills(services, [pk], courier="SF", actor="x")
        assert second.ok and second.tracking_no == first.tracking_no and not second.replayed


def _refused(services: Any, pk: int, **kwargs: Any) -> str:
    before = snapshot(services, pk)
    (outcome,) = issue_waybills(services, [pk], actor="user:li_cang", **{"courier": "SF", **kwargs})
    assert not outcome.ok and outcome.tracking_no is None
    assert snapshot(services, pk) == before
    assert outcome.reason
    return outcome.reason


def test_kdniao_refuses_an_address_it_cannot_resolve(desk: dict[str, Any], services: Any) -> None:
    pk, _, _ = bring_in(services, desk["miniprogram"], "miniprogram", [("TEA-LJ-250", 1)])
    with services.db.transaction() as s:
        order = s.get(Order, pk)
        assert order is not None
        order.doc = {**order.doc, "receiver": {**order.doc["receiver"], "province": "", "city": ""}}
    reason = _refused(services, pk)
    assert reason == "快递鸟拒绝：收件人地址不完整，无法解析到省市区"
    assert issued(desk["kdniao"]) == []


def test_kdniao_without_balance_refuses_and_nothing_is_stored(desk: dict[str, Any], services: Any) -> None:
    pk, _, _ = bring_in(services, desk["miniprogram"], "miniprogram", [("TEA-LJ-250", 1)])
    desk["kdniao"].book.balance = 0
    assert _refused(services, pk) == "快递鸟拒绝：余额不足，请充值后再下单"
    desk["kdniao"].book.balance = 5  # topped up: the same order now gets its waybill
    (outcome,) = issue_waybills(services, [pk], courier="SF", actor="x")
    assert outcome.ok and len(issued(desk["kdniao"])) == 1


def test_an_encrypted_receiver_sent_to_kdniao_is_refused(desk: dict[str, Any], services: Any) -> None:
    pk, _, _ = bring_in(services, desk["douyin"], "douyin", [("TEA-LJ-250", 1)])
    reason = _refused(services, pk, choice="kdniao")
    assert reason == "快递鸟拒绝：收件人信息为平台加密或脱敏数据，快递鸟无法下单，请使用平台电子面单"


def test_a_wrong_kdniao_key_is_refused_for_its_sign(desk: dict[str, Any], services: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    pk, _, _ = bring_in(services, desk["miniprogram"], "miniprogram", [("TEA-LJ-250", 1)])
    monkeypatch.setenv("KDNIAO_APP_KEY", "not-the-key")
    assert _refused(services, pk) == "快递鸟拒绝：数据签名验证失败（DataSign）"


@pytest.mark.parametrize(("channel", "spoil", "reason"), [
    ("taobao", "unsubscribe", "未开通该快递公司的电子面单服务"),
    ("pdd", "no_balance", "电子面单余额不足，请联系网点充值"),
    ("douyin", "foreign_cipher", "收件人信息不是该订单的平台密文，无法解密取号"),
    ("kuaishou", "unsubscribe", "未开通该快递公司的电子面单服务"),
    ("xiaohongshu", "foreign_cipher", "收件人信息不是该订单的平台密文，无法解密取号"),
    ("taobao", "foreign_cipher", "收件人信息不是该订单的平台密文，无法解密取号"),
])
def test_a_platform_refusal_shows_its_reason_and_changes_nothing(
        channel: str, spoil: str, reason: str, desk: dict[str, Any], services: Any) -> None:
    pk, _, _ = bring_in(services, desk[channel], channel, [("TEA-LJ-250", 1)])
    fake = desk[channel]
    if spoil == "unsubscribe":
        fake.subscribed = set()
    elif spoil == "no_balance":
        fake.waybills.balance = 0
    else:
        with services.db.transaction() as s:
            order = s.get(Order, pk)
            assert order is not None
            cipher = dict(order.doc["receiver"]["cipher"])
            cipher = {k: ("X" + v if k == "oaid" else "#abcd#abcdefgh#1##") for k, v in cipher.items()}
            s.execute(update(Order).where(Order.id == pk).values(
                doc={**order.doc, "receiver": {**order.doc["receiver"], "cipher": cipher}}))
    got = _refused(services, pk)
    assert reason in got and got.startswith(f"{_label(channel)}拒绝")
    assert issued(fake) == [] and ship_messages(fake) == []
    assert [r.reason for r in ship_waybills(services, [pk], actor="x")] == ["还没有电子面单，请先取号"]
    assert dispatch(services) == 0 and ship_messages(fake) == []


def _label(channel: str) -> str:
    from engine.waybills.requests import PROVIDER_LABELS

    return PROVIDER_LABELS[channel]


def test_an_order_that_may_not_ship_gets_no_waybill(desk: dict[str, Any], services: Any) -> None:
    pk, _, _ = bring_in(services, desk["pdd"], "pdd", [("TEA-LJ-250", 1)])
    with services.db.transaction() as s:
        s.execute(update(Order).where(Order.id == pk).values(status="paid_hold"))
    assert "只有待发货、部分发货的订单可以取号" in _refused(services, pk)
    assert issued(desk["pdd"]) == []


def test_without_a_sender_address_nothing_is_asked(desk: dict[str, Any], services: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pk, _, _ = bring_in(services, desk["miniprogram"], "miniprogram", [("TEA-LJ-250", 1)])
    monkeypatch.delenv("ORDERPULSE_SENDER_PHONE")
    assert _refused(services, pk) == "未设置寄件人信息：ORDERPULSE_SENDER_PHONE"
    assert desk["kdniao"].requests == []


def test_two_desks_asking_at_once_store_one_waybill_with_one_number(desk: dict[str, Any], services: Any) -> None:
    import threading

    pk, _, _ = bring_in(services, desk["kuaishou"], "kuaishou", [("TEA-LJ-250", 1)])
    start = threading.Barrier(2)
    answers: list[Any] = []

    def click() -> None:
        start.wait()
        answers.extend(issue_waybills(services, [pk], courier="SF", actor="user:desk"))

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.ok for a in answers] == [True, True]
    assert answers[0].tracking_no == answers[1].tracking_no
    assert len(issued(desk["kuaishou"])) == 1
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Waybill).where(Waybill.order_pk == pk)) == 1
