"""``/stock`` API: read a SKU, reserve, release, ship and adjust (contract in ARCHITECTURE.md),
and what each sales channel is shown of a SKU.

Access: reserve and ship — admin, ops, warehouse; release (cancel) — those plus cs and cs_lead,
who cancel orders for customers; adjust — admin, warehouse; GET — every staff role; a
channel's quota and buffer (``PUT /stock/{sku}/channels/{channel}``, ``{sku} = *`` for the
channel's default) — admin, ops. An optional ``Idempotency-Key`` header (or ``key`` field)
overrides the default key: the order id for reserve, release and ship; for adjust, a key derived
from who adjusts which SKU by how much and why (:func:`engine.inventory.domain.adjustment_key`),
so a retried adjustment is a replay and never moves stock twice. Answers carry ``"gate"``:
``passed`` (held by the Redis gate), ``refused`` (sold out at the gate), ``deferred`` (the gate
could not tell; SQL decided), ``bypassed`` (Redis unavailable; SQL decided, an alert was raised)
or ``none`` (no Redis).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.api.fields import BoundedInt, Identifier, Text
from engine.auth.access import allow, current_principal
from engine.auth.roles import ALL_STAFF
from engine.inventory.channels import CHANNELS
from engine.inventory.domain import MAX_QTY, InsufficientStock, UnknownSku, adjustment_key
from engine.inventory.service import InventoryService, inventory_for
from engine.values import MAX_STOCK, identifier_problem, require

# An adjustment moves at most this many units; totals are bounded by MAX_STOCK (engine.values).
MAX_ADJUST = 100_000_000

blp = Blueprint("stock", __name__, url_prefix="/stock", description="Stock: reserve, release, ship, adjust")


class LineSchema(Schema):
    sku_id = Identifier(required=True, max_length=64)
    qty = BoundedInt(required=True, minimum=1, maximum=MAX_QTY)


class ReserveSchema(Schema):
    order_id = Identifier(required=True, max_length=128)
    lines = fields.List(fields.Nested(LineSchema), required=True, validate=validate.Length(min=1, max=1000))
    channel = Text(load_default="", max_length=32)
    key = Identifier(load_default=None, max_length=200)


class ReleaseSchema(Schema):
    order_id = Identifier(required=True, max_length=128)
    key = Identifier(load_default=None, max_length=200)


class ShipSchema(ReleaseSchema):
    lines = fields.List(fields.Nested(LineSchema), load_default=None, validate=validate.Length(min=1))


class AdjustSchema(Schema):
    sku_id = Identifier(required=True, max_length=64)
    delta = BoundedInt(required=True, minimum=-MAX_ADJUST, maximum=MAX_ADJUST,
                       metadata={"description": "units in (+) or out (−); never 0", "not": {"enum": [0]}})
    reason = Text(required=True, min_length=1, max_length=200)
    key = Identifier(load_default=None, max_length=200)


class StockSchema(Schema):
    sku_id = fields.String()
    total_stock = fields.Integer()
    reserved_stock = fields.Integer()
    safety_stock = fields.Integer()
    available = fields.Integer()
    version = fields.Integer()
    sync_timestamp = fields.String(allow_none=True)


class ChannelRuleSchema(Schema):
    quota = BoundedInt(load_default=None, allow_none=True, minimum=0, maximum=MAX_STOCK)
    buffer = BoundedInt(load_default=None, allow_none=True, minimum=0, maximum=MAX_STOCK)


class ChannelRuleOutSchema(Schema):
    channel = fields.String()
    sku_id = fields.String()
    quota = fields.Integer(allow_none=True)
    buffer = fields.Integer(allow_none=True)
    updated_at = fields.String()
    updated_by = fields.String()


class ChannelViewSchema(Schema):
    channel = fields.String()
    quota = fields.Integer(allow_none=True)
    buffer = fields.Integer()
    figure = fields.Integer()
    queued_version = fields.Integer(allow_none=True)
    pushed_version = fields.Integer(allow_none=True)
    pushed_available = fields.Integer(allow_none=True)
    pushed_at = fields.String(allow_none=True)
    reported_stock = fields.Integer(allow_none=True)
    available_at_pull = fields.Integer(allow_none=True)
    pulled_at = fields.String(allow_none=True)


def _inventory() -> InventoryService:
    return inventory_for(current_app.extensions["orderpulse"])


def _key(body: dict[str, Any]) -> str | None:
    header = request.headers.get("Idempotency-Key")
    if header:
        require([("/headers/Idempotency-Key", identifier_problem(header, 200))], "Idempotency-Key")
    return header or body.get("key")


def _actor() -> str:
    return current_principal().username


@blp.route("/<string:sku_id>")
@blp.response(200, StockSchema)
@allow(*ALL_STAFF)
def get_stock(sku_id: str) -> Any:
    found = _inventory().get(sku_id)
    if found is None:
        raise UnknownSku(f"unknown SKU {sku_id}", details=[{"path": "/sku_id", "sku_id": sku_id}])
    return found


@blp.route("/reserve", methods=["POST"])
@blp.arguments(ReserveSchema())
@blp.response(200)
@blp.alt_response(409, description="insufficient_stock: details name each short SKU; or the order is reserved "
                                   "under another key")
@allow("admin", "ops", "warehouse")
def reserve(body: dict[str, Any]) -> Any:
    try:
        outcome = _inventory().reserve(body["order_id"], body["lines"], key=_key(body),
                                       channel=body["channel"], actor=_actor())
    except InsufficientStock as exc:
        exc.details = [dict(d, gate=exc.gate) for d in exc.details]
        raise
    return outcome.to_json()


@blp.route("/release", methods=["POST"])
@blp.arguments(ReleaseSchema())
@blp.response(200)
@blp.alt_response(404, description="no reservation for the order")
@blp.alt_response(409, description="the reservation cannot be released now")
@allow("admin", "ops", "warehouse", "cs", "cs_lead")
def release(body: dict[str, Any]) -> Any:
    return _inventory().release(body["order_id"], key=_key(body), actor=_actor()).to_json()


@blp.route("/ship", methods=["POST"])
@blp.arguments(ShipSchema())
@blp.response(200)
@blp.alt_response(404, description="no reservation for the order")
@blp.alt_response(409, description="more shipped than reserved, or the reservation is closed")
@allow("admin", "ops", "warehouse")
def ship(body: dict[str, Any]) -> Any:
    return _inventory().ship(body["order_id"], body["lines"], key=_key(body), actor=_actor()).to_json()


@blp.route("/adjust", methods=["POST"])
@blp.arguments(AdjustSchema())
@blp.response(200)
@blp.alt_response(409, description="adjust_below_reserved: the total would fall below what is reserved")
@allow("admin", "warehouse")
def adjust(body: dict[str, Any]) -> Any:
    actor = _actor()
    key = _key(body) or adjustment_key(actor, body["sku_id"], body["delta"], body["reason"])
    return _inventory().adjust(body["sku_id"], body["delta"], body["reason"], key=key, actor=actor).to_json()


@blp.route("/<string:sku_id>/channels")
@blp.response(200, ChannelViewSchema(many=True))
@allow(*ALL_STAFF)
def get_channels(sku_id: str) -> Any:
    return _inventory().channel_view(sku_id)


@blp.route("/<string:sku_id>/channels/<string:channel>", methods=["PUT"])
@blp.doc(parameters=[{"in": "path", "name": "channel", "required": True,
                      "schema": {"type": "string", "enum": list(CHANNELS)}}])
@blp.arguments(ChannelRuleSchema())
@blp.response(200, ChannelRuleOutSchema)
@allow("admin", "ops")
def put_channel_rule(body: dict[str, Any], sku_id: str, channel: str) -> Any:
    return _inventory().set_channel_rule(sku_id, channel, quota=body["quota"], buffer=body["buffer"],
                                         actor=_actor())
