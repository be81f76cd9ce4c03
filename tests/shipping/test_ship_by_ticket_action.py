"""A person ships an order by pressing 发货 on its order ticket
(``POST /instances/{id}/actions/发货`` with the courier and tracking number): the order ships through
the same use case as ``POST /orders/{id}/ship`` (stock shipped, order 已发货, one shipment, the
write-back over HTTP to the fake platform with that platform's carrier code) and the ticket
moves to 已发货 in the same transaction, its action fired once. The same Idempotency-Key twice
is one shipment; a refused press (role, missing or unknown courier, no reservation, order on
hold) changes nothing, the ticket included. On SQLite and PostgreSQL + Redis."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dsl import load_text
from engine.inventory.service import inventory_for
from engine.orders.model import Order
from engine.orders.order_tickets import ticket_stage
from engine.orders.pipeline_model import OrderTicket
from engine.orders.stages import load_ref, record
from engine.orders.ticket_ship import ship_action_of
from engine.workflow.models import WorkflowInstance, WorkflowTransition
from tests.conftest import auth
from tests.order_tickets.support import publish, template_text
from tests.shipping.conftest import bring_in, dispatch, outbox_rows, shipments, timeline_kinds
from tests.shipping.test_ship_requests import snapshot

SHIP_CALLS = {  # method and carrier code each fake records for 顺丰
    "taobao": ("taobao.logistics.offline.send", "SF"),
    "pdd": ("pdd.logistics.online.send", 44),
    "douyin": ("order.logisticsAdd", "shunfeng"),
}


def open_ticket(services: Any, pk: int) -> int:
    """Run the pipeline's ticket stage on the stored order; the order ticket's id."""
    with services.db.transaction() as s:
        ref = load_ref(s, pk)
        assert ref is not None
        record(s, ref, ticket_stage(s, services, ref, services.clock.now()), actor="pipeline",
               now=services.clock.now())
        ticket = s.scalar(select(OrderTicket.instance_id).where(OrderTicket.order_pk == pk,
                                                                OrderTicket.kind == "order"))
        assert ticket is not None
        return int(ticket)


def ticket_state(services: Any, ticket: int) -> tuple[str, int, list[tuple[str, str | None]]]:
    with services.db.session() as s:
        inst = s.get(WorkflowInstance, ticket)
        assert inst is not None
        steps = s.execute(select(WorkflowTransition.action, WorkflowTransition.idempotency_key)
                          .where(WorkflowTransition.instance_id == ticket).order_by(WorkflowTransition.seq)).all()
        return inst.state, inst.version, [tuple(r) for r in steps]  # type: ignore[misc]


def press(client: Any, token: str, ticket: int, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {**auth(token), **({"Idempotency-Key": key} if key else {})}
    return client.post(f"/api/v1/instances/{ticket}/actions/发货", json=body, headers=headers)


@pytest.fixture
def lifecycle(services: Any) -> None:
    publish(services, "order_lifecycle")


@pytest.mark.parametrize("channel", list(SHIP_CALLS))
def test_warehouse_presses_发货_on_the_order_ticket_and_the_order_ships_once(
        channel: str, lifecycle: None, services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    fake = platforms[channel]
    pk, order_id, _ = bring_in(services, fake, channel, [("TEA-LJ-250", 2)])
    ticket = open_ticket(services, pk)
    assert ticket_state(services, ticket)[0] == "待发货"
    body = {"courier": "顺丰", "tracking_no": "SF7000000001"}

    first = press(client, tokens["warehouse"], ticket, body, key="press-1")
    assert first.status_code == 200, first.get_json()
    answer = first.get_json()
    assert answer["state"] == "已发货" and answer["action"]["name"] == "发货" and answer["action"]["from"] == "待发货"
    assert answer["data"]["courier"] == "顺丰速运" and answer["data"]["tracking_no"] == "SF7000000001"
    again = press(client, tokens["warehouse"], ticket, body, key="press-1")  # a retry of the same press
    assert again.status_code == 200 and again.get_json()["action"] == answer["action"]

    (shipment,) = shipments(services, pk)
    assert (shipment.via, shipment.actor, shipment.courier, shipment.tracking_no) == (
        "machine", "user:user_warehouse", "SF", "SF7000000001")
    assert [ln["qty"] for ln in shipment.lines] == [2]
    stock = inventory_for(services).get("TEA-LJ-250")
    assert (stock["total_stock"], stock["reserved_stock"]) == (48, 0)
    with services.db.session() as s:
        order = s.get(Order, pk)
        assert order is not None and order.status == "shipped"
        assert order.doc["tracking"] == {"courier": "顺丰速运", "number": "SF7000000001"}
    state, version, steps = ticket_state(services, ticket)
    assert state == "已发货" and steps[-1] == ("发货", "press-1")
    assert [a for a, _ in steps].count("发货") == 1
    kinds = timeline_kinds(services, pk)
    assert kinds.count("shipped") == 1 and kinds[-2:] == ["shipped", "ticket_action"]

    # the ticket's 发货 effect texts the consumer: a marketplace masks the phone, so no SMS row
    # is written (the platform tells its buyer) and the answer says why
    assert outbox_rows(services, "notify.sms") == []
    assert [e for e in answer["action"]["effects"] if e["effect"] == "notify"] == [
        {"effect": "notify", "channel": "短信", "topic": "notify.sms", "skipped": "recipient_masked"}]
    dispatch(services)
    (accepted,) = [m for m in fake.messages if m.get("tracking_no")]
    method, code = SHIP_CALLS[channel]
    assert (accepted["method"], accepted["company_code"], accepted["tracking_no"], accepted["order_id"]) == (
        method, code, "SF7000000001", order_id)
    (row,) = outbox_rows(services)
    assert row.status == "delivered" and row.attempts == 1

    later = press(client, tokens["warehouse"], ticket, {**body, "tracking_no": "SF7000000002"}, key="press-2")
    assert later.status_code == 409 and later.get_json()["error"]["code"] == "wrong_state"
    assert len(shipments(services, pk)) == 1 and ticket_state(services, ticket)[1] == version


def test_the_order_page_shows_the_shipment_made_from_the_ticket(
        lifecycle: None, services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    pk, _, _ = bring_in(services, platforms["kuaishou"], "kuaishou", [("TEA-LJ-250", 1)])
    ticket = open_ticket(services, pk)
    assert press(client, tokens["ops"], ticket, {"courier": "YD", "tracking_no": "4318000000009"}).status_code == 403
    assert press(client, tokens["warehouse"], ticket,
                 {"courier": "韵达", "tracking_no": "4318000000009"}).status_code == 200
    page = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["cs"])).get_json()
    assert page["status"] == "shipped"
    assert [(s["via"], s["courier"], s["tracking_no"]) for s in page["shipments"]] == [
        ("machine", "YUNDA", "4318000000009")]
    assert [(t["kind"], t["state"]) for t in page["tickets"]] == [("order", "已发货")]


@pytest.mark.parametrize(("who", "body", "status", "code", "paths"), [
    ("cs", {"courier": "SF", "tracking_no": "SF7000000001"}, 403, "wrong_role", None),
    ("warehouse", {"tracking_no": "SF7000000001"}, 422, "missing_required", ["/courier"]),
    ("warehouse", {"courier": "SF"}, 422, "missing_required", ["/tracking_no"]),
    ("warehouse", {"courier": "顺风", "tracking_no": "SF7000000001"}, 422, "invalid_ship_request", ["/courier"]),
    ("warehouse", {"courier": "SF", "tracking_no": "SF 1"}, 422, "invalid_ship_request", ["/tracking_no"]),
    ("warehouse", {"courier": "SF", "tracking_no": "SF7000000001", "lines": [{"sku_id": "TEA-LJ-250", "qty": 3}]},
     422, "invalid_ship_request", ["/lines/0/qty"]),
])
def test_a_refused_press_changes_nothing(who: str, body: dict[str, Any], status: int, code: str,
                                         paths: list[str] | None, lifecycle: None, services: Any, platforms: Any,
                                         client: Any, tokens: dict[str, str]) -> None:
    pk, _, _ = bring_in(services, platforms["taobao"], "taobao", [("TEA-LJ-250", 2)])
    ticket = open_ticket(services, pk)
    before, ticket_before = snapshot(services, pk), ticket_state(services, ticket)
    answer = press(client, tokens[who], ticket, body, key="press-x")
    assert answer.status_code == status, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == code
    if paths is not None:
        assert [d["path"] for d in error["details"]] == paths
    assert snapshot(services, pk) == before and ticket_state(services, ticket) == ticket_before


def test_an_order_without_a_reservation_or_on_hold_refuses_the_press_unchanged(
        lifecycle: None, services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    pk, order_id, _ = bring_in(services, platforms["douyin"], "douyin", [("TEA-LJ-250", 1)])
    ticket = open_ticket(services, pk)
    inventory_for(services).release(f"douyin/{order_id}")
    before, ticket_before = snapshot(services, pk), ticket_state(services, ticket)
    body = {"courier": "SF", "tracking_no": "SF7000000003"}
    answer = press(client, tokens["warehouse"], ticket, body, key="press-y")
    assert answer.status_code == 409 and answer.get_json()["error"]["code"] == "ship_refused"
    assert snapshot(services, pk) == before and ticket_state(services, ticket) == ticket_before
    with services.db.transaction() as s:
        s.execute(Order.__table__.update().where(Order.id == pk).values(status="paid_hold"))
    held = press(client, tokens["warehouse"], ticket, body, key="press-y")
    assert held.status_code == 409 and held.get_json()["error"]["code"] == "order_not_shippable"
    assert ticket_state(services, ticket) == ticket_before and shipments(services, pk) == []


def test_other_actions_of_the_order_ticket_stay_the_workflows(
        lifecycle: None, services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    pk, _, _ = bring_in(services, platforms["pdd"], "pdd", [("TEA-LJ-250", 1)])
    ticket = open_ticket(services, pk)
    answer = client.post(f"/api/v1/instances/{ticket}/actions/取消", json={"cancel_reason": "买家要求"},
                         headers=auth(tokens["cs"]))
    assert answer.status_code == 200 and answer.get_json()["state"] == "已取消"
    assert shipments(services, pk) == [] and inventory_for(services).get("TEA-LJ-250")["reserved_stock"] == 1


def test_shipping_through_the_api_still_moves_the_ticket_with_the_courier(
        lifecycle: None, services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    pk, _, _ = bring_in(services, platforms["xiaohongshu"], "xiaohongshu", [("TEA-LJ-250", 1)])
    ticket = open_ticket(services, pk)
    answer = client.post(f"/api/v1/orders/{pk}/ship", json={"courier": "中通", "tracking_no": "7531000009"},
                         headers=auth(tokens["warehouse"]))
    assert answer.status_code == 201, answer.get_json()
    state, _, steps = ticket_state(services, ticket)
    assert state == "已发货" and [a for a, _ in steps].count("发货") == 1
    with services.db.session() as s:
        inst = s.get(WorkflowInstance, ticket)
        assert inst is not None and inst.data["courier"] == "中通快递" and inst.data["tracking_no"] == "7531000009"


def test_the_ship_action_is_the_last_one_the_declaration_binds_to_shipped() -> None:
    lifecycle = load_text(template_text("order_lifecycle"), "dsl")
    presale = load_text(template_text("order_presale"), "dsl")
    assert ship_action_of(lifecycle, "order_lifecycle") == "发货"
    assert ship_action_of(presale, "presale_order") == "发货"  # after 付定金, 付尾款, which catch a ticket up
    assert ship_action_of(lifecycle, "presale_order") is None
    unbound = template_text("order_lifecycle").replace("    status shipped do 发货 with", "    status delivered do 发货 with")
    assert ship_action_of(load_text(unbound.replace("    status delivered do 签收\n", ""), "dsl"),
                          "order_lifecycle") is None
