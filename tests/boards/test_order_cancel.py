"""``POST /api/v1/orders/{id}/cancel``: a person cancels an order not yet shipped. Its reserved stock
comes back once (a retry changes nothing), the order ticket's 取消 fires as that person where the
machine lets their role, any hold is cleared, and who, when and why go on the timeline."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from engine.inventory.models import LedgerEntry
from engine.orders.pipeline import Pipeline
from engine.orders.pipeline_model import OrderTicket
from engine.services import Services
from engine.workflow.models import WorkflowInstance, WorkflowTransition
from tests.boards.world import publish
from tests.conftest import auth
from tests.pipeline.helpers import events, figures, order, put, reserved_lines, row, status_tags, stock


def _moved(services: Services, *orders: dict[str, Any]) -> list[int]:
    stored = put(services, *orders)
    Pipeline(services).run_due()
    return [s.order_pk for s in stored]


def _ticket(services: Services, pk: int) -> WorkflowInstance:
    with services.db.session() as s:
        instance_id = s.scalar(select(OrderTicket.instance_id).where(OrderTicket.order_pk == pk,
                                                                     OrderTicket.kind == "order"))
        inst = s.get(WorkflowInstance, instance_id)
        assert inst is not None
        s.expunge(inst)
        return inst


def _releases(services: Services, ref: str) -> list[tuple[str, int, str]]:
    with services.db.session() as s:
        return [(r.sku_id, r.delta_reserved, r.actor) for r in s.scalars(
            select(LedgerEntry).where(LedgerEntry.order_id == ref, LedgerEntry.operation == "release")
            .order_by(LedgerEntry.id))]


def test_a_cs_lead_cancels_a_held_order_its_stock_comes_back_once_and_its_ticket_is_cancelled(
        services: Services, client: Any, tokens: dict[str, str]) -> None:
    publish(services, "order_lifecycle")
    stock(services, SKU_A=10, SKU_B=5)
    [pk] = _moved(services, order("C1", lines=[("SKU-A", 3), ("SKU-B", 2)]))
    assert _ticket(services, pk).state == "待发货"
    held = client.post(f"/api/v1/orders/{pk}/hold", json={"reason": "地址待核实"}, headers=auth(tokens["ops"]))
    assert held.status_code == 200 and held.json["status"] == "paid_hold"
    assert (figures(services, "SKU-A"), figures(services, "SKU-B")) == ((10, 3), (5, 2))

    answer = client.post(f"/api/v1/orders/{pk}/cancel", json={"reason": " 买家电话要求取消 "},
                         headers=auth(tokens["cs_lead"]))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["status"] == "cancelled"
    assert body["pipeline"]["hold"] is None and body["pipeline"]["status"] == "done"
    assert body["reservation"]["open_units"] == 0
    assert (figures(services, "SKU-A"), figures(services, "SKU-B")) == ((10, 0), (5, 0))
    assert reserved_lines(services, "douyin/C1") == {"SKU-A": (3, 0, 3), "SKU-B": (2, 0, 2)}
    [entry] = [e for e in body["timeline"] if e["kind"] == "cancelled"]
    assert (entry["actor"], entry["detail"]["reason"], entry["detail"]["role"], entry["detail"]["previous_status"]) == (
        "user:user_cs_lead", "买家电话要求取消", "cs_lead", "paid_hold")
    assert entry["detail"]["hold"] == {"reason": "地址待核实", "held_by": "user:user_ops", "short_skus": []}
    assert entry["detail"]["released"] == [{"sku_id": "SKU-A", "qty": 3}, {"sku_id": "SKU-B", "qty": 2}]
    assert entry["at"].startswith("2026-")
    fired = [e for e in body["timeline"] if e["kind"] == "ticket_action"]
    assert [(e["detail"]["action"], e["detail"]["from"], e["detail"]["to"], e["actor"]) for e in fired][-1] == (
        "取消", "待发货", "已取消", "user:user_cs_lead")
    ticket = _ticket(services, pk)
    assert (ticket.state, ticket.closed, ticket.data["cancel_reason"]) == ("已取消", True, "买家电话要求取消")
    with services.db.session() as s:
        last = s.scalars(select(WorkflowTransition).where(WorkflowTransition.instance_id == ticket.id)
                         .order_by(WorkflowTransition.seq.desc())).first()
        assert last is not None and (last.action, last.actor, last.actor_role) == ("取消", "user:user_cs_lead",
                                                                                   "cs_lead")

    # the same request again (a double click, a client's retry): the order as it stands, nothing moves
    again = client.post(f"/api/v1/orders/{pk}/cancel", json={"reason": "再点一次"}, headers=auth(tokens["admin"]))
    assert again.status_code == 200 and again.json["status"] == "cancelled"
    assert (figures(services, "SKU-A"), figures(services, "SKU-B")) == ((10, 0), (5, 0))
    assert len(events(services, pk, "cancelled")) == 1
    assert _releases(services, "douyin/C1") == [("SKU-A", -3, "user:user_cs_lead"), ("SKU-B", -2, "user:user_cs_lead")]

    # the pipeline finds nothing to do for it, and a hold or release is refused
    Pipeline(services).run_due()
    assert row(services, pk).status == "done" and status_tags(services, pk)[0] == "cancelled"
    assert (figures(services, "SKU-A"), figures(services, "SKU-B")) == ((10, 0), (5, 0))
    refused = client.post(f"/api/v1/orders/{pk}/hold", json={"reason": "x"}, headers=auth(tokens["ops"]))
    assert refused.status_code == 409 and refused.json["error"]["code"] == "order_not_holdable"

    # a newer platform version still saying 待发货 (the buyer edited a note) does not revive it
    [again_stored] = put(services, order("C1", minutes=30, lines=[("SKU-A", 3), ("SKU-B", 2)]))
    assert again_stored.outcome == "updated"
    Pipeline(services).run_due()
    assert status_tags(services, pk)[0] == "cancelled"
    assert (figures(services, "SKU-A"), figures(services, "SKU-B")) == ((10, 0), (5, 0))


def test_an_operator_cancels_though_the_machine_keeps_the_cancel_action_for_customer_service(
        services: Services, client: Any, tokens: dict[str, str]) -> None:
    publish(services, "order_lifecycle")
    stock(services, SKU_A=4)
    [pk] = _moved(services, order("C2", lines=[("SKU-A", 1)]))
    answer = client.post(f"/api/v1/orders/{pk}/cancel", json={"reason": "重复下单"}, headers=auth(tokens["ops"]))
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "cancelled" and figures(services, "SKU-A") == (4, 0)
    [refused] = [e for e in answer.json["timeline"] if e["kind"] == "ticket_action_refused"]
    assert (refused["detail"]["action"], refused["detail"]["code"], refused["actor"]) == (
        "取消", "wrong_role", "user:user_ops")
    assert _ticket(services, pk).state == "待发货"  # the machine decided: 取消 is for 客服 and 客服组长


def test_only_ops_cs_lead_and_admin_may_cancel_and_bad_requests_change_nothing(
        services: Services, client: Any, tokens: dict[str, str]) -> None:
    stock(services, SKU_A=4)
    [pk] = _moved(services, order("C3", lines=[("SKU-A", 2)]))
    for role in ("warehouse", "finance", "cs"):
        refused = client.post(f"/api/v1/orders/{pk}/cancel", json={"reason": "x"}, headers=auth(tokens[role]))
        assert refused.status_code == 403, role
    for bad in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "长" * 201}, {"reason": 7}):
        answer = client.post(f"/api/v1/orders/{pk}/cancel", json=bad, headers=auth(tokens["ops"]))
        assert answer.status_code == 422, bad
        assert answer.json["error"]["details"][0]["path"].endswith("reason")
    missing = client.post("/api/v1/orders/99999/cancel", json={"reason": "x"}, headers=auth(tokens["ops"]))
    assert missing.status_code == 404 and missing.json["error"]["code"] == "order_not_found"
    assert status_tags(services, pk)[0] == "awaiting_shipment" and figures(services, "SKU-A") == (4, 2)
    assert events(services, pk, "cancelled") == []


def test_a_shipped_order_is_refused_with_409_and_keeps_its_stock_figures(
        services: Services, client: Any, tokens: dict[str, str]) -> None:
    stock(services, SKU_A=6)
    partly, whole = _moved(services, order("C4", lines=[("SKU-A", 1), ("SKU-B", 1)]), order("C5", status="shipped"))
    stock(services, SKU_B=2)
    Pipeline(services).run_due()
    shipped = client.post(f"/api/v1/orders/{partly}/ship", json={"courier": "中通", "tracking_no": "7531000001",
                                                                  "lines": [{"sku_id": "SKU-A", "qty": 1}]},
                          headers=auth(tokens["warehouse"]))
    assert shipped.status_code == 201, shipped.json
    before = (figures(services, "SKU-A"), figures(services, "SKU-B"))
    assert before == ((5, 0), (2, 1))
    for pk, status in ((partly, "partially_shipped"), (whole, "shipped")):
        answer = client.post(f"/api/v1/orders/{pk}/cancel", json={"reason": "买家不要了"},
                             headers=auth(tokens["cs_lead"]))
        assert answer.status_code == 409, answer.json
        error = answer.json["error"]
        assert error["code"] == "order_shipped" and error["details"][0]["path"] == "/status"
        assert error["details"][0]["status"] == status
        assert status_tags(services, pk)[0] == status and events(services, pk, "cancelled") == []
    assert (figures(services, "SKU-A"), figures(services, "SKU-B")) == before


def test_a_short_order_is_cancelled_and_loses_its_short_tag(services: Services, client: Any,
                                                            tokens: dict[str, str]) -> None:
    stock(services, SKU_A=1)
    [pk] = _moved(services, order("C6", lines=[("SKU-A", 2)]))
    assert status_tags(services, pk) == ("paid_hold", ["缺货"])
    answer = client.post(f"/api/v1/orders/{pk}/cancel", json={"reason": "缺货，与买家协商取消"},
                         headers=auth(tokens["admin"]))
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "cancelled" and answer.json["tags"] == []
    assert answer.json["reservation"] is None and figures(services, "SKU-A") == (1, 0)
    with services.db.session() as s:
        from engine.orders.model import OrderTag

        assert s.scalar(select(func.count()).select_from(OrderTag).where(OrderTag.order_pk == pk)) == 0
    stock(services, SKU_A=5)  # stock arriving does not bring a cancelled order back
    Pipeline(services).run_due()
    assert status_tags(services, pk) == ("cancelled", []) and figures(services, "SKU-A") == (6, 0)
