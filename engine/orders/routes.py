"""``/orders`` API: the own channel's order intake, the order list and one order, and the
payloads parked because their mapping failed.

- ``POST /orders`` (admin, ops): a normalized order from the merchant's own mini-program shop,
  validated by ``engine/orders/schemas/order.schema.json`` (errors name the field by JSON
  pointer); 201 when stored new, 200 when updated or when it changed nothing (same or older
  ``updated_at``), with the order as stored. Oversized, non-UTF-8 or non-JSON bodies are
  refused by the shared request guard (engine/api/request_guard.py) before the view runs.
- ``GET /orders``, ``GET /orders/{id}``, ``GET /orders/{channel}/{order_id}`` (every staff
  role): personal data masked per role (engine/orders/visibility.py).
- ``GET /orders/parked`` and ``POST /orders/parked/{id}/retry`` (admin, ops).

Views only translate HTTP; intake and reads live in intake.py and queries.py.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

from flask import current_app, request
from flask_smorest import Blueprint
from jsonschema import Draft202012Validator
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.api.fields import comma_list
from engine.auth.access import allow, current_principal
from engine.auth.roles import ALL_STAFF
from engine.errors import ApiError, Unprocessable, json_pointer
from engine.orders import queries
from engine.orders.document import CHANNELS, STATUSES, OrderShapeError, from_json
from engine.orders.intake import intake_normalized_order, retry_parked

blp = Blueprint("orders", __name__, url_prefix="/orders",
                description="Orders: the own channel's intake, the order store, parked payloads")


@lru_cache(maxsize=1)
def order_schema() -> dict[str, Any]:
    """The order JSON Schema (draft 2020-12) of ``POST /orders``."""
    text = resources.files("engine.orders").joinpath("schemas/order.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(order_schema())


def openapi_order_schema() -> dict[str, Any]:
    """The order JSON Schema inlined for the OpenAPI 3.0 document (``$defs`` resolved,
    ``const`` as a one-value enum, ``["string", "null"]`` as ``nullable``)."""
    schema = order_schema()
    defs = schema.get("$defs", {})

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return convert(defs[node["$ref"].rsplit("/", 1)[1]])
        out = {k: convert(v) for k, v in node.items() if k not in ("$schema", "$id", "$defs")}
        if "const" in out:
            out["enum"] = [out.pop("const")]
        if isinstance(out.get("type"), list):
            kinds = [t for t in out["type"] if t != "null"]
            out["type"], out["nullable"] = kinds[0], True
        return out

    return convert(schema)


def _services() -> Any:
    return current_app.extensions["orderpulse"]


def _read_order_body() -> dict[str, Any]:
    """The posted order as parsed JSON. Size, media type and strict JSON syntax were checked by
    the request guard (a 500-line order is about 150 KB, within the API body limit)."""
    if not request.get_data(cache=True):
        raise ApiError("request body is empty; send the order as JSON", code="bad_request")
    body = request.get_json()
    if not isinstance(body, dict):
        raise Unprocessable("the order must be a JSON object", details=[{"path": "", "message": "not an object"}])
    return body


def validate_order(body: dict[str, Any]) -> dict[str, Any]:
    """The Python form of a posted order, or :class:`Unprocessable` listing every problem with
    its JSON pointer (at most 20)."""
    errors = sorted(_validator().iter_errors(body), key=lambda e: [str(p) for p in e.absolute_path])
    details = [{"path": json_pointer(list(e.absolute_path)), "message": _message(e)} for e in errors[:20]]
    if not details:
        try:
            order = from_json(body)
        except OrderShapeError as exc:
            details = [{"path": exc.path, "message": exc.message}]
        else:
            order["channel"] = "miniprogram"
            return order
    summary = "; ".join(f"{d['path'] or '/'}: {d['message']}" for d in details[:5])
    raise Unprocessable(f"the order is invalid: {summary}", details=details, code="invalid_order")


def _message(error: Any) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator in ("maximum", "minimum", "maxLength", "minLength") and len(repr(error.instance)) > 60:
        return f"value out of range ({error.validator} {error.validator_value})"
    return str(error.message)


class OrderListArgs(Schema):
    channel = fields.String(load_default=None, metadata={"description": "channel(s), comma-separated"})
    status = fields.String(load_default=None, metadata={"description": "status(es), comma-separated"})
    shop = fields.String(load_default=None, validate=validate.Length(max=128))
    created_from = fields.AwareDateTime(load_default=None)
    created_to = fields.AwareDateTime(load_default=None)
    paid_from = fields.AwareDateTime(load_default=None)
    paid_to = fields.AwareDateTime(load_default=None)
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=128),
                      metadata={"description": "an order id, or the last four digits of the buyer's phone"})
    dropped = fields.Boolean(load_default=None)
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=queries.MAX_LIMIT))

    @validates_schema
    def _known(self, data: dict[str, Any], **_: Any) -> None:
        for name, known in (("channel", CHANNELS), ("status", STATUSES)):
            for value in comma_list(data.get(name)):
                if value not in known:
                    raise ValidationError(f"unknown {name} {value!r}; one of {', '.join(known)}", name)


class ParkedArgs(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(["parked", "resolved"]))
    source = fields.String(load_default=None, validate=validate.Length(max=128))
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=queries.MAX_LIMIT))


class OrderSummary(Schema):
    id = fields.Integer()
    channel = fields.String()
    channel_label = fields.String()
    order_id = fields.String()
    shop = fields.String()
    status = fields.String()
    status_label = fields.String()
    created_at = fields.String(allow_none=True)
    paid_at = fields.String(allow_none=True)
    updated_at = fields.String()
    promised_ship_at = fields.String(allow_none=True)
    total = fields.Integer(metadata={"description": "fen"})
    buyer_phone = fields.String(allow_none=True)
    region = fields.Dict()
    revision = fields.Integer()
    dropped = fields.Boolean()
    tags = fields.List(fields.String())


class OrderPage(Schema):
    items = fields.List(fields.Nested(OrderSummary))
    next_cursor = fields.String(allow_none=True)


class TimelineEntry(Schema):
    id = fields.Integer()
    revision = fields.Integer()
    kind = fields.String()
    at = fields.String()
    actor = fields.String()
    payload_id = fields.Integer(allow_none=True)
    changes = fields.List(fields.Dict())
    detail = fields.Dict()
    ruleset = fields.String(allow_none=True)
    ruleset_version = fields.Integer(allow_none=True)


class OrderLineOut(Schema):
    line_no = fields.Integer()
    line_id = fields.String(allow_none=True)
    sku_id = fields.String(allow_none=True)
    platform_sku_id = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    qty = fields.Integer()
    unit_price = fields.Integer(allow_none=True)
    amount = fields.Integer(allow_none=True)
    paid_amount = fields.Integer(allow_none=True)


# --- price (the pipeline's price stage: engine/orders/order_pricing.py) ---
class OrderPriceOut(Schema):
    kind = fields.String(metadata={"description": "quote (own channel: the order's price) | check (marketplace)"})
    revision = fields.Integer(metadata={"description": "the order revision it was priced at"})
    ruleset = fields.Dict(metadata={"description": "{name, version} of the published promotion"})
    quoted_payable = fields.Integer(metadata={"description": "fen: what the promotion asks (goods + freight)"})
    platform_payable = fields.Integer(allow_none=True, metadata={"description": "fen: what the buyer paid"})
    difference = fields.Integer(metadata={"description": "fen: goods allowed − goods charged (> 0: charged less)"})
    tolerance = fields.Integer(allow_none=True, metadata={"description": "fen: the declared tolerance applied"})
    anomaly = fields.Boolean(metadata={"description": "charged less than allowed beyond the tolerance (价格异常)"})
    priced_at = fields.String()
    quote = fields.Dict(metadata={"description": "the quote body (lines, totals, gifts, log, ruleset)"})
# ---


class OrderDetail(Schema):
    id = fields.Integer()
    channel = fields.String()
    order_id = fields.String()
    shop = fields.String()
    status = fields.String()
    status_label = fields.String()
    revision = fields.Integer()
    updated_at = fields.String()
    total = fields.Integer()
    freight = fields.Integer()
    source = fields.String()
    via = fields.String()
    mapping = fields.String(allow_none=True)
    ruleset = fields.String(allow_none=True)
    ruleset_version = fields.Integer(allow_none=True)
    dropped = fields.Dict(allow_none=True)
    stored_at = fields.String()
    changed_at = fields.String()
    tags = fields.List(fields.String())
    order = fields.Dict(metadata={"description": "the normalized order (JSON form), masked per role"})
    lines = fields.List(fields.Nested(OrderLineOut))
    timeline = fields.List(fields.Nested(TimelineEntry))
    payloads = fields.List(fields.Dict(), metadata={"description": "raw payloads (roles that may see them)"})
    pipeline = fields.Dict(allow_none=True, metadata={
        "description": "where the order stands in its stages: next_stage, status (ready, held, done), "
                       "seen_revision, attempts, last_error, hold {reason, held_by, short_skus}"})
    reservation = fields.Dict(allow_none=True, metadata={
        "description": "its stock reservation: key, lines [{sku_id, qty, shipped, released, open, status}], "
                       "open_units (null: none yet)"})
    price = fields.Nested(OrderPriceOut, allow_none=True,
                          metadata={"description": "the price stage's price (null until it ran)"})
    # ---- tickets (engine.orders.order_tickets)
    tickets = fields.List(fields.Dict(), metadata={
        "description": "the order ticket (kind order) and one after-sales ticket per platform refund (kind "
                       "refund): id, machine, state, closed, ruleset, ruleset_version, refund_id, line_id, "
                       "platform_status, data"})
    shipments = fields.List(fields.Dict(), metadata={"description": "shipments and the state of their write-back"})
    dead_letters = fields.List(fields.Dict(), metadata={"description": "dead outbox deliveries about the order"})


class IntakeOut(Schema):
    outcome = fields.String(metadata={"description": "created | updated | unchanged | stale | dropped"})
    message = fields.String()
    order = fields.Nested(OrderDetail)


class ParkedOut(Schema):
    id = fields.Integer()
    source = fields.String()
    via = fields.String()
    status = fields.String()
    mapping = fields.String(allow_none=True)
    error = fields.String()
    path = fields.String(allow_none=True)
    line = fields.Integer(allow_none=True)
    attempts = fields.Integer()
    received_at = fields.String()
    last_attempt_at = fields.String()
    order_pk = fields.Integer(allow_none=True)
    payload = fields.Raw(allow_none=True)


class ParkedPage(Schema):
    items = fields.List(fields.Nested(ParkedOut))
    next_cursor = fields.String(allow_none=True)


class RetryOut(Schema):
    outcome = fields.String()
    message = fields.String()
    order_pk = fields.Integer(allow_none=True)
    parked_id = fields.Integer(allow_none=True)


def _detail(pk: int) -> dict[str, Any]:
    with _services().db.session() as session:
        return queries.order_detail(session, pk, role=current_principal().role)


_ERRORS = {400: "body empty, not UTF-8 or not JSON", 413: "body larger than the API body limit",
           422: "the order does not match the order schema; details carry JSON pointers"}


@blp.route("", methods=["POST"])
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": openapi_order_schema()}}})
@blp.response(200, IntakeOut, description="updated, or unchanged (same or older updated_at): the order as stored")
@blp.alt_response(201, schema=IntakeOut, description="a new order stored")
@blp.alt_response(400, description=_ERRORS[400])
@blp.alt_response(413, description=_ERRORS[413])
@blp.alt_response(422, description=_ERRORS[422])
@allow("admin", "ops")
def post_order() -> Any:
    """Store an order of the own mini-program shop (normalized order, JSON form)."""
    body = _read_order_body()
    order = validate_order(body)
    who = current_principal()
    outcome = intake_normalized_order(_services(), order, via="api", actor=f"user:{who.username}", payload=body)
    assert outcome.order_pk is not None
    answer = {"outcome": outcome.outcome, "message": outcome.message, "order": _detail(outcome.order_pk)}
    created = outcome.outcome in ("created", "dropped") and outcome.revision == 1
    return answer, 201 if created else 200


@blp.route("", methods=["GET"])
@blp.arguments(OrderListArgs(), location="query")
@blp.response(200, OrderPage)
@blp.alt_response(422, description="unknown channel or status, bad time, a cursor this API did not give out")
@allow(*ALL_STAFF)
def get_orders(args: dict[str, Any]) -> Any:
    """Orders, newest first (created time), filtered, one page at a time (``next_cursor``)."""
    f = queries.OrderFilter(
        channels=comma_list(args["channel"]), statuses=comma_list(args["status"]), shop=args["shop"],
        created_from=args["created_from"], created_to=args["created_to"], paid_from=args["paid_from"],
        paid_to=args["paid_to"], q=args["q"], dropped=args["dropped"])
    with _services().db.session() as session:
        return queries.list_orders(session, f, role=current_principal().role, cursor=args["cursor"],
                                   limit=args["limit"])


@blp.route("/parked", methods=["GET"])
@blp.arguments(ParkedArgs(), location="query")
@blp.response(200, ParkedPage)
@allow("admin", "ops")
def get_parked(args: dict[str, Any]) -> Any:
    """Payloads parked because their mapping failed (error path and mapping line), newest first."""
    with _services().db.session() as session:
        return queries.list_parked(session, role=current_principal().role, status=args["status"],
                                   source=args["source"], cursor=args["cursor"], limit=args["limit"])


@blp.route("/parked/<int:parked_id>/retry", methods=["POST"])
@blp.response(200, RetryOut)
@blp.alt_response(404, description="no such parked payload")
@allow("admin", "ops")
def post_parked_retry(parked_id: int) -> Any:
    """Run a parked payload through the published mapping again (after fixing the mapping)."""
    outcome = retry_parked(_services(), parked_id, actor=f"user:{current_principal().username}")
    return {"outcome": outcome.outcome, "message": outcome.message, "order_pk": outcome.order_pk,
            "parked_id": outcome.parked_id}


@blp.route("/<int:pk>", methods=["GET"])
@blp.response(200, OrderDetail)
@blp.alt_response(404, description="no such order")
@allow(*ALL_STAFF)
def get_order(pk: int) -> Any:
    """One order: the order, its lines, timeline, and the raw payloads for roles that may see them."""
    return _detail(pk)


# the channel is one of the known channels, so that no other /orders/<a>/<b> path (a POST to
# /orders/parked/<not an id>/retry) is taken for an order key and answered 405
@blp.route(f"/<any({', '.join(CHANNELS)}):channel>/<path:order_id>", methods=["GET"])
@blp.response(200, OrderDetail)
@blp.alt_response(404, description="no such order")
@allow(*ALL_STAFF)
def get_order_by_key(channel: str, order_id: str) -> Any:
    """One order by its channel and the platform's order id."""
    with _services().db.session() as session:
        pk = queries.find_order_pk(session, channel, order_id)
    return _detail(pk)
