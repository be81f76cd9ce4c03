"""The published promotion a quote runs on: the latest published version of a named ruleset.

This adapter owns pricing's one database question — the ruleset's current published version —
and asks :mod:`engine.rulesets.published` (the one loader of published versions, cached by
checksum) for it; :func:`engine.pricing.loading.plan_from_model` prepares the plan, cached by
the same checksum — a version is parsed and prepared once per process.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.rulesets import published

from .loading import plan_from_model
from .plan import PricingPlan

__all__ = ["published_plan"]


def published_plan(session: Session, name: str, promotion: str | None = None) -> PricingPlan:
    """The plan of the latest published version of ruleset ``name``.

    Raises :class:`engine.errors.NotFound` (``ruleset_not_found``, ``version_not_found``) or
    :class:`engine.pricing.loading.RulesInvalid`."""
    ref, ruleset = published.latest(session, name)
    return plan_from_model(ruleset, name=name, fmt=ref.format, version=ref.version, checksum=ref.checksum,
                           promotion=promotion)
