"""The published fulfillment declarations: the lateness threshold the deviation uses, and the
ship warnings the background job sends, each with the channel its ruleset declares.

Reads the current published version of every ruleset through :mod:`engine.rulesets.published`
(one small read; models cached by checksum) and keeps the result per set of versions, so a
publish takes effect on the next run. When several rulesets declare ``late after``, the oldest
ruleset's threshold holds (the shared loader's order); every declared warning runs, and two
rulesets declaring the same (ship time, lead) send it once (the first ruleset's text).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dsl import model as m
from engine.lru import BoundedCache
from engine.rulesets import published

__all__ = ["DeclaredFulfillment", "DeclaredWarning", "declared_fulfillment", "fulfillment_of"]


@dataclass(frozen=True)
class DeclaredWarning:
    ruleset: str
    version: int
    declaration: str
    warning: m.ShipWarning
    channel: m.ChannelDecl | None

    @property
    def key(self) -> str:
        """What the sent row stores: ``promised_ship_at:7200``."""
        return f"{self.warning.due}:{self.warning.lead}"


@dataclass(frozen=True)
class DeclaredFulfillment:
    late_after: int | None
    late_after_from: str | None  # "ruleset@version fulfillment NAME"
    warnings: tuple[DeclaredWarning, ...]


_cache: BoundedCache[tuple[tuple[str, str], ...], DeclaredFulfillment] = BoundedCache(16)


def declared_fulfillment(session: Session) -> DeclaredFulfillment:
    """What the published rulesets declare now."""
    return published.derived(session, _cache, fulfillment_of, "fulfillment declarations")


def fulfillment_of(sources: Iterable[tuple[str, int, m.Ruleset]]) -> DeclaredFulfillment:
    """The declarations of ``(ruleset, version, model)``, oldest ruleset first."""
    late_after: int | None = None
    late_from: str | None = None
    warnings: dict[str, DeclaredWarning] = {}
    for ruleset, version, model in sources:
        channels = {d.name: d for d in model.declarations if isinstance(d, m.ChannelDecl)}
        for decl in model.declarations:
            if not isinstance(decl, m.FulfillmentDecl):
                continue
            if decl.late_after is not None and decl.late_after > 0 and late_after is None:
                late_after, late_from = decl.late_after, f"{ruleset}@{version} fulfillment {decl.name}"
            for w in decl.warnings:
                if w.lead <= 0 or w.due not in ("promised_ship_at", "presale_ship_by"):
                    continue
                found = DeclaredWarning(ruleset, version, decl.name, w, channels.get(w.notify.channel))
                warnings.setdefault(found.key, found)
    return DeclaredFulfillment(late_after, late_from, tuple(warnings.values()))
