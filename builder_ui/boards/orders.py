"""订单: the order list (filters: channel, status, tag 缺货 / 价格异常 / 风险, created time in
Asia/Shanghai dates, search by order id or the phone's last four digits) and an order's story:
the platform payload (roles that may see it), mapping and cleaning result, price breakdown
with its audit log, reservation, tickets, shipments and write-backs, dead letters with a
重新投递 button (管理员, as ``POST /api/v1/outbox/{id}/replay``), and 取消订单 with a reason for an
order not yet shipped (运营, 客服组长, 管理员, as ``POST /api/v1/orders/{id}/cancel``; a refusal is
shown on the page, the reason typed kept).

Reads :mod:`engine.orders.queries` (the API's own queries, masking per role included).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for

from builder_ui.boards.display import SHANGHAI
from builder_ui.boards.holds import cancel_flash, cancel_refusal_zh
from builder_ui.pages import ADMINS, READERS, may, page, services
from engine.auth.access import allow, current_principal
from engine.errors import ApiError
from engine.masking import mask_data
from engine.orders.document import CHANNELS, STATUSES
from engine.orders.hold_routes import HOLD_ROLES
from engine.orders.order_cancel import NOT_CANCELLABLE, cancel_order
from engine.orders.queries import OrderFilter, list_orders, order_detail
from engine.outbox.admin import replay_dead
from engine.pricing.log_text import render_log
from engine.storage.models import OutboxMessage

PAGE_SIZE = 50
TAGS = {"缺货": "缺货", "价格异常": "价格异常", "风险": "风险"}
REPLAYERS = ADMINS  # as POST /api/v1/outbox/{id}/replay


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/orders", "orders", orders_page, methods=["GET"])
    bp.add_url_rule("/orders/<int:pk>", "order", order_page, methods=["GET"])
    bp.add_url_rule("/orders/<int:pk>/cancel", "order_cancel", cancel, methods=["POST"])
    bp.add_url_rule("/orders/<int:pk>/dead-letters/<int:message_id>/replay", "order_replay", replay,
                    methods=["POST"])


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _start_of(day: date) -> datetime:
    """Midnight of ``day`` in Asia/Shanghai, as an aware instant."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


@allow(*READERS)
def orders_page() -> Any:
    user = current_principal()
    channel = request.args.get("channel", "")
    status = request.args.get("status", "")
    tag = request.args.get("tag", "")
    q = request.args.get("q", "").strip()[:64]
    day_from, day_to = _day("from"), _day("to")
    f = OrderFilter(channels=[channel] if channel in CHANNELS else [], statuses=[status] if status in STATUSES else [],
                    created_from=_start_of(day_from) if day_from else None,
                    created_to=_start_of(day_to + timedelta(days=1)) if day_to else None,
                    q=q or None, tags=[tag] if tag in ("缺货", "价格异常") else [],
                    flagged=True if tag == "风险" else None)
    svc = services()
    with svc.db.session() as session:
        result = list_orders(session, f, role=user.role, cursor=request.args.get("cursor") or None, limit=PAGE_SIZE)
    form = {"channel": channel, "status": status, "tag": tag, "q": q,
            "from": day_from.isoformat() if day_from else "", "to": day_to.isoformat() if day_to else ""}
    return page("boards/orders.html", title="订单", active_nav="orders", items=result["items"],
                next_cursor=result["next_cursor"], channels=CHANNELS, statuses=STATUSES, tags=TAGS, form=form)


@allow(*READERS)
def order_page(pk: int) -> Any:
    return _order(pk)


def _order(pk: int, *, refused: dict[str, Any] | None = None, status: int = 200) -> Any:
    user = current_principal()
    svc = services()
    with svc.db.session() as session:
        body = order_detail(session, pk, role=user.role)
    admin = user.role in ADMINS
    for dead in body["dead_letters"]:
        dead["payload_text"] = json.dumps(dead["payload"] if admin else mask_data(dead["payload"]),
                                          ensure_ascii=False, indent=2)
    quote = (body.get("price") or {}).get("quote") or {}
    price_log = render_log(quote["log"]) if quote.get("log") else []
    for p in body.get("payloads") or ():
        p["text"] = json.dumps(p["payload"], ensure_ascii=False, indent=2)
    cancellable = body["status"] != "cancelled" and body["status"] not in NOT_CANCELLABLE
    return page("boards/order.html", status, title=f"订单 {body['order_id']}", active_nav="orders", o=body,
                quote=quote, price_log=price_log, may_replay=may(*REPLAYERS),
                may_cancel=cancellable and may(*HOLD_ROLES), refused=refused)


@allow(*HOLD_ROLES)
def cancel(pk: int) -> Any:
    user = current_principal()
    reason = request.form.get("reason", "")
    try:
        done = cancel_order(services(), pk, reason, actor=f"user:{user.username}", role=user.role)
    except ApiError as err:
        if err.code == "order_not_found":
            return page("refused.html", 404, title="操作未完成", message="没有这个订单。")
        return _order(pk, refused={"message": cancel_refusal_zh(err), "reason": reason}, status=err.status)
    with services().db.session() as session:
        order_id = order_detail(session, pk, role=user.role)["order_id"]
    flash(cancel_flash(order_id, done.released, done.ticket_notes, done.replayed))
    return redirect(url_for("builder.order", pk=pk))


@allow(*REPLAYERS)
def replay(pk: int, message_id: int) -> Any:
    user = current_principal()
    svc = services()
    with svc.db.transaction(immediate=True) as session:
        ref = session.get(OutboxMessage, message_id)
        order = order_detail(session, pk, role=user.role)
        if ref is None or ref.order_ref != f"{order['channel']}/{order['order_id']}":
            return page("refused.html", 404, title="操作未完成", message="这条死信不属于该订单。")
        replay_dead(session, [message_id], now=svc.clock.now(), actor=user.username)
    flash(f"已重新投递死信 #{message_id}，将在下一轮发送")
    return redirect(url_for("builder.order", pk=pk))
