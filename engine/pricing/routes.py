"""HTTP route of pricing: ``POST /api/v1/pricing/quote`` (flask-smorest blueprint ``pricing``).

A thin entry point: authenticate (``@allow``, every staff role), parse the body, find the plan
(latest published version of ``ruleset``, or the dry-run ``rules`` text), check the order and
price it. The response is the quote body as :func:`engine.pricing.loading.quote_json` writes it
— byte for byte what ``orderpulse price --json`` prints.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint

from engine.auth.access import allow
from engine.auth.roles import ALL_STAFF
from engine.errors import Unprocessable

from .loading import RulesInvalid, plan_from_content, quote_json
from .order_input import OrderInvalid, read_order
from .plan import PricingPlan
from .quote import quote_priced_order
from .schemas import PricingErrorBodySchema, QuoteRequestSchema, QuoteSchema

blp = Blueprint("pricing", __name__, url_prefix="/pricing",
                description="Promotion pricing: per-line split in fen, gifts, freight, audit log.")


def _plan(args: dict[str, Any]) -> PricingPlan:
    if (args["ruleset"] is None) == (args["rules"] is None):
        raise Unprocessable("give exactly one of `ruleset` (a published ruleset's name) or `rules` "
                            "(rules text for a dry run)", code="invalid",
                            details=[{"path": "/ruleset", "message": "give ruleset or rules"},
                                     {"path": "/rules", "message": "give ruleset or rules"}])
    try:
        if args["rules"] is not None:
            return plan_from_content(args["rules"], name="dry-run", fmt=args["format"],
                                     promotion=args["promotion"])
        from .published import published_plan

        with current_app.extensions["orderpulse"].db.session() as s:
            return published_plan(s, args["ruleset"], args["promotion"])
    except RulesInvalid as exc:
        path = "/rules" if args["rules"] is not None else "/ruleset"
        raise Unprocessable(exc.message, code="invalid_rules",
                            details=[{"path": path, **{k: v for k, v in p.items() if k != "text"}}
                                     for p in exc.problems]) from None


@blp.route("/quote", methods=["POST"])
@allow(*ALL_STAFF)
@blp.arguments(QuoteRequestSchema())
@blp.response(200, QuoteSchema)
@blp.alt_response(404, schema=PricingErrorBodySchema, description="ruleset_not_found / version_not_found")
@blp.alt_response(422, schema=PricingErrorBodySchema,
                  description="invalid_order (details: field paths such as /order/lines/0/qty) "
                              "or invalid_rules (details: line/col of each problem)")
def quote(args: dict[str, Any]) -> Any:
    """Price an order: per line the original amount, each discount share (rule, tier, funder)
    and the payable amount; totals, gifts, freight; the audit log; the ruleset version."""
    try:
        order = read_order(args["order"], ("order",))
    except OrderInvalid as exc:
        raise Unprocessable(exc.message, code="invalid_order", details=exc.details) from None
    plan = _plan(args)
    body = quote_priced_order(plan, order)
    return Response(quote_json(body), status=200, mimetype="application/json")
