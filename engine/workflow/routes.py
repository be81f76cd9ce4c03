"""HTTP entry points of the workflow engine (``/api/v1``): open a ticket, read it, fire an
action, receive a webhook, and draw a machine. Views only translate HTTP to the service layer.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from engine.api.fields import Identifier, comma_list
from engine.api.openapi import success
from engine.api.request_guard import body_kind
from engine.auth.access import allow, current_principal, public
from engine.auth.roles import ALL_STAFF, normalize_role
from engine.values import identifier_problem, require
from engine.workflow import listing, metrics, service, webhooks
from engine.workflow.diagram import render_svg
from engine.workflow.registry import registry_of

machines_blp = Blueprint("workflow_machines", __name__, url_prefix="/machines",
                         description="Workflow machines: open tickets, diagrams")
instances_blp = Blueprint("workflow_instances", __name__, url_prefix="/instances",
                          description="Workflow tickets: read, fire actions")
hooks_blp = Blueprint("workflow_hooks", __name__, url_prefix="/hooks",
                      description="Signed inbound webhooks that fire actions")


class CreateInstanceBody(Schema):
    data = fields.Dict(keys=fields.String(), load_default=dict, metadata={"description": "declared data fields"})
    ruleset = fields.String(load_default=None, metadata={"description": "ruleset, when several declare the machine"})


class RulesetQuery(Schema):
    ruleset = Identifier(load_default=None, metadata={"description": "the ruleset, when several declare the machine"})


class ActionPayload(Schema):
    """An action's body is its payload: the fields it requires, plus anything the guard reads."""

    class Meta:
        unknown = INCLUDE


class HistoryEntry(Schema):
    seq = fields.Integer()
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.String()
    action = fields.String()
    actor = fields.String()
    actor_role = fields.String(allow_none=True)
    at = fields.String()
    payload = fields.Raw()
    ruleset_version = fields.String()
    idempotency_key = fields.String(allow_none=True)
    seconds_in_state = fields.Integer(allow_none=True)


class InstanceOut(Schema):
    id = fields.Integer()
    machine = fields.String()
    ruleset = fields.String()
    ruleset_version = fields.Integer()
    version = fields.Integer()
    state = fields.String()
    data = fields.Dict()
    closed = fields.Boolean()
    created_at = fields.String()
    state_entered_at = fields.String()
    closed_at = fields.String(allow_none=True)
    processing_seconds = fields.Integer(allow_none=True)
    owner = fields.String(allow_none=True)
    deadline_at = fields.String(allow_none=True)
    allowed_actions = fields.List(fields.String())
    history = fields.List(fields.Nested(HistoryEntry))
    action = fields.Dict()


def _services() -> Any:
    return current_app.extensions["orderpulse"]


@machines_blp.route("/<machine>/instances", methods=["POST"])
@allow(*ALL_STAFF)
@machines_blp.arguments(CreateInstanceBody())
@machines_blp.response(201, InstanceOut)
@machines_blp.alt_response(404, description="unknown_machine")
@machines_blp.alt_response(409, description="ambiguous_machine: name the ruleset")
def create_instance(body: dict[str, Any], machine: str) -> dict[str, Any]:
    """Open a ticket on the current published version of MACHINE."""
    who = current_principal()
    created = service.create_instance(_services(), machine, body.get("data") or {},
                                      actor=f"user:{who.username}", role=who.role, ruleset=body.get("ruleset"))
    return service.get_instance(_services(), created["id"], who.role)


@machines_blp.route("/<machine>/diagram.svg", methods=["GET"])
@allow(*ALL_STAFF)
@machines_blp.arguments(RulesetQuery(), location="query")
@machines_blp.doc(**success("the state diagram", media="image/svg+xml"))
@machines_blp.alt_response(404, description="unknown_machine")
@machines_blp.alt_response(409, description="ambiguous_machine: name the ruleset")
def machine_diagram(query: dict[str, Any], machine: str) -> Response:
    """The state diagram of MACHINE (current published version) as SVG."""
    services = _services()
    with services.db.session() as session:
        compiled = registry_of(services).latest(session, machine, query["ruleset"])
    return Response(render_svg(compiled.decl), mimetype="image/svg+xml")


@machines_blp.route("/<machine>/metrics", methods=["GET"])
@allow(*ALL_STAFF)
@machines_blp.arguments(RulesetQuery(), location="query")
@machines_blp.doc(**success("time in each state and processing time"))
@machines_blp.alt_response(404, description="unknown_machine")
@machines_blp.alt_response(409, description="ambiguous_machine: name the ruleset")
def machine_metrics(query: dict[str, Any], machine: str) -> Any:
    """Time in each state (tickets that left it, and open ones) and end-to-end processing time."""
    services = _services()
    with services.db.session() as session:
        registry_of(services).latest(session, machine, query["ruleset"])  # unknown machine → 404
        return metrics.machine_metrics(session, machine, services.clock.now())


class InstanceListArgs(Schema):
    machine = fields.String(load_default=None, validate=validate.Length(min=1, max=512),
                            metadata={"description": "machine name(s), comma-separated"})
    state = fields.String(load_default=None, validate=validate.Length(min=1, max=512),
                          metadata={"description": "state name(s), comma-separated"})
    owner = fields.String(load_default=None, validate=validate.Length(min=1, max=32),
                          metadata={"description": "the owning role (code or Chinese name), or `me`"})
    overdue = fields.Boolean(load_default=None, metadata={"description": "true: past the deadline only"})
    order_id = fields.String(load_default=None, validate=validate.Length(min=1, max=128))
    channel = fields.String(load_default=None, metadata={"description": "order channel(s), comma-separated"})
    q = fields.String(load_default=None, validate=validate.Length(min=1, max=128),
                      metadata={"description": "order id, ticket id or the phone's last four digits"})
    closed = fields.Boolean(load_default=False, metadata={"description": "true: closed tickets instead of open"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=listing.MAX_LIMIT))

    @validates_schema
    def _known(self, data: dict[str, Any], **_: Any) -> None:
        owner = data.get("owner")
        if owner is not None and owner != "me" and normalize_role(owner) is None:
            raise ValidationError(f"unknown role {owner!r}", "owner")


class InstanceListItem(Schema):
    id = fields.Integer()
    machine = fields.String()
    machine_title = fields.String()
    ruleset = fields.String()
    ruleset_version = fields.Integer()
    state = fields.String()
    owner = fields.String(allow_none=True)
    order_id = fields.String(allow_none=True)
    channel = fields.String(allow_none=True)
    data = fields.Dict()
    created_at = fields.String()
    state_entered_at = fields.String()
    deadline_at = fields.String(allow_none=True)
    seconds_left = fields.Integer(allow_none=True)
    overdue = fields.Boolean()
    allowed_actions = fields.List(fields.String())


class InstancePage(Schema):
    items = fields.List(fields.Nested(InstanceListItem))
    next_cursor = fields.String(allow_none=True)


@instances_blp.route("", methods=["GET"])
@allow(*ALL_STAFF)
@instances_blp.arguments(InstanceListArgs(), location="query")
@instances_blp.response(200, InstancePage)
@instances_blp.alt_response(422, description="unknown role, a cursor this API did not give out")
def list_instances(args: dict[str, Any]) -> Any:
    """Open tickets (``closed=true``: closed ones), overdue first, then by deadline; filtered by
    machine, state, owner role (``me``: the caller's), overdue, order, channel and ``q``."""
    who = current_principal()
    owner = args["owner"]
    f = listing.TicketFilter(
        machines=comma_list(args["machine"]), states=comma_list(args["state"]),
        owner=who.role if owner == "me" else (normalize_role(owner) if owner else None),
        overdue=args["overdue"], order_id=args["order_id"], channels=comma_list(args["channel"]), q=args["q"],
        closed=args["closed"])
    services = _services()
    with services.db.session() as session:
        return listing.list_tickets(session, registry_of(services), f, role=who.role, now=services.clock.now(),
                                    cursor=args["cursor"], limit=args["limit"])


@instances_blp.route("/<int:instance_id>", methods=["GET"])
@allow(*ALL_STAFF)
@instances_blp.response(200, InstanceOut)
def read_instance(instance_id: int) -> dict[str, Any]:
    """The ticket: state, owner, deadline, actions allowed for your role, and history."""
    return service.get_instance(_services(), instance_id, current_principal().role)


@instances_blp.route("/<int:instance_id>/actions/<action>", methods=["POST"])
@allow(*ALL_STAFF)
@instances_blp.arguments(ActionPayload())
@instances_blp.response(200, InstanceOut)
@instances_blp.alt_response(409, description="the action is not allowed from the ticket's state")
def fire_action(payload: dict[str, Any], instance_id: int, action: str) -> dict[str, Any]:
    """Fire ACTION on the ticket; the body is its payload. Send ``Idempotency-Key`` so a retry
    returns the first answer and changes nothing."""
    who = current_principal()
    key = request.headers.get("Idempotency-Key") or None
    if key is not None:
        require([("/headers/Idempotency-Key", identifier_problem(key, 128))], "Idempotency-Key")
    return service.fire_action(_services(), instance_id, action, dict(payload), actor=f"user:{who.username}",
                               role=who.role, via="user", idempotency_key=key)


@hooks_blp.route("/<hook>", methods=["POST"])
@public
@body_kind("hook")  # raw bytes: the signature is checked before the body is parsed
@hooks_blp.doc(**success("the event was taken (or, for DingTalk, the encrypted reply)"),
               requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
               parameters=[{"in": "query", "name": name, "required": False,
                            "schema": {"type": "string", "maxLength": 128},
                            "description": "DingTalk callbacks: signature, timestamp and nonce in the query"}
                           for name in ("signature", "msg_signature", "timestamp", "timeStamp", "nonce")])
@hooks_blp.alt_response(404, description="unknown_hook (or no ticket for the event)")
@hooks_blp.alt_response(409, description="replayed_event or wrong_state")
def receive_hook(hook: str) -> Any:
    """Inbound webhook: HMAC-SHA256 (or DingTalk callback) checked, stale/replayed refused."""
    result = webhooks.receive(_services(), hook, body=request.get_data(), headers=request.headers,
                              query=request.args)
    return result.body, result.status


def blueprints() -> list[Blueprint]:
    return [machines_blp, instances_blp, hooks_blp]
