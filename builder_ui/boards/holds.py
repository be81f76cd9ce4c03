"""预警: the orders a risk rule holds (疑似黄牛, 设备多地下单 …) with the rule's evidence, and
放行 and 取消 (with a reason) for 客服组长 (also 运营 and 管理员, as ``POST /api/v1/orders/{id}/release``
and ``/cancel``; a refused 取消 is explained on its row, the reason typed kept); and the alert
firings (as ``GET /api/v1/alerts``), those not yet acknowledged first, with 确认 for the roles
that may acknowledge (as ``POST /api/v1/alerts/{id}/ack``).

Reads ``risk_flags`` joined to the pipeline rows still held; releasing is
:func:`engine.orders.order_holds.release_order` and cancelling
:func:`engine.orders.order_cancel.cancel_order`, the API's own use cases; the firings are
:func:`engine.alerts.firings.list_firings` and :func:`~engine.alerts.firings.acknowledge`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from sqlalchemy import and_, or_, select

from builder_ui.pages import READERS, may, page, services
from engine.alerts.firings import FiringFilter, acknowledge, list_firings
from engine.alerts.routes import ACK_ROLES
from engine.api.cursors import decode_cursor, encode_cursor
from engine.auth.access import allow, current_principal
from engine.errors import ApiError, Conflict, NotFound
from engine.masking import mask_phone
from engine.orders.hold_routes import HOLD_ROLES
from engine.orders.model import Order
from engine.orders.order_cancel import cancel_order
from engine.orders.order_holds import release_order
from engine.orders.pipeline_model import OrderPipeline
from engine.orders.visibility import visibility_for
from engine.risk.models import RiskFlag

PAGE_SIZE = 50


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/warnings", "warnings", warnings_page, methods=["GET"])
    bp.add_url_rule("/warnings/holds/<int:pk>/release", "warning_release", release, methods=["POST"])
    bp.add_url_rule("/warnings/holds/<int:pk>/cancel", "warning_cancel", cancel, methods=["POST"])
    bp.add_url_rule("/warnings/alerts/<int:firing_id>/ack", "warning_ack", ack, methods=["POST"])


ALERTS_SHOWN = 50
STATE_ZH = {"firing": "告警中", "cleared": "已恢复"}
DELIVERY_ZH = {"delivered": "已送达", "pending": "投递中", "dead": "投递失败", "none": "无通知"}


def _alerts(session: Any) -> list[dict[str, Any]]:
    """The newest firings, those still to acknowledge first, with Chinese labels."""
    items = list_firings(session, FiringFilter(alerts=(), states=(), channels=(), at_from=None, at_to=None),
                         cursor=None, limit=ALERTS_SHOWN)["items"]
    for item in items:
        item["state_zh"] = STATE_ZH.get(item["state"], item["state"])
        item["delivery_zh"] = DELIVERY_ZH.get(item["delivery_status"], item["delivery_status"])
    return sorted(items, key=lambda i: i["acknowledged"])  # stable: newest first within each part


def _evidence(flag: RiskFlag, phones: bool) -> list[str]:
    out = []
    for fig in (flag.evidence or {}).get("figures") or ():
        key = fig.get("key")
        shown = key if phones or not isinstance(key, str) else mask_phone(key)
        out.append(f"{fig.get('measure')} = {fig.get('value')}（{fig.get('by')} {shown}）")
    return out


@allow(*READERS)
def warnings_page() -> Any:
    return _warnings()


def _warnings(*, refused: dict[str, Any] | None = None, status: int = 200) -> Any:
    user = current_principal()
    stmt = (select(RiskFlag, Order.status, Order.total, OrderPipeline.hold_reason)
            .join(OrderPipeline, OrderPipeline.order_pk == RiskFlag.order_pk)
            .join(Order, Order.id == RiskFlag.order_pk)
            .where(RiskFlag.held.is_(True), OrderPipeline.hold_reason.is_not(None)))
    cursor = request.args.get("cursor")
    if cursor:
        at, pk = decode_cursor(cursor)
        stmt = stmt.where(or_(RiskFlag.at < at, and_(RiskFlag.at == at, RiskFlag.id < pk)))
    phones = visibility_for(user.role).phone
    with services().db.session() as session:
        rows = session.execute(stmt.order_by(RiskFlag.at.desc(), RiskFlag.id.desc()).limit(PAGE_SIZE + 1)).all()
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        holds = [{"order_pk": f.order_pk, "channel": f.channel, "order_id": f.order_id, "flag": f.flag,
                  "rule": f.rule, "ruleset": f"{f.ruleset} v{f.ruleset_version}", "at": f.at, "status": status,
                  "total": total, "reason": reason, "evidence": _evidence(f, phones)}
                 for f, status, total, reason in rows]
        alerts = _alerts(session)
    next_cursor = encode_cursor(rows[-1][0].at, rows[-1][0].id) if more and rows else None
    return page("boards/warnings.html", status, title="预警", active_nav="warnings", holds=holds,
                next_cursor=next_cursor, may_release=may(*HOLD_ROLES), alerts=alerts, may_ack=may(*ACK_ROLES),
                refused=refused)


@allow(*HOLD_ROLES)
def release(pk: int) -> Any:
    user = current_principal()
    svc = services()
    release_order(svc, pk, actor=f"user:{user.username}", role=user.role)
    with svc.db.session() as session:
        order_id = session.scalar(select(Order.order_id).where(Order.id == pk))
    flash(f"已放行订单 {order_id}，订单继续处理")
    return redirect(url_for("builder.warnings"))


def cancel_refusal_zh(err: ApiError) -> str:
    """What a refused 取消 tells the person, in Chinese (the API's code decides)."""
    if err.code == "order_shipped":
        return "订单已发货，不能取消；请走售后退款流程"
    if err.code == "order_not_found":
        return "没有这个订单"
    if err.status == 422:
        return "请填写取消原因（1 到 200 个字）"
    return err.message


def cancel_flash(order_id: str, released: tuple[tuple[str, int], ...], notes: tuple[dict[str, Any], ...],
                 replayed: bool) -> str:
    """The line shown after a 取消: what happened to stock and to the order's ticket."""
    if replayed:
        return f"订单 {order_id} 已是已取消状态，无需再次取消"
    units = sum(q for _, q in released)
    text = f"已取消订单 {order_id}" + (f"，释放库存 {units} 件" if units else "，没有需要释放的库存")
    refused = [n for n in notes if n["kind"] == "ticket_action_refused"]
    if refused:
        text += f"；订单工单未执行「{refused[0]['action']}」（{refused[0]['message']}）"
    return text


@allow(*HOLD_ROLES)
def cancel(pk: int) -> Any:
    user = current_principal()
    svc = services()
    reason = request.form.get("reason", "")
    try:
        done = cancel_order(svc, pk, reason, actor=f"user:{user.username}", role=user.role)
    except ApiError as err:
        return _warnings(refused={"pk": pk, "message": cancel_refusal_zh(err), "reason": reason}, status=err.status)
    with svc.db.session() as session:
        order_id = session.scalar(select(Order.order_id).where(Order.id == pk))
    flash(cancel_flash(str(order_id), done.released, done.ticket_notes, done.replayed))
    return redirect(url_for("builder.warnings"))


@allow(*ACK_ROLES)
def ack(firing_id: int) -> Any:
    user = current_principal()
    svc = services()
    try:
        with svc.db.transaction(immediate=True) as session:
            done = acknowledge(session, firing_id, actor=user.username, now=svc.clock.now())
    except Conflict:
        flash("这条告警已被确认过，无需再次确认")
    except NotFound:
        flash("没有这条告警")
    else:
        flash(f"已确认告警「{done['alert']}」")
    return redirect(url_for("builder.warnings") + "#alerts")
