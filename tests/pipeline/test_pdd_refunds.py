"""拼多多 after-sales, over real HTTP to the fake POP router, as the other platforms' refunds:
the order's detail brings its after-sales from ``pdd.refund.list.increment.get`` (signed, by
``order_sn``), the ``pdd`` mapping keeps the refund id, the line, the amount in fen and one of
the 12 return reasons, the pipeline opens an after-sales ticket, and PDD's later after-sales
statuses fire that ticket's actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from connectors.fakes.pdd_orders import REFUND_BASE
from connectors.outbound import ConnectorError
from engine.orders.model import Order
from engine.orders.pipeline import Pipeline
from engine.orders.pipeline_model import OrderTicket
from engine.orders.sources import order_client, order_sources
from engine.scheduler import Scheduler
from engine.workflow.models import WorkflowInstance
from tests.order_tickets.support import publish
from tests.orders_in.conftest import platform_order_id, platforms  # noqa: F401 - fixture
from tests.orders_in.test_pulling import scheduler, tick  # noqa: F401 - fixture
from tests.pipeline.test_end_to_end import PULL_EVERY, TEMPLATES, _stock

REFUNDS = "pdd.refund.list.increment.get"


def _stored(services: Any, order_id: str) -> Order:
    with services.db.session() as s:
        row = s.scalar(select(Order).where(Order.channel == "pdd", Order.order_id == order_id))
        assert row is not None
        s.expunge(row)
        return row


def _refund_ticket(services: Any, pk: int) -> tuple[str, dict[str, Any]]:
    with services.db.session() as s:
        state, data = s.execute(select(WorkflowInstance.state, WorkflowInstance.data)
                                .join(OrderTicket, OrderTicket.instance_id == WorkflowInstance.id)
                                .where(OrderTicket.order_pk == pk, OrderTicket.kind == "refund")).one()
        return state, dict(data)


def _refund_calls(fake: Any) -> list[dict[str, str]]:
    out = []
    for request in fake.requests:
        params = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8")).items()}
        if params.get("type") == REFUNDS:
            out.append(params)
    return out


def test_a_pdd_after_sales_opens_a_ticket_with_its_id_line_amount_and_reason_and_follows_pdd(
        services: Any, platforms: Any, scheduler: Scheduler) -> None:  # noqa: F811
    publish(services, *TEMPLATES)
    _stock(services)
    fake = platforms["pdd"]
    services.clock.advance(3)
    order = fake.scenario.create([("TEA-LJ-250", 1), ("SCARF-SILK", 2)], freight=0, platform_discount=0,
                                 seller_discount=0)
    tick(services, scheduler, PULL_EVERY)
    row = _stored(services, platform_order_id("pdd", order))
    Pipeline(services).run_due()
    assert _refund_calls(fake) == []  # no after-sales yet: the order detail alone

    services.clock.advance(5)
    fake.scenario.ship(order.number)
    services.clock.advance(5)
    fake.scenario.refund(order.number, line_no=2, reason_code="fabric_pilling")
    tick(services, scheduler, PULL_EVERY)
    Pipeline(services).run_due()

    [call] = _refund_calls(fake)
    assert call["order_sn"] == row.order_id and call["sign"] and call["client_id"]
    scarf = fake.scenario.get(order.number).lines[1]
    goods_id, sku_id = fake.ids_for("SCARF-SILK")
    [refund] = _stored(services, row.order_id).doc["refunds"]
    assert refund == {"refund_id": str(REFUND_BASE + fake.scenario.get(order.number).refunds[0].refund_no),
                      "line_id": f"{goods_id}-{sku_id}", "sku_id": "SCARF-SILK",
                      "amount": scarf.paid_amount, "reason": "面料起球", "status": "requested"}
    state, data = _refund_ticket(services, row.id)
    assert state == "待审核"
    assert (data["reason"], data["refund_amount"], data["order_id"]) == ("面料起球", scarf.paid_amount, row.order_id)

    services.clock.advance(5)
    fake.scenario.refund(order.number, line_no=2, status="agreed")
    tick(services, scheduler, PULL_EVERY)
    Pipeline(services).run_due()
    assert _refund_ticket(services, row.id)[0] == "待退货"

    services.clock.advance(5)
    fake.scenario.refund(order.number, line_no=2, status="success")
    tick(services, scheduler, PULL_EVERY)
    Pipeline(services).run_due()
    assert _refund_ticket(services, row.id)[0] == "已关闭"
    assert _stored(services, row.order_id).doc["refunds"][0]["status"] == "success"


def test_the_fake_refund_list_answers_like_pdd_window_and_required_parameters(
        services: Any, platforms: Any) -> None:  # noqa: F811
    fake = platforms["pdd"]
    order = fake.scenario.create([("TEA-LJ-250", 1)], freight=0, platform_discount=0, seller_discount=0)
    services.clock.advance(5)
    fake.scenario.refund(order.number, line_no=1, reason_code="seven_day_no_reason")
    client = order_client(services, order_sources(services)["pdd"])
    assert client is not None
    end = int(services.clock.now().timestamp())
    body = client.call(REFUNDS, {"after_sales_status": 1, "after_sales_type": 1, "start_updated_at": end - 600,
                                 "end_updated_at": end}, response_key="refund_increment_get_response")
    [row] = body["refund_list"]
    assert body["total_count"] == 1
    assert (row["after_sales_status"], row["after_sales_type"], row["after_sale_reason"]) == (2, 2, "七天无理由退货")
    assert row["refund_amount"] == f"{order.lines[0].paid_amount // 100}.{order.lines[0].paid_amount % 100:02d}"
    with pytest.raises(ConnectorError, match="10000|30"):
        client.call(REFUNDS, {"after_sales_status": 1, "after_sales_type": 1, "start_updated_at": end - 3600,
                              "end_updated_at": end}, response_key="refund_increment_get_response")
    with pytest.raises(ConnectorError, match="21002|after_sales_type"):
        client.call(REFUNDS, {"after_sales_status": 1, "start_updated_at": end - 60, "end_updated_at": end},
                    response_key="refund_increment_get_response")
