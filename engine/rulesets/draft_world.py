"""The rules a draft would run with: every current published version, with the draft of one
ruleset in that ruleset's place (会有什么变化 compares the two worlds over stored orders).

Reads through :mod:`engine.rulesets.published` (the one loader of published versions) and
stores nothing. A published version that no longer loads is left out of both worlds, as the
pipeline's stages leave it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from dsl import model as m
from dsl.errors import RuleError
from engine.logs import get_logger
from engine.rulesets import published

__all__ = ["RulesetSource", "published_sources", "with_draft"]

log = get_logger(__name__)


@dataclass(frozen=True)
class RulesetSource:
    """One ruleset's model as an interpreter runs it (``version`` 0: the draft)."""

    name: str
    version: int
    checksum: str
    model: m.Ruleset


def published_sources(session: Session) -> list[RulesetSource]:
    """The current published version of every ruleset, oldest ruleset first."""
    out = []
    for ref in published.latest_versions(session):
        try:
            model = published.model_of(session, ref)
        except RuleError as exc:
            log.warning("published ruleset does not load", ruleset=ref.label, error=str(exc))
            continue
        out.append(RulesetSource(ref.name, ref.version, ref.checksum, model))
    return out


def with_draft(sources: list[RulesetSource], draft: RulesetSource) -> list[RulesetSource]:
    """``sources`` with ``draft`` in the place of its ruleset (at the end when not published)."""
    if any(s.name == draft.name for s in sources):
        return [draft if s.name == draft.name else s for s in sources]
    return [*sources, draft]
