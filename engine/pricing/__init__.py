"""Pricing: the promotion priority tree → per-line split, totals, gifts, freight, audit log.

Pure Python over the ``dsl`` model (no Flask or SQLAlchemy in this package's core; the API
route, the CLI and the published-version loader are adapters around it). Prepare a promotion
once — :func:`prepare_plan` from a model, or :func:`plan_from_content` from rules text — then
price many orders with :func:`quote_order`. :func:`quote_json` writes the exact JSON of a quote
body; :func:`render_log` / :func:`render_breakdown` show it in Chinese.
"""

from __future__ import annotations

from .conditions import PlanError
from .loading import RulesInvalid, plan_from_content, quote_json
from .log_text import render_breakdown, render_log, render_log_text
from .order_input import OrderInvalid, PricingOrder, read_order
from .plan import PricingPlan, RulesetRef, checksum_of, prepare_plan
from .quote import quote_order, quote_priced_order

__all__ = ["OrderInvalid", "PlanError", "PricingOrder", "PricingPlan", "RulesInvalid", "RulesetRef",
           "checksum_of", "plan_from_content", "prepare_plan", "quote_json", "quote_order",
           "quote_priced_order", "read_order", "render_breakdown", "render_log", "render_log_text"]
