"""One order per platform through the whole path, over real HTTP to the six fake platforms:
pulled by the published ``sources_six_channels`` puller (signed calls) → stored → the pipeline's
risk, price, reserve and ticket stages (each on the timeline with the ruleset version that
decided it) → ``POST /orders/{id}/ship`` by a 仓储 user → the write-back accepted by the fake
with a valid signature and the platform's own carrier code, the order ticket in 已发货. And the
platform's later news through the same pipeline: a cancellation before shipment releases the
stock and closes the ticket; a refund of a line opens an after-sales ticket whose later platform
statuses fire its actions."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from engine.inventory.service import inventory_for
from engine.orders.model import Order, OrderEvent
from engine.orders.pipeline import Pipeline
from engine.orders.pipeline_model import OrderTicket
from engine.scheduler import Scheduler
from engine.workflow.models import WorkflowInstance
from tests.conftest import auth
from tests.order_tickets.support import publish
from tests.orders_in.conftest import platform_order_id, platforms  # noqa: F401 - fixture
from tests.orders_in.test_pulling import scheduler, tick  # noqa: F401 - fixture
from tests.shipping.conftest import _writeback_handler, dispatch  # noqa: F401 - fixture
from tests.shipping.test_ship_end_to_end import SHIP_CALLS, SHOWN, ship_messages

CHANNELS = ("taobao", "pdd", "douyin", "kuaishou", "xiaohongshu", "miniprogram")
TEMPLATES = ("risk_standard", "promotion_apparel_festival", "order_lifecycle", "order_presale",
             "aftersales_refund_only", "aftersales_return_refund")
STOCK = {"TEA-LJ-250": 50, "SCARF-SILK": 20, "GIFT-SCARF": 10}
PULL_EVERY = 60


def _stock(services: Any) -> None:
    inventory = inventory_for(services)
    for sku, qty in STOCK.items():
        inventory.adjust(sku, qty, "入库")


def _figures(services: Any, sku: str) -> tuple[int, int]:
    item = inventory_for(services).get(sku)
    assert item is not None
    return item["total_stock"], item["reserved_stock"]


def _order(services: Any, channel: str, order_id: str) -> Order:
    with services.db.session() as s:
        row = s.scalar(select(Order).where(Order.channel == channel, Order.order_id == order_id))
        assert row is not None, f"{channel} order {order_id} not stored"
        s.expunge(row)
        return row


def _timeline(services: Any, pk: int) -> list[tuple[str, str | None, int | None]]:
    with services.db.session() as s:
        return [(e.kind, e.ruleset, e.ruleset_version) for e in s.scalars(
            select(OrderEvent).where(OrderEvent.order_pk == pk).order_by(OrderEvent.id))]


def _tickets(services: Any, pk: int) -> list[tuple[str, str, str]]:
    with services.db.session() as s:
        rows = s.execute(select(OrderTicket.kind, WorkflowInstance.machine, WorkflowInstance.state)
                         .join(WorkflowInstance, WorkflowInstance.id == OrderTicket.instance_id)
                         .where(OrderTicket.order_pk == pk).order_by(OrderTicket.id)).all()
        return [(r.kind, r.machine, r.state) for r in rows]


def _arrive(services: Any, scheduler: Scheduler, fake: Any, channel: str,  # noqa: F811
            lines: list[tuple[str, int]]) -> tuple[Order, Any]:
    order = fake.scenario.create(lines, freight=0, platform_discount=0, seller_discount=0)
    tick(services, scheduler, PULL_EVERY)
    return _order(services, channel, platform_order_id(channel, order)), order


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_order_goes_from_its_platform_through_every_stage_to_its_tracking_number_on_the_platform(
        channel: str, services: Any, platforms: Any, scheduler: Scheduler,  # noqa: F811
        client: Any, tokens: dict[str, str]) -> None:
    publish(services, *TEMPLATES)
    _stock(services)
    fake = platforms[channel]
    services.clock.advance(3)
    row, _ = _arrive(services, scheduler, fake, channel, [("TEA-LJ-250", 2)])

    assert Pipeline(services).run_due() == 1
    timeline = _timeline(services, row.id)
    stages = [(kind, ruleset) for kind, ruleset, _ in timeline]
    assert stages[0] == ("created", "sources_six_channels")
    assert ("risk_passed", "risk_standard") in stages
    assert (("priced" if channel == "miniprogram" else "price_checked"), "promotion_apparel_festival") in stages
    assert ("reserved", None) in stages
    assert ("ticket_opened", "order_lifecycle") in stages
    assert all(version == 1 for _, ruleset, version in timeline if ruleset is not None)
    assert [k for k, _, _ in timeline].index("reserved") < [k for k, _, _ in timeline].index("ticket_opened")
    assert _figures(services, "TEA-LJ-250") == (50, 2)
    assert _tickets(services, row.id) == [("order", "order_lifecycle", "待发货")]
    detail = client.get(f"/api/v1/orders/{row.id}", headers=auth(tokens["ops"])).get_json()
    assert detail["status"] == "awaiting_shipment" and detail["pipeline"]["next_stage"] == "done"
    assert detail["price"]["ruleset"] == {"name": "promotion_apparel_festival", "version": 1}

    shipped = client.post(f"/api/v1/orders/{row.id}/ship", json={"courier": "顺丰", "tracking_no": "SF9876543210"},
                          headers=auth(tokens["warehouse"]))
    assert shipped.status_code == 201, shipped.get_json()
    assert _figures(services, "TEA-LJ-250") == (48, 0)
    assert _tickets(services, row.id) == [("order", "order_lifecycle", "已发货")]
    assert dispatch(services) >= 1
    method, code = SHIP_CALLS[channel]
    (accepted,) = ship_messages(fake)
    assert (accepted["method"], accepted["company_code"], accepted["tracking_no"]) == (method, code, "SF9876543210")
    kinds = [k for k, _, _ in _timeline(services, row.id)]
    assert kinds[-2:] == ["shipped", "writeback_accepted"] or kinds[-3:-1] == ["shipped", "ticket_action"]
    assert "writeback_accepted" in kinds

    # the next pull brings the platform's shipped status: nothing is fired or shipped twice
    previous = len(_timeline(services, row.id))
    tick(services, scheduler, PULL_EVERY)
    Pipeline(services).run_due()
    after = _order(services, channel, row.order_id)
    assert after.status == "shipped" and _figures(services, "TEA-LJ-250") == (48, 0)
    assert _tickets(services, row.id) == [("order", "order_lifecycle", "已发货")]
    assert "ticket_action" not in [k for k, _, _ in _timeline(services, row.id)[previous:]]
    client_detail = SHOWN[channel]
    assert client_detail is not None


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_cancellation_before_shipment_releases_the_stock_and_closes_the_ticket(
        channel: str, services: Any, platforms: Any, scheduler: Scheduler) -> None:  # noqa: F811
    publish(services, *TEMPLATES)
    _stock(services)
    fake = platforms[channel]
    services.clock.advance(3)
    row, order = _arrive(services, scheduler, fake, channel, [("SCARF-SILK", 3)])
    Pipeline(services).run_due()
    assert _figures(services, "SCARF-SILK") == (20, 3)

    services.clock.advance(5)
    fake.scenario.cancel(order.number)
    tick(services, scheduler, PULL_EVERY)
    Pipeline(services).run_due()
    assert _figures(services, "SCARF-SILK") == (20, 0)
    assert _order(services, channel, row.order_id).status == "cancelled"
    assert _tickets(services, row.id)[0] == ("order", "order_lifecycle", "已取消")
    kinds = [k for k, _, _ in _timeline(services, row.id)]
    assert kinds.count("reservation_released") == 1


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_refund_opens_an_after_sales_ticket_that_follows_the_platform(
        channel: str, services: Any, platforms: Any, scheduler: Scheduler) -> None:  # noqa: F811
    publish(services, *TEMPLATES)
    _stock(services)
    fake = platforms[channel]
    services.clock.advance(3)
    row, order = _arrive(services, scheduler, fake, channel, [("TEA-LJ-250", 1), ("SCARF-SILK", 1)])
    Pipeline(services).run_due()
    services.clock.advance(5)
    fake.scenario.ship(order.number)
    services.clock.advance(5)
    fake.scenario.refund(order.number, line_no=1, reason_code="size_mismatch")
    tick(services, scheduler, PULL_EVERY)
    Pipeline(services).run_due()
    tickets = _tickets(services, row.id)
    assert tickets[0][2] == "已发货" and tickets[1:] == [("refund", "return_refund", "待审核")]

    services.clock.advance(5)
    fake.scenario.refund(order.number, line_no=1, status="success")
    tick(services, scheduler, PULL_EVERY)
    Pipeline(services).run_due()
    assert _tickets(services, row.id)[1] == ("refund", "return_refund", "已关闭")
