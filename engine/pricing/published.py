"""The published promotion a quote runs on: the latest published version of a named ruleset.

This adapter owns the one database read of pricing: the ruleset's current published version
(``Ruleset.latest_version`` → its immutable ``RulesetVersion`` row), handed to
:func:`engine.pricing.loading.plan_from_content`, whose cache keys on the version's checksum —
a version is parsed and prepared once per process.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFound
from engine.storage.models import Ruleset, RulesetVersion

from .loading import plan_from_content
from .plan import PricingPlan

__all__ = ["published_plan"]


def published_plan(session: Session, name: str, promotion: str | None = None) -> PricingPlan:
    """The plan of the latest published version of ruleset ``name``.

    Raises :class:`engine.errors.NotFound` (``ruleset_not_found``, ``version_not_found``) or
    :class:`engine.pricing.loading.RulesInvalid`."""
    ruleset = session.scalar(select(Ruleset).where(Ruleset.name == name))
    if ruleset is None:
        raise NotFound(f"ruleset {name!r} does not exist", code="ruleset_not_found")
    row = None
    if ruleset.latest_version > 0:
        row = session.scalar(select(RulesetVersion).where(
            RulesetVersion.ruleset_id == ruleset.id,
            RulesetVersion.version == ruleset.latest_version))
    if row is None:
        raise NotFound(f"ruleset {name!r} has no published version", code="version_not_found")
    return plan_from_content(row.content, name=name, fmt=row.format, version=row.version,
                             checksum=row.checksum, promotion=promotion,
                             filename=f"{name}@v{row.version}")
