"""预警: the orders a risk rule holds (疑似黄牛, 设备多地下单 …) with the rule's evidence, and
放行 for 客服组长 (also 运营 and 管理员, as ``POST /api/v1/orders/{id}/release``). The alert list
(``GET /alerts``) joins this page when the alerts area is merged; until then its section says so.

Reads ``risk_flags`` joined to the pipeline rows still held; releasing is
:func:`engine.orders.order_holds.release_order`, the API's own use case.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, request, url_for
from sqlalchemy import and_, or_, select

from builder_ui.pages import READERS, may, page, services, signed_in_user
from engine.api.cursors import decode_cursor, encode_cursor
from engine.auth.access import allow
from engine.masking import mask_phone
from engine.orders.hold_routes import HOLD_ROLES
from engine.orders.model import Order
from engine.orders.order_holds import release_order
from engine.orders.pipeline_model import OrderPipeline
from engine.orders.visibility import visibility_for
from engine.risk.models import RiskFlag

PAGE_SIZE = 50


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/warnings", "warnings", warnings_page, methods=["GET"])
    bp.add_url_rule("/warnings/holds/<int:pk>/release", "warning_release", release, methods=["POST"])


def _evidence(flag: RiskFlag, phones: bool) -> list[str]:
    out = []
    for fig in (flag.evidence or {}).get("figures") or ():
        key = fig.get("key")
        shown = key if phones or not isinstance(key, str) else mask_phone(key)
        out.append(f"{fig.get('measure')} = {fig.get('value')}（{fig.get('by')} {shown}）")
    return out


@allow(*READERS)
def warnings_page() -> Any:
    user = signed_in_user()
    assert user is not None
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
    next_cursor = encode_cursor(rows[-1][0].at, rows[-1][0].id) if more and rows else None
    alerts_api = "alerts.list_alerts" in current_app.view_functions  # the alerts area, once merged
    return page("boards/warnings.html", title="预警", active_nav="warnings", holds=holds, next_cursor=next_cursor,
                may_release=may(*HOLD_ROLES), alerts_api=alerts_api)


@allow(*HOLD_ROLES)
def release(pk: int) -> Any:
    user = signed_in_user()
    assert user is not None
    svc = services()
    release_order(svc, pk, actor=f"user:{user.username}", role=user.role)
    with svc.db.session() as session:
        order_id = session.scalar(select(Order.order_id).where(Order.id == pk))
    flash(f"已放行订单 {order_id}，订单继续处理")
    return redirect(url_for("builder.warnings"))
