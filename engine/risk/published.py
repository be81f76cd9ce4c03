"""The published risk rules: every ``risk`` declaration of the current published version of
every ruleset, compiled.

Asks :mod:`engine.rulesets.published` (the one loader of published versions) for the current
versions (one small read per call) and compiles their risk declarations once per set of
versions: compiled rules are cached by the (ruleset, checksum) pairs they came from, so a
publish takes effect on the next order and nothing is compiled twice. When two rulesets
declare a risk rule of the same name, the older ruleset keeps it (the shared loader's order).
A stored rule the engine cannot run (published before the checker refused it) is left out
and logged, never half-run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.orm import Session

from dsl import model as m
from dsl.errors import RuleError
from engine.logs import get_logger
from engine.lru import BoundedCache
from engine.risk.rules import CompiledRisk, Dimension, RiskRuleError, compile_risk, dimensions_of
from engine.rulesets import published

__all__ = ["RiskRules", "published_risk_rules", "risk_rules_of"]

log = get_logger(__name__)


@dataclass(frozen=True)
class RiskRules:
    """The compiled risk rules of one set of published versions and the dimensions they read."""

    rules: tuple[CompiledRisk, ...]
    dimensions: tuple[Dimension, ...]

    @cached_property
    def doc_dimensions(self) -> frozenset[str]:
        return frozenset(d for r in self.rules for d in r.needs_docs)

    @cached_property
    def doc_paths(self) -> tuple[tuple[str, ...], ...] | None:
        """The order fields every rule's figures read from the neighbours (sorted), or None when
        one reads whole documents."""
        out: set[tuple[str, ...]] = set()
        for rule in self.rules:
            paths = rule.doc_paths
            if paths is None:
                return None
            out |= paths
        return tuple(sorted(out))


_cache: BoundedCache[tuple[tuple[str, str], ...], RiskRules] = BoundedCache(16)


def published_risk_rules(session: Session) -> RiskRules:
    """The risk rules that run now."""
    return published.derived(session, _cache, risk_rules_of, "risk rules")


def risk_rules_of(sources: Iterable[tuple[str, int, m.Ruleset]]) -> RiskRules:
    """The risk rules of ``(ruleset, version, model)``, oldest ruleset first (a draft among the
    published versions, for 会有什么变化, goes through here too)."""
    rules: list[CompiledRisk] = []
    names: set[str] = set()
    for ruleset, version, model in sources:
        channels = {d.name: d for d in model.declarations if isinstance(d, m.ChannelDecl)}
        for decl in model.declarations:
            if not isinstance(decl, m.RiskDecl) or decl.name in names:
                continue
            try:
                rules.append(compile_risk(decl, ruleset=ruleset, version=version, channels=channels))
            except (RiskRuleError, RuleError) as exc:
                log.error("risk rule cannot run at intake", ruleset=f"{ruleset}@{version}", rule=decl.name,
                          error=str(exc))
                continue
            names.add(decl.name)
    return RiskRules(tuple(rules), tuple(dimensions_of(rules)))
