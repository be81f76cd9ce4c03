"""Marshmallow schemas of the pricing API: the quote request and the quote body (they feed the
OpenAPI document). Shapes only; no behaviour. The order itself is checked by
:func:`engine.pricing.order_input.read_order`, which reports every problem with its path.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.values import MAX_QTY, MONEY_MAX_FEN

__all__ = ["PricingErrorBodySchema", "QuoteRequestSchema", "QuoteSchema"]


_MONEY = {"type": "integer", "minimum": 0, "maximum": MONEY_MAX_FEN}
_LINE = {"type": "object", "required": ["line_id", "sku_id", "qty"], "properties": {
    "line_id": {"type": "string", "minLength": 1}, "sku_id": {"type": "string", "minLength": 1},
    "qty": {"type": "integer", "minimum": 1, "maximum": MAX_QTY}, "unit_price": _MONEY, "amount": _MONEY,
    "category": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}}


class QuoteRequestSchema(Schema):
    # checked by read_order (every problem with its path); the document states the same rules
    order = fields.Dict(required=True, metadata={
        "description": "the normalized order (money in integer fen): lines [{line_id, sku_id, "
                       "category, tags, qty, unit_price, amount}], customer, red_packet, "
                       "receiver {province …}, channel …",
        "required": ["lines"],
        "properties": {"lines": {"type": "array", "minItems": 1, "items": _LINE}, "red_packet": _MONEY}})
    ruleset = fields.Str(load_default=None, metadata={
        "description": "price with the latest published version of this ruleset"})
    rules = fields.Str(load_default=None, metadata={
        "description": "dry run: price with these rules (DSL or JSON text) instead of a published ruleset"})
    format = fields.Str(load_default="dsl", validate=validate.OneOf(("dsl", "json")),
                        metadata={"description": "format of `rules`"})
    promotion = fields.Str(load_default=None, metadata={
        "description": "which promotion of the ruleset; default: its only one"})


class DiscountShareSchema(Schema):
    rule = fields.Str()
    tier = fields.Str()
    amount = fields.Int(metadata={"description": "fen"})
    funded_by = fields.Str(metadata={"description": "merchant | platform"})


class QuoteLineSchema(Schema):
    line_id = fields.Raw()
    sku_id = fields.Str()
    qty = fields.Int()
    original = fields.Int(metadata={"description": "fen"})
    discounts = fields.List(fields.Nested(DiscountShareSchema))
    payable = fields.Int(metadata={"description": "fen"})
    gift = fields.Bool(metadata={"description": "a zero-price gift line added by a gift rule"})


class QuoteTotalsSchema(Schema):
    original = fields.Int()
    discount = fields.Int()
    goods = fields.Int(metadata={"description": "sum of the line payables"})
    freight = fields.Int()
    payable = fields.Int(metadata={"description": "goods + freight"})
    merchant_funded = fields.Int()
    platform_funded = fields.Int()


class GiftSchema(Schema):
    sku_id = fields.Str()
    qty = fields.Int()
    rule = fields.Str()


class RulesetRefSchema(Schema):
    name = fields.Str()
    version = fields.Int(allow_none=True, metadata={"description": "null for a dry run"})
    checksum = fields.Str()


class QuoteSchema(Schema):
    lines = fields.List(fields.Nested(QuoteLineSchema))
    totals = fields.Nested(QuoteTotalsSchema)
    gifts = fields.List(fields.Nested(GiftSchema))
    log = fields.List(fields.Dict(), metadata={
        "description": "audit log: start, tier, rule (condition, inputs, outcome, status, base, "
                       "discount, split, notes), gift, freight, total"})
    ruleset = fields.Nested(RulesetRefSchema)
    promotion = fields.Str()


class PricingErrorSchema(Schema):
    code = fields.Str()
    message = fields.Str()
    details = fields.List(fields.Dict(), metadata={
        "description": "invalid_order: {path, message} per problem; invalid_rules: {path, line, col, message}"})


class PricingErrorBodySchema(Schema):
    error = fields.Nested(PricingErrorSchema)
