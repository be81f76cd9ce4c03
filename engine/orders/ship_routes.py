"""Shipping routes: ``POST /orders/{id}/ship`` (仓储, 运营, 管理员) and the WMS shipping callback
``POST /orders/shipments/{hook}`` (no token: signed with the secret of the published ``signed``
hook of that name, like every inbound webhook).

- ``POST /orders/{id}/ship`` ``{"courier", "tracking_no", "lines"?: [{"sku_id", "qty"}]}``:
  201 with the shipment and the order's new status; the same request again answers 200 with
  the first shipment (nothing shipped twice). 422 names each bad field by JSON pointer, 409
  says why the order cannot ship now; a refused request changes nothing.
- WMS callback: headers ``X-OrderPulse-Timestamp`` and ``X-OrderPulse-Signature`` (hex
  HMAC-SHA256 of ``timestamp + "." + body`` with the hook's secret), body ``{"event_id",
  "channel", "order_id", "courier", "tracking_no", "lines"?}``. A WMS delivers at least once:
  a repeated event (or the same shipment again) is answered 200 with the first shipment.

Views translate HTTP only; the use case is :mod:`engine.orders.shipping`.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint
from sqlalchemy.exc import IntegrityError

from engine.api.openapi import success
from engine.api.request_guard import body_kind, parse_json_bytes
from engine.auth.access import allow, current_principal, public
from engine.errors import ApiError, Unprocessable
from engine.orders import queries
from engine.orders.shipping import ShipResult, read_request, ship_order
from engine.workflow.models import WebhookEvent
from engine.workflow.registry import registry_of
from engine.workflow.webhooks import verify_signed

blp = Blueprint("order_shipping", __name__, url_prefix="/orders",
                description="Shipping: ship an order, the WMS shipping callback")

SHIP_BODY = {"type": "object", "required": ["courier", "tracking_no"], "additionalProperties": False, "properties": {
    "courier": {"type": "string", "description": "our carrier code or its name: SF, ZTO, YTO, YUNDA, STO, JT, JD, "
                "EMS, POST, DBKD (顺丰, 中通 …)"},
    "tracking_no": {"type": "string", "pattern": "^[A-Za-z0-9-]{4,40}$"},
    "lines": {"type": "array", "minItems": 1, "items": {
        "type": "object", "required": ["sku_id", "qty"], "additionalProperties": False,
        "properties": {"sku_id": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}}}}}


def _services() -> Any:
    return current_app.extensions["orderpulse"]


def _answer(result: ShipResult) -> tuple[dict[str, Any], int]:
    body = {"shipment": result.shipment, "order_status": result.order_status, "replayed": result.replayed}
    return body, 200 if result.replayed else 201


def _json_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw:
        raise ApiError("request body is empty; send {\"courier\", \"tracking_no\"} as JSON", code="bad_request")
    return parse_json_bytes(raw)


@blp.route("/<int:pk>/ship", methods=["POST"])
@allow("admin", "ops", "warehouse")
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": SHIP_BODY}}},
         **success("the shipment and the order's status (201 new; 200 the same request again)"))
@blp.alt_response(404, description="order_not_found")
@blp.alt_response(409, description="order_not_shippable, not_reserved, nothing_to_ship, tracking_no_taken")
@blp.alt_response(422, description="invalid_ship_request: details name each field by JSON pointer")
def post_ship(pk: int) -> Any:
    """Ship the order: stock shipped, status 已发货/部分发货, tracking number written back to the platform."""
    ship = read_request(_json_body())
    who = current_principal()
    return _answer(ship_order(_services(), pk, ship, via="api", actor=f"user:{who.username}"))


@blp.route("/shipments/<hook>", methods=["POST"])
@public
@body_kind("hook")  # raw bytes: the signature is checked before the body is parsed
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["event_id", "channel", "order_id", "courier", "tracking_no"]}}}},
    **success("the shipment (201 new; 200 a repeated event)"))
@blp.alt_response(401, description="bad_signature or stale_timestamp")
@blp.alt_response(404, description="unknown_hook or order_not_found")
@blp.alt_response(409, description="the order cannot ship now (see POST /orders/{id}/ship)")
@blp.alt_response(422, description="invalid_ship_request")
def post_wms_shipment(hook: str) -> Any:
    """A WMS says it shipped an order (signed with the hook's secret)."""
    services = _services()
    now = services.clock.now()
    with services.db.session() as session:
        decl, _, _ = registry_of(services).find_hook(session, hook)
    if decl.type != "signed":
        raise ApiError(f"hook {hook} is a {decl.type} hook, not a signed one", code="unknown_hook", status=404)
    payload, event_id = verify_signed(decl, request.get_data(), request.headers, now.timestamp())
    channel, order_id = payload.get("channel"), payload.get("order_id")
    if not isinstance(channel, str) or not isinstance(order_id, str) or not channel or not order_id:
        raise Unprocessable("the WMS shipment names no order", code="invalid_ship_request",
                            details=[{"path": "/channel", "message": "required"},
                                     {"path": "/order_id", "message": "required"}])
    ship = read_request({k: v for k, v in payload.items() if k in ("courier", "tracking_no", "lines")})
    with services.db.session() as session:
        pk = queries.find_order_pk(session, channel, order_id)
    result = ship_order(services, pk, ship, via="wms", actor=f"webhook:{hook}", now=now)
    try:
        with services.db.transaction() as session:
            session.add(WebhookEvent(hook=hook, event_id=event_id, received_at=now, instance_id=None,
                                     action="ship", outcome=f"shipment {result.shipment['id']}"))
    except IntegrityError:
        pass  # the event was taken before: the shipment above is its first answer
    return _answer(result)
