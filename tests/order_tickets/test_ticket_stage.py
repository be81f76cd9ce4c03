"""Tickets follow the platform: the ticket stage opens each order's ticket on the machine the
published ``follow`` declarations choose (order_lifecycle, presale orders on presale_order), an
order arriving already paid, shipped or completed lands in the state those statuses lead to,
a newer platform version fires the bound actions as the actor ``platform``, each platform
refund opens an after-sales ticket (refund id, line, amount, reason) whose later statuses fire
its actions, and a merchant who edits the declaration changes what happens. The stages run in a
transaction on stored orders, with the published templates, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from engine.orders.order_tickets import fire_for_status, follow_platform, ticket_stage
from engine.orders.pipeline_model import OrderTicket
from engine.orders.stages import load_ref, record
from engine.orders.store import Incoming, store_order
from engine.workflow.models import WorkflowInstance, WorkflowTransition
from tests.conftest import auth
from tests.order_tickets.support import publish, publish_content, template_text
from tests.orders.order_factory import T0, order_py

TEMPLATES = ("order_lifecycle", "order_presale", "aftersales_refund_only", "aftersales_return_refund")


def _store(services: Any, order: dict[str, Any]) -> int:
    return store_order(services.db, Incoming(order, order["channel"], "pull"), now=services.clock.now()).order_pk


def _run(services: Any, pk: int, stage: Any, *args: Any) -> list[Any]:
    with services.db.transaction() as s:
        ref = load_ref(s, pk)
        assert ref is not None
        notes = stage(s, services, ref, *args, services.clock.now()) if args else stage(s, services, ref,
                                                                                        services.clock.now())
        record(s, ref, notes, actor="pipeline", now=services.clock.now())
        return list(notes)


def _follow(services: Any, pk: int, previous: dict[str, Any]) -> list[Any]:
    with services.db.transaction() as s:
        ref = load_ref(s, pk)
        assert ref is not None
        notes = follow_platform(s, services, ref, previous, services.clock.now())
        record(s, ref, notes, actor="pipeline", now=services.clock.now())
        return list(notes)


def _tickets(services: Any, pk: int) -> list[tuple[str, str, str, str]]:
    with services.db.session() as s:
        rows = s.execute(select(OrderTicket.kind, OrderTicket.refund_id, WorkflowInstance.machine,
                                WorkflowInstance.state)
                         .join(WorkflowInstance, WorkflowInstance.id == OrderTicket.instance_id)
                         .where(OrderTicket.order_pk == pk).order_by(OrderTicket.id)).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _history(services: Any, pk: int, kind: str = "order", refund_id: str = "") -> list[tuple[str, str, str]]:
    with services.db.session() as s:
        inst = s.scalar(select(OrderTicket.instance_id).where(OrderTicket.order_pk == pk, OrderTicket.kind == kind,
                                                              OrderTicket.refund_id == refund_id))
        rows = s.execute(select(WorkflowTransition.action, WorkflowTransition.to_state, WorkflowTransition.actor)
                         .where(WorkflowTransition.instance_id == inst).order_by(WorkflowTransition.seq)).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _newer(services: Any, order: dict[str, Any], minutes: int, **changes: Any) -> dict[str, Any]:
    before = dict(order)
    order.update(changes, updated_at=T0 + timedelta(minutes=minutes))
    services.clock.advance(60)
    _store(services, order)
    return before


def test_a_paid_order_opens_its_lifecycle_ticket_in_awaiting_shipment_and_the_platform_cancellation_closes_it(
        services: Any) -> None:
    publish(services, *TEMPLATES)
    order = order_py("DY-1", buyer_phone="13812345678")
    pk = _store(services, order)
    notes = _run(services, pk, ticket_stage)
    assert [n.kind for n in notes] == ["ticket_opened", "ticket_action"]
    assert notes[0].ruleset == "order_lifecycle" and notes[0].ruleset_version == 1
    assert notes[0].detail["machine"] == "order_lifecycle" and notes[0].detail["state"] == "待付款"
    assert (notes[1].detail["action"], notes[1].detail["from"], notes[1].detail["to"]) == ("付款", "待付款", "待发货")
    assert _tickets(services, pk) == [("order", "", "order_lifecycle", "待发货")]
    assert _history(services, pk) == [("create", "待付款", "platform"), ("付款", "待发货", "platform")]

    assert _run(services, pk, ticket_stage) == []  # run again (a retried stage): nothing twice
    previous = _newer(services, order, 5, status="cancelled")
    notes = _follow(services, pk, previous)
    assert [(n.kind, n.detail.get("action"), n.detail.get("to")) for n in notes] == [
        ("ticket_action", "取消", "已取消")]
    assert _tickets(services, pk) == [("order", "", "order_lifecycle", "已取消")]
    with services.db.session() as s:
        inst = s.get(WorkflowInstance, s.scalar(select(OrderTicket.instance_id).where(OrderTicket.order_pk == pk)))
        assert inst is not None and inst.data["cancel_reason"] == "平台关闭订单"
        assert inst.data["order_id"] == "DY-1" and inst.data["channel"] == "douyin"
    assert _follow(services, pk, previous) == []  # the same version followed again: nothing


def test_an_order_arriving_completed_passes_payment_shipment_and_delivery_in_order(services: Any) -> None:
    publish(services, *TEMPLATES)
    order = order_py("TB-9", channel="taobao", status="completed", shipped_at=T0 + timedelta(hours=5),
                     tracking={"courier": "ZTO", "number": "7531000001"})
    pk = _store(services, order)
    notes = _run(services, pk, ticket_stage)
    assert [n.detail.get("action") for n in notes if n.kind == "ticket_action"] == ["付款", "发货", "签收", "确认收货"]
    assert _tickets(services, pk) == [("order", "", "order_lifecycle", "已完成")]
    with services.db.session() as s:
        inst = s.get(WorkflowInstance, s.scalar(select(OrderTicket.instance_id).where(OrderTicket.order_pk == pk)))
        assert inst is not None and inst.data["tracking_no"] == "7531000001"


def test_a_presale_order_follows_the_presale_machine(services: Any) -> None:
    publish(services, *TEMPLATES)
    pk = _store(services, order_py("YS-1", presale=True))
    notes = _run(services, pk, ticket_stage)
    assert notes[0].ruleset == "order_presale" and notes[0].detail["machine"] == "presale_order"
    assert _tickets(services, pk) == [("order", "", "presale_order", "待发货")]
    assert [a for a, _, _ in _history(services, pk)] == ["create", "付定金", "付尾款"]


def test_a_platform_refund_after_shipment_opens_a_return_ticket_whose_later_statuses_fire_its_actions(
        services: Any) -> None:
    publish(services, *TEMPLATES)
    order = order_py("KS-7", channel="kuaishou", status="shipped", shipped_at=T0 + timedelta(hours=2),
                     tracking={"number": "YT8800000001"})
    pk = _store(services, order)
    _run(services, pk, ticket_stage)
    refund = {"refund_id": "3100000000007", "line_id": order["lines"][0]["line_id"], "sku_id": "TS-WHITE-M",
              "amount": 9900, "reason": "尺码偏差", "status": "requested"}
    previous = _newer(services, order, 30, status="delivered", refunds=[refund])
    notes = _follow(services, pk, previous)
    assert [(n.kind, n.detail.get("action")) for n in notes] == [("ticket_action", "签收"), ("ticket_opened", None)]
    opened = notes[1]
    assert opened.ruleset == "aftersales_return_refund" and opened.detail["machine"] == "return_refund"
    assert (opened.detail["refund_id"], opened.detail["line_id"], opened.detail["amount"], opened.detail["reason"]) \
        == ("3100000000007", refund["line_id"], 9900, "尺码偏差")
    assert _tickets(services, pk)[1] == ("refund", "3100000000007", "return_refund", "待审核")

    previous = _newer(services, order, 40, refunds=[{**refund, "status": "agreed"}])
    _follow(services, pk, previous)
    assert _tickets(services, pk)[1][3] == "待退货"
    previous = _newer(services, order, 50, refunds=[{**refund, "status": "success"}])
    _follow(services, pk, previous)
    assert _history(services, pk, "refund", "3100000000007") == [
        ("create", "待审核", "platform"), ("审核通过", "待退货", "platform"), ("平台已退款", "已关闭", "platform")]
    with services.db.session() as s:
        data = s.scalar(select(WorkflowInstance.data).join(OrderTicket, OrderTicket.instance_id == WorkflowInstance.id)
                        .where(OrderTicket.refund_id == "3100000000007"))
        assert data["refund_amount"] == 9900 and data["reason"] == "尺码偏差" and data["order_id"] == "KS-7"


def test_a_refund_before_shipment_opens_a_refund_only_ticket_and_one_arriving_successful_closes_at_once(
        services: Any) -> None:
    publish(services, *TEMPLATES)
    order = order_py("PD-3", channel="pdd", refunds=[
        {"refund_id": "R-1", "line_id": "L1", "amount": 19800, "reason": "拍错/不想要", "status": "success"}])
    pk = _store(services, order)
    _run(services, pk, ticket_stage)
    assert _tickets(services, pk) == [("order", "", "order_lifecycle", "待发货"),
                                      ("refund", "R-1", "refund_only", "已关闭")]
    assert [a for a, _, _ in _history(services, pk, "refund", "R-1")] == ["create", "审核通过", "平台已退款"]


def test_shipping_fires_the_bound_action_with_our_tracking_number(services: Any) -> None:
    publish(services, *TEMPLATES)
    pk = _store(services, order_py("XH-2", channel="xiaohongshu"))
    _run(services, pk, ticket_stage)
    with services.db.transaction() as s:
        ref = load_ref(s, pk)
        assert ref is not None
        notes = fire_for_status(s, services, ref, "shipped", actor="user:warehouse1", role="warehouse",
                                payload={"tracking_no": "SF1400000001"}, now=services.clock.now())
    assert [(n.kind, n.detail["action"], n.detail["to"], n.detail["actor"]) for n in notes] == [
        ("ticket_action", "发货", "已发货", "user:warehouse1")]
    assert _history(services, pk)[-1] == ("发货", "已发货", "user:warehouse1")
    with services.db.transaction() as s:  # the shipping code retried: nothing twice
        ref = load_ref(s, pk)
        assert ref is not None
        assert fire_for_status(s, services, ref, "shipped", actor="user:warehouse1", role="warehouse",
                               payload={"tracking_no": "SF1400000001"}, now=services.clock.now()) == []


def test_a_merchant_who_edits_the_declaration_changes_what_happens(services: Any) -> None:
    publish(services, *TEMPLATES)
    text = template_text("order_lifecycle")
    edited = text.replace("    status paid_hold do 付款\n", "").replace("    status awaiting_shipment do 付款\n", "")
    edited = edited.replace('status cancelled do 取消 with { cancel_reason = "平台关闭订单" }',
                            'status cancelled do 超时未付')
    assert edited != text
    publish_content(services, "order_lifecycle", edited)
    pk = _store(services, order_py("DY-5"))
    notes = _run(services, pk, ticket_stage)
    assert [n.kind for n in notes] == ["ticket_opened"] and notes[0].ruleset_version == 2
    assert _tickets(services, pk) == [("order", "", "order_lifecycle", "待付款")]  # paid: no action bound any more
    order = order_py("DY-6", status="cancelled")
    pk = _store(services, order)
    _run(services, pk, ticket_stage)
    assert _history(services, pk)[-1] == ("超时未付", "已取消", "platform")


def test_a_refused_platform_action_is_noted_and_the_order_moves_on(services: Any) -> None:
    publish(services, *TEMPLATES)
    text = template_text("order_lifecycle")
    edited = text.replace('tracking_no = coalesce(tracking.number, "见平台物流")', "tracking_no = tracking.number")
    publish_content(services, "order_lifecycle", edited)
    pk = _store(services, order_py("DY-8", status="shipped"))  # no tracking number: 发货 requires one
    notes = _run(services, pk, ticket_stage)
    refused = [n for n in notes if n.kind == "ticket_action_refused"]
    assert [(n.detail["action"], n.detail["code"], n.detail["state"]) for n in refused] == [
        ("发货", "missing_required", "待发货")]
    assert _tickets(services, pk) == [("order", "", "order_lifecycle", "待发货")]


def test_without_a_published_declaration_the_stage_says_so_and_opens_nothing(services: Any) -> None:
    pk = _store(services, order_py("DY-9"))
    notes = _run(services, pk, ticket_stage)
    assert [n.kind for n in notes] == ["ticket_skipped"]
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OrderTicket)) == 0


def test_the_order_detail_shows_its_tickets(services: Any, client: Any, tokens: dict[str, str]) -> None:
    publish(services, *TEMPLATES)
    order = order_py("DY-10", status="delivered", shipped_at=T0 + timedelta(hours=1), tracking={"number": "Z1"},
                     refunds=[{"refund_id": "AS1", "line_id": "L1", "amount": 500, "reason": "色差",
                               "status": "agreed"}])
    pk = _store(services, order)
    _run(services, pk, ticket_stage)
    body = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["ops"])).get_json()
    tickets = body["tickets"]
    assert [(t["kind"], t["refund_id"], t["machine"], t["state"], t["platform_status"]) for t in tickets] == [
        ("order", None, "order_lifecycle", "已签收", "delivered"),
        ("refund", "AS1", "return_refund", "待退货", "agreed")]
    assert tickets[1]["line_id"] == "L1" and tickets[1]["data"]["refund_amount"] == 500
    kinds = [e["kind"] for e in body["timeline"]]
    assert kinds.count("ticket_opened") == 2 and "ticket_action" in kinds


def test_the_own_channel_posts_refunds_in_the_canonical_refund_statuses(client: Any, tokens: dict[str, str]) -> None:
    from tests.orders.order_factory import order_json
    body = order_json("MP-R1", refunds=[{"refund_id": "RF1", "line_id": "L1", "amount": 9900, "reason": "色差",
                                         "status": "WAIT_SELLER_AGREE"}])
    resp = client.post("/api/v1/orders", json=body, headers=auth(tokens["ops"]))
    assert resp.status_code == 422
    assert any(d.get("path", d.get("pointer")) == "/refunds/0/status" for d in resp.get_json()["error"]["details"])
    body["refunds"][0]["status"] = "requested"
    assert client.post("/api/v1/orders", json=body, headers=auth(tokens["ops"])).status_code in (200, 201)


def test_a_refund_no_declaration_serves_is_noted_once_and_opens_when_one_is_published(services: Any) -> None:
    publish(services, "order_lifecycle")
    refund = {"refund_id": "R-9", "line_id": "L1", "amount": 100, "reason": "色差", "status": "requested"}
    order = order_py("DY-11", refunds=[refund])
    pk = _store(services, order)
    notes = _run(services, pk, ticket_stage)
    assert [(n.kind, n.detail.get("refund_id")) for n in notes if n.kind == "ticket_skipped"] == [("ticket_skipped",
                                                                                                    "R-9")]
    previous = _newer(services, order, 5, refunds=[{**refund, "status": "agreed"}])
    assert _follow(services, pk, previous) == []  # still unserved: not noted again
    publish(services, "aftersales_refund_only")
    previous = _newer(services, order, 10, refunds=[{**refund, "status": "agreed"}, {**refund, "refund_id": "R-10"}])
    notes = _follow(services, pk, previous)
    assert [(n.kind, n.detail.get("refund_id")) for n in notes] == [
        ("ticket_opened", "R-9"), ("ticket_action", "R-9"), ("ticket_opened", "R-10")]
    assert [t[1:] for t in _tickets(services, pk)[1:]] == [("R-9", "refund_only", "待退款"),
                                                           ("R-10", "refund_only", "待审核")]
