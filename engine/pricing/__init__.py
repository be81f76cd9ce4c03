"""Pricing: the promotion priority tree → per-line split, totals, gifts, freight, audit log.

Pure Python over the ``dsl`` model (no Flask or SQLAlchemy here; the API route, the CLI and the
ruleset loader are adapters around it). Prepare a promotion once with :func:`prepare_plan`, then
price many orders with :func:`quote_order`; :func:`render_log` turns the JSON log into Chinese.
"""

from __future__ import annotations

from .conditions import PlanError
from .order_input import OrderInvalid, PricingOrder, read_order
from .plan import PricingPlan, RulesetRef, checksum_of, prepare_plan
from .quote import quote_order, quote_priced_order

__all__ = [
           "OrderInvalid",
           "PlanError",
           "PricingOrder",
           "PricingPlan",
           "RulesetRef",
           "checksum_of",
           "prepare_plan",
           "quote_order",
           "quote_priced_order",
           "read_order",
]
