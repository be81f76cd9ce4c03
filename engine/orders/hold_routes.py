"""``POST /api/v1/orders/{id}/hold``, ``/release`` and ``/cancel``: a person holds, frees or
cancels an order.

运营, 客服组长 and 管理员 may call them; who and why go on the order's timeline. Each answers the
order as ``GET /orders/{id}`` shows it. Views only translate HTTP; the rules live in
:mod:`engine.orders.order_holds` and :mod:`engine.orders.order_cancel`.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from engine.auth.access import allow, current_principal
from engine.orders import queries
from engine.orders.order_cancel import cancel_order
from engine.orders.order_holds import MAX_REASON, hold_order, release_order
from engine.orders.routes import OrderDetail

blp = Blueprint("order_holds", __name__, url_prefix="/orders",
                description="Orders: holding, releasing and cancelling an order by hand")

HOLD_ROLES = ("ops", "cs_lead", "admin")


class HoldIn(Schema):
    reason = fields.Raw(required=True, metadata={"description": f"why (1 to {MAX_REASON} characters)",
                                                 "type": "string"})


def _services() -> Any:
    return current_app.extensions["orderpulse"]


def _detail(pk: int) -> dict[str, Any]:
    with _services().db.session() as session:
        return queries.order_detail(session, pk, role=current_principal().role)


@blp.route("/<int:pk>/hold", methods=["POST"])
@blp.arguments(HoldIn())
@blp.response(200, OrderDetail)
@blp.alt_response(404, description="no such order")
@blp.alt_response(409, description="order_not_holdable (not paid, or shipped, cancelled …), already_held")
@blp.alt_response(422, description="reason missing, empty or too long")
@allow(*HOLD_ROLES)
def post_hold(body: dict[str, Any], pk: int) -> Any:
    """Hold a paid, unshipped order (status 已付款挂起); no stage runs until it is released."""
    who = current_principal()
    hold_order(_services(), pk, body.get("reason"), actor=f"user:{who.username}", role=who.role)
    return _detail(pk)


@blp.route("/<int:pk>/release", methods=["POST"])
@blp.response(200, OrderDetail)
@blp.alt_response(404, description="no such order")
@blp.alt_response(409, description="not_held; still_short (held as 缺货 and stock still short: nothing changed)")
@allow(*HOLD_ROLES)
def post_release(pk: int) -> Any:
    """Release an order's hold and move it on at once (an order short of stock is retried now)."""
    who = current_principal()
    release_order(_services(), pk, actor=f"user:{who.username}", role=who.role)
    return _detail(pk)


@blp.route("/<int:pk>/cancel", methods=["POST"])
@blp.arguments(HoldIn())
@blp.response(200, OrderDetail)
@blp.alt_response(404, description="no such order")
@blp.alt_response(409, description="order_shipped (shipped in any part: nothing changed)")
@blp.alt_response(422, description="reason missing, empty or too long")
@allow(*HOLD_ROLES)
def post_cancel(body: dict[str, Any], pk: int) -> Any:
    """Cancel an order not yet shipped: its reserved stock is released, the order ticket's
    action bound to ``cancelled`` fires as the caller, any hold is cleared (status 已取消). An
    order already cancelled is answered as it stands (a retry changes nothing)."""
    who = current_principal()
    cancel_order(_services(), pk, body.get("reason"), actor=f"user:{who.username}", role=who.role)
    return _detail(pk)
