"""``GET /alerts``: the alert firings, filtered, newest first, a page at a time, each with its
ruleset version, window, group, figures, message, delivery status, clearing and
acknowledgement; ``POST /alerts/{id}/ack``: record who acknowledged a firing and when. Views
only translate HTTP; the queries are in firings.py."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.alerts.firings import STATES, FiringFilter, acknowledge, list_firings
from engine.api.fields import comma_list
from engine.auth.access import allow, current_principal
from engine.auth.roles import ALL_STAFF
from engine.values import INT64_MAX

blp = Blueprint("alerts", __name__, url_prefix="/alerts", description="Alerts: firings of the published alert rules")

MAX_LIMIT = 200
ACK_ROLES = ("admin", "ops", "cs_lead", "warehouse")


class AlertArgs(Schema):
    alert = fields.String(load_default=None, validate=validate.Length(min=1, max=512),
                          metadata={"description": "alert name(s), comma-separated, e.g. 面料起球预警"})
    state = fields.String(load_default=None, validate=validate.Length(min=1, max=64),
                          metadata={"description": "firing, cleared or acknowledged (comma-separated)"})
    channel = fields.String(load_default=None, validate=validate.Length(min=1, max=512),
                            metadata={"description": "channel(s) notified, comma-separated, e.g. 品控主管群"})
    at_from = fields.AwareDateTime(load_default=None, metadata={"description": "fired at or after"})
    at_to = fields.AwareDateTime(load_default=None, metadata={"description": "fired before"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))

    @validates_schema
    def _known(self, data: dict[str, Any], **_: Any) -> None:
        for value in comma_list(data.get("state")):
            if value not in STATES:
                raise ValidationError(f"unknown state {value!r}; one of {', '.join(STATES)}", "state")
        if data.get("at_from") and data.get("at_to") and data["at_from"] >= data["at_to"]:
            raise ValidationError("at_from must be before at_to", "at_to")


class WindowOut(Schema):
    period = fields.String()
    start = fields.String()
    end = fields.String()


class DeliveryOut(Schema):
    event = fields.String(metadata={"description": "fire or clear"})
    channel = fields.String()
    delivery_id = fields.String()
    status = fields.String(metadata={"description": "pending, delivered or dead (the outbox row's status)"})


class FiringOut(Schema):
    id = fields.Integer()
    ruleset = fields.String()
    ruleset_version = fields.Integer()
    alert = fields.String()
    group = fields.String(metadata={"description": "the value of the alert's 'by' field ('' when not grouped)"})
    state = fields.String(metadata={"description": "firing or cleared"})
    acknowledged = fields.Boolean()
    window = fields.Nested(WindowOut)
    figures = fields.Dict(metadata={"description": "value, previous, change_vs_previous (text) and its basis points"})
    message = fields.String()
    channels = fields.List(fields.String())
    delivery_status = fields.String(metadata={"description": "of the firing's messages: pending, delivered, dead"})
    deliveries = fields.List(fields.Nested(DeliveryOut))
    fired_at = fields.String()
    cleared_at = fields.String(allow_none=True)
    clear_figures = fields.Dict(allow_none=True)
    clear_message = fields.String(allow_none=True)
    acknowledged_by = fields.String(allow_none=True)
    acknowledged_at = fields.String(allow_none=True)


class FiringPage(Schema):
    items = fields.List(fields.Nested(FiringOut))
    next_cursor = fields.String(allow_none=True)


def _services() -> Any:
    return current_app.extensions["orderpulse"]


@blp.route("", methods=["GET"])
@blp.arguments(AlertArgs(), location="query")
@blp.response(200, FiringPage)
@blp.alt_response(422, description="unknown state, bad time, a cursor this API did not give out")
@allow(*ALL_STAFF)
def get_alerts(args: dict[str, Any]) -> Any:
    """Alert firings, newest first, filtered, one page at a time (``next_cursor``)."""
    f = FiringFilter(alerts=comma_list(args["alert"]), states=comma_list(args["state"]),
                     channels=comma_list(args["channel"]), at_from=args["at_from"], at_to=args["at_to"])
    with _services().db.session() as session:
        return list_firings(session, f, cursor=args["cursor"], limit=args["limit"])


@blp.route("/<int:firing_id>/ack", methods=["POST"])
@blp.response(200, FiringOut)
@blp.alt_response(404, description="no such firing")
@blp.alt_response(409, description="already acknowledged (the answer names who and when)")
@allow(*ACK_ROLES)
def ack_alert(firing_id: int) -> Any:
    """Acknowledge a firing: who and when are recorded and shown."""
    if firing_id > INT64_MAX:
        from engine.errors import NotFound

        raise NotFound(f"alert firing {firing_id} not found")
    services = _services()
    with services.db.transaction(immediate=True) as session:
        return acknowledge(session, firing_id, actor=current_principal().username, now=services.clock.now())
