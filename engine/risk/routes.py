"""``GET /risk/flags``: the orders risk rules flagged or held, filtered, newest first, a page at a
time, each with the rule, the ruleset version that decided it and its evidence (the figures, the
key they were grouped by — a phone masked for roles that do not see phones — and the orders
counted). Every staff role may read it. Views only translate HTTP; the query is in flags.py.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.api.fields import comma_list
from engine.auth.access import allow, current_principal
from engine.auth.roles import ALL_STAFF
from engine.orders.document import CHANNELS
from engine.risk.flags import FlagFilter, list_flags

blp = Blueprint("risk", __name__, url_prefix="/risk", description="Risk rules: the flags they raised")

MAX_LIMIT = 200


class FlagArgs(Schema):
    rule = fields.String(load_default=None, validate=validate.Length(min=1, max=512),
                         metadata={"description": "rule name(s), comma-separated"})
    flag = fields.String(load_default=None, validate=validate.Length(min=1, max=512),
                         metadata={"description": "flag label(s), comma-separated, e.g. 疑似黄牛"})
    channel = fields.String(load_default=None, metadata={"description": "channel(s), comma-separated"})
    held = fields.Boolean(load_default=None, metadata={"description": "true: only holds; false: only flags"})
    order_id = fields.String(load_default=None, validate=validate.Length(min=1, max=128))
    at_from = fields.AwareDateTime(load_default=None, metadata={"description": "flagged at or after"})
    at_to = fields.AwareDateTime(load_default=None, metadata={"description": "flagged before"})
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_LIMIT))

    @validates_schema
    def _known(self, data: dict[str, Any], **_: Any) -> None:
        for value in comma_list(data.get("channel")):
            if value not in CHANNELS:
                raise ValidationError(f"unknown channel {value!r}; one of {', '.join(CHANNELS)}", "channel")
        if data.get("at_from") and data.get("at_to") and data["at_from"] >= data["at_to"]:
            raise ValidationError("at_from must be before at_to", "at_to")


class FlagOut(Schema):
    id = fields.Integer()
    order_pk = fields.Integer()
    channel = fields.String()
    order_id = fields.String()
    revision = fields.Integer()
    rule = fields.String()
    flag = fields.String()
    held = fields.Boolean()
    ruleset = fields.String()
    ruleset_version = fields.Integer()
    evidence = fields.Dict(metadata={"description": "rule, flag, hold, condition, figures [{measure, value, by, "
                                                    "key, within_s, orders}]"})
    at = fields.String()


class FlagPage(Schema):
    items = fields.List(fields.Nested(FlagOut))
    next_cursor = fields.String(allow_none=True)


@blp.route("/flags", methods=["GET"])
@blp.arguments(FlagArgs(), location="query")
@blp.response(200, FlagPage)
@blp.alt_response(422, description="unknown channel, bad time, a cursor this API did not give out")
@allow(*ALL_STAFF)
def get_flags(args: dict[str, Any]) -> Any:
    """Risk flags, newest first, filtered, one page at a time (``next_cursor``)."""
    f = FlagFilter(rules=comma_list(args["rule"]), flags=comma_list(args["flag"]), channels=comma_list(args["channel"]),
                   held=args["held"], order_id=args["order_id"], at_from=args["at_from"], at_to=args["at_to"])
    with current_app.extensions["orderpulse"].db.session() as session:
        return list_flags(session, f, role=current_principal().role, cursor=args["cursor"], limit=args["limit"])
