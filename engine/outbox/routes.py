"""Admin API for the outbox: ``GET /outbox`` (list, filter by status) and
``POST /outbox/{id}/replay`` (put a dead row back in the queue). Admin only.

An HTTP entry point over :mod:`engine.outbox.admin`; it holds no outbox logic itself.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from engine.auth.access import allow, current_principal
from engine.outbox.admin import STATUSES, list_messages, replay_dead
from engine.storage.models import OutboxMessage
from engine.values import INT64_MAX

blp = Blueprint("outbox", __name__, url_prefix="/outbox", description="Durable outbox (admin)")


class OutboxQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={"description": "pending, delivered or dead"})
    topic = fields.String(validate=validate.Length(min=1, max=128))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    before_id = fields.Integer(validate=validate.Range(min=1, max=INT64_MAX),
                               metadata={"description": "page on: last id seen"})


class OutboxMessageSchema(Schema):
    id = fields.Integer()
    delivery_id = fields.String()
    topic = fields.String()
    payload = fields.Raw()
    status = fields.String()
    attempts = fields.Integer()
    max_attempts = fields.Integer()
    retry_schedule = fields.List(fields.Integer())
    next_attempt_at = fields.DateTime()
    claimed_until = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    source = fields.String()
    ruleset_version = fields.String(allow_none=True)
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)


class OutboxListSchema(Schema):
    items = fields.List(fields.Nested(OutboxMessageSchema))


def _services() -> Any:
    return current_app.extensions["orderpulse"]


@blp.route("", methods=["GET"])
@allow("admin")
@blp.arguments(OutboxQuerySchema(), location="query")
@blp.response(200, OutboxListSchema)
def list_outbox(query: dict[str, Any]) -> dict[str, list[OutboxMessage]]:
    """List outbox rows, newest first (e.g. ``?status=dead``)."""
    with _services().db.session() as session:
        items = list_messages(session, **query)
    return {"items": items}


@blp.route("/<int:message_id>/replay", methods=["POST"])
@allow("admin")
@blp.response(200, OutboxMessageSchema)
def replay_outbox_message(message_id: int) -> OutboxMessage:
    """Replay a dead row: attempts start again and it is delivered on the next pass."""
    services = _services()
    with services.db.transaction(immediate=True) as session:
        (row,) = replay_dead(session, [message_id], now=services.clock.now(), actor=current_principal().username)
    return row
