"""Tickets follow the six fake platforms over real HTTP: an order pulled by the published
``sources_six_channels`` puller (signed calls to the fakes) opens its lifecycle ticket in 待发货;
the platform ships, delivers and refunds a line, and after the next pull the order ticket has
fired 发货 and 签收 as the platform and an after-sales ticket holds the platform's refund id,
the line, the amount in fen and the status, whose later statuses (agreed, success) fire
审核通过 and 平台已退款; an order the platform cancels after payment closes its ticket (取消)
and its refunds open refund-only tickets closed at once. The stages are called the way the
pipeline calls them, in a transaction on the stored order (the lead wires them into the driver).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.orders.model import Order
from engine.orders.order_tickets import follow_platform, ticket_stage
from engine.orders.pipeline_model import OrderTicket
from engine.orders.stages import load_ref, record
from engine.scheduler import Scheduler
from engine.workflow.models import WorkflowInstance
from tests.order_tickets.support import publish
from tests.orders_in.conftest import platform_order_id, platforms  # noqa: F401 - fixture
from tests.orders_in.test_pulling import scheduler, tick  # noqa: F401 - fixture

CHANNELS = ("taobao", "pdd", "douyin", "kuaishou", "xiaohongshu", "miniprogram")
PULL_EVERY = 60
TEMPLATES = ("order_lifecycle", "order_presale", "aftersales_refund_only", "aftersales_return_refund")
# the refund id each platform's order detail gives (line 1 refunded); PDD's detail carries no
# per-line refund (its after-sales list API is not pulled): its refunds are not followed
REFUND_IDS = {
    "taobao": lambda fake, order, r: str(205_000_000_000_000_000 + r.refund_no),
    "douyin": lambda fake, order, r: f"AS{fake_module('douyin').order_id_of(order) + 1}",
    "kuaishou": lambda fake, order, r: str(3_100_000_000_000 + r.refund_no),
    "xiaohongshu": lambda fake, order, r: f"AS{fake._sku_id(order.lines[0].sku_code)}",
    "miniprogram": lambda fake, order, r: f"RF{r.refund_no:08d}",
    "pdd": lambda fake, order, r: str(7_000_000_000 + r.refund_no),
}
# platforms whose order shows a delivered order as shipped: Taobao (TRADE_BUYER_SIGNED is for
# cash on delivery only), Doudian (no delivered status), Xiaohongshu (6 待收货 until completed)
NO_DELIVERED = ("taobao", "douyin", "xiaohongshu")
# what a platform says after the seller agreed: Xiaohongshu shows both as 售后处理中
AGREED_STATE = {"xiaohongshu": "待审核"}


def fake_module(channel: str) -> Any:
    from connectors.fakes import douyin_orders
    return {"douyin": douyin_orders}[channel]


def _order(services: Any, channel: str, order_id: str) -> Order:
    with services.db.session() as s:
        row = s.scalar(select(Order).where(Order.channel == channel, Order.order_id == order_id))
        assert row is not None, f"{channel} order {order_id} not stored"
        s.expunge(row)
        return row


def _stage(services: Any, pk: int, previous: dict[str, Any] | None = None) -> list[Any]:
    with services.db.transaction() as s:
        ref = load_ref(s, pk)
        assert ref is not None
        now = services.clock.now()
        notes = ticket_stage(s, services, ref, now) if previous is None else \
            follow_platform(s, services, ref, previous, now)
        record(s, ref, notes, actor="pipeline", now=now)
        return notes


def _tickets(services: Any, pk: int) -> list[dict[str, Any]]:
    with services.db.session() as s:
        rows = s.execute(select(OrderTicket, WorkflowInstance)
                         .join(WorkflowInstance, WorkflowInstance.id == OrderTicket.instance_id)
                         .where(OrderTicket.order_pk == pk).order_by(OrderTicket.id)).all()
        return [{"kind": t.kind, "refund_id": t.refund_id, "line_id": t.line_id, "machine": i.machine,
                 "state": i.state, "data": i.data, "platform_status": t.platform_status} for t, i in rows]


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_ticket_follows_shipment_delivery_and_a_refund_of_a_line(
        services: Any, platforms: Any, scheduler: Scheduler, channel: str) -> None:  # noqa: F811
    publish(services, *TEMPLATES)
    fake = platforms[channel]
    shop = fake.scenario
    services.clock.advance(3)
    order = shop.create([("TEA-LJ-250", 1), ("SCARF-SILK", 1)], freight=0, platform_discount=0, seller_discount=0)
    order_id = platform_order_id(channel, order)
    tick(services, scheduler, PULL_EVERY)
    row = _order(services, channel, order_id)
    _stage(services, row.id)
    assert [(t["kind"], t["machine"], t["state"]) for t in _tickets(services, row.id)] == [
        ("order", "order_lifecycle", "待发货")]

    services.clock.advance(5)
    shop.ship(order.number)
    services.clock.advance(5)
    shop.deliver(order.number)
    services.clock.advance(5)
    refunded = shop.refund(order.number, line_no=1, reason_code="size_mismatch")
    previous = row.doc
    tick(services, scheduler, PULL_EVERY)
    row = _order(services, channel, order_id)
    notes = _stage(services, row.id, previous)
    fired = [n.detail["action"] for n in notes if n.kind == "ticket_action"]
    tickets = _tickets(services, row.id)
    if channel in NO_DELIVERED:
        assert fired == ["发货"] and tickets[0]["state"] == "已发货"
    else:
        assert fired == ["发货", "签收"] and tickets[0]["state"] == "已签收"
    assert tickets[0]["data"]["tracking_no"]  # the platform's tracking number, or the declared fallback
    refund = refunded.refunds[-1]
    refund_id = REFUND_IDS[channel](fake, refunded, refund)
    assert [(t["kind"], t["refund_id"], t["machine"], t["state"]) for t in tickets[1:]] == [
        ("refund", refund_id, "return_refund", "待审核")]
    assert tickets[1]["data"]["refund_amount"] == 16800 and tickets[1]["data"]["order_id"] == order_id
    assert tickets[1]["line_id"] == row.doc["lines"][0]["line_id"]
    # the platforms whose order carries the refund's reason give it; the others' order details do not
    assert tickets[1]["data"]["reason"] == ("尺码偏差" if channel in ("taobao", "kuaishou", "miniprogram", "pdd")
                                          else "未注明")

    for status, state in (("agreed", AGREED_STATE.get(channel, "待退货")), ("success", "已关闭")):
        services.clock.advance(5)
        shop.refund(order.number, line_no=1, status=status)
        previous = row.doc
        tick(services, scheduler, PULL_EVERY)
        row = _order(services, channel, order_id)
        _stage(services, row.id, previous)
        assert _tickets(services, row.id)[1]["state"] == state, status


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_cancellation_after_payment_closes_the_ticket_and_its_refunds_close_at_once(
        services: Any, platforms: Any, scheduler: Scheduler, channel: str) -> None:  # noqa: F811
    publish(services, *TEMPLATES)
    shop = platforms[channel].scenario
    services.clock.advance(3)
    order = shop.create([("TSHIRT-W-M", 2)], freight=0, platform_discount=0, seller_discount=0)
    order_id = platform_order_id(channel, order)
    tick(services, scheduler, PULL_EVERY)
    row = _order(services, channel, order_id)
    _stage(services, row.id)
    services.clock.advance(5)
    shop.cancel(order.number)
    previous = row.doc
    tick(services, scheduler, PULL_EVERY)
    row = _order(services, channel, order_id)
    assert row.status == "cancelled"
    _stage(services, row.id, previous)
    tickets = _tickets(services, row.id)
    assert (tickets[0]["state"], tickets[0]["platform_status"]) == ("已取消", "cancelled")
    assert tickets[0]["data"]["cancel_reason"] == "平台关闭订单"
    refunds = [(t["machine"], t["state"], t["data"]["refund_amount"]) for t in tickets[1:]]
    assert refunds == [("refund_only", "已关闭", 2 * 8990)]
