"""Admin API for the outbox: ``GET /outbox`` (list, filter by status), ``GET /outbox/dead``
(the dead letters, filtered by topic, source and order, a page at a time) and
``POST /outbox/{id}/replay`` (put a dead row back in the queue, recorded with who and when).
Admin only.

An HTTP entry point over :mod:`engine.outbox.admin`; it holds no outbox logic itself.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, pre_load, validate

from engine.api.fields import Text
from engine.auth.access import allow, current_principal
from engine.outbox.admin import STATUSES, list_dead, list_messages, replay_dead, replay_history
from engine.storage.models import OutboxMessage
from engine.values import INT64_MAX

blp = Blueprint("outbox", __name__, url_prefix="/outbox", description="Durable outbox (admin)")


class OutboxQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={"description": "pending, delivered or dead"})
    topic = fields.String(validate=validate.Length(min=1, max=128))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    before_id = fields.Integer(validate=validate.Range(min=1, max=INT64_MAX),
                               metadata={"description": "page on: last id seen"})


class DeadQuerySchema(Schema):
    topic = fields.String(validate=validate.Length(min=1, max=128),
                          metadata={"description": "only this topic, e.g. orders.push_fetch"})
    source = fields.String(validate=validate.Length(min=1, max=128),
                           metadata={"description": "only deliveries made for this source"})
    order = Text(min_length=1, max_length=200,
                 metadata={"description": "only deliveries about this order, as channel/order_id"})
    cursor = fields.String(validate=validate.Length(min=1, max=200),
                           metadata={"description": "the next_cursor of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))

    @pre_load
    def _once_each(self, data: Any, **_: Any) -> Any:
        """Each filter is one value: ``?source=a&source=b`` is refused, not read as ``a``."""
        getlist = getattr(data, "getlist", None)
        if getlist is not None:
            repeated = {name: ["given more than once"] for name in self.fields if len(getlist(name)) > 1}
            if repeated:
                raise ValidationError(repeated)
        return data


class ReplaySchema(Schema):
    actor = fields.String()
    at = fields.DateTime()
    previous_attempts = fields.Integer()
    previous_error = fields.String(allow_none=True)


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
    order_ref = fields.String(allow_none=True)


class DeadLetterSchema(OutboxMessageSchema):
    replays = fields.List(fields.Nested(ReplaySchema))


class OutboxListSchema(Schema):
    items = fields.List(fields.Nested(OutboxMessageSchema))


class DeadListSchema(Schema):
    items = fields.List(fields.Nested(DeadLetterSchema))
    next_cursor = fields.String(allow_none=True)


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


def _dead_letter(row: OutboxMessage, replays: list[Any]) -> dict[str, Any]:
    item = {name: getattr(row, name) for name in OutboxMessageSchema().fields}
    item["replays"] = replays
    return item


@blp.route("/dead", methods=["GET"])
@allow("admin")
@blp.arguments(DeadQuerySchema(), location="query")
@blp.response(200, DeadListSchema)
@blp.alt_response(422, description="a bad filter value, or a cursor this API did not give out")
def list_dead_letters(query: dict[str, Any]) -> dict[str, Any]:
    """Dead letters (deliveries that failed all their attempts), newest first, with their replays;
    page on with ``next_cursor``."""
    with _services().db.session() as session:
        page = list_dead(session, **query)
        items = [_dead_letter(row, page.replays[row.id]) for row in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


@blp.route("/<int:message_id>/replay", methods=["POST"])
@allow("admin")
@blp.response(200, DeadLetterSchema)
@blp.alt_response(409, description="the row is not dead (pending or delivered): only dead letters are replayed")
def replay_outbox_message(message_id: int) -> dict[str, Any]:
    """Replay a dead row: attempts start again and it is delivered on the next pass, with the same
    delivery id (idempotency key). The replay is recorded with who and when."""
    services = _services()
    with services.db.transaction(immediate=True) as session:
        (row,) = replay_dead(session, [message_id], now=services.clock.now(), actor=current_principal().username)
        session.flush()
        item = _dead_letter(row, replay_history(session, [row.id])[row.id])
    return item
