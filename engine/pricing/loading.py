"""Rules → pricing plan: check, pick the promotion, prepare.

This module owns turning a ruleset model (:func:`plan_from_model`: a published version's, from
:mod:`engine.rulesets.published`) or rules text (:func:`plan_from_content`: a dry run or a file,
read with :func:`dsl.load_text`) into a :class:`~engine.pricing.plan.PricingPlan`, and the JSON
text of a quote body shared by the API and the CLI. Prepared plans are cached by content
checksum in a bounded LRU (a published version is immutable, so its plan can be reused for
every quote). It reads no database; :mod:`engine.pricing.published` finds the published version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dsl
from dsl import model as m
from dsl.errors import Diagnostic, RuleError
from engine.lru import BoundedCache

from .conditions import PlanError
from .plan import PricingPlan, RulesetRef, checksum_of, prepare_plan

__all__ = ["CACHE_SIZE", "RulesInvalid", "plan_from_content", "plan_from_model", "quote_json"]

CACHE_SIZE = 128


@dataclass
class RulesInvalid(Exception):
    """Rules that cannot price: syntax or check errors, no (or an unnamed) promotion, or a
    promotion the engine refuses. ``problems`` are ``{"line", "col", "message", ...}``."""

    message: str
    problems: list[dict[str, Any]]

    def __str__(self) -> str:
        return self.message

    def format(self) -> str:
        return "\n".join(p.get("text") or p["message"] for p in self.problems) or self.message


def _problem(d: Diagnostic) -> dict[str, Any]:
    out: dict[str, Any] = {"line": d.line, "col": d.col, "message": d.message, "text": d.format()}
    if d.pointer:
        out["pointer"] = d.pointer
    return out


_cache: BoundedCache[tuple[str, str, int | None, str, str | None], PricingPlan] = BoundedCache(CACHE_SIZE)


def plan_from_content(content: str, *, name: str, fmt: str = "dsl", version: int | None = None,
                      checksum: str | None = None, promotion: str | None = None,
                      filename: str | None = None) -> PricingPlan:
    """The plan of ``promotion`` (default: the ruleset's only promotion) in ``content``.

    ``name``/``version``/``checksum`` identify the ruleset in every quote (the checksum
    defaults to ``sha256:`` of the content, as for published versions). Raises
    :class:`RulesInvalid` with every problem found."""
    where = filename or f"{name}.{'json' if fmt == 'json' else 'op'}"

    def read() -> m.Ruleset:
        try:
            return dsl.load_text(content, fmt, where)
        except RuleError as exc:
            raise RulesInvalid(f"the rules do not parse: {exc.first.format().splitlines()[0]}",
                               [_problem(d) for d in exc.diagnostics]) from None

    return _plan(read, name=name, fmt=fmt, version=version, checksum=checksum or checksum_of(content),
                 promotion=promotion)


def plan_from_model(ruleset: m.Ruleset, *, name: str, fmt: str, version: int | None, checksum: str,
                    promotion: str | None = None) -> PricingPlan:
    """The plan of ``promotion`` in an already loaded ruleset model (a published version)."""
    return _plan(lambda: ruleset, name=name, fmt=fmt, version=version, checksum=checksum, promotion=promotion)


def _plan(read: Callable[[], m.Ruleset], *, name: str, fmt: str, version: int | None, checksum: str,
          promotion: str | None) -> PricingPlan:
    key = (name, checksum, version, fmt, promotion)
    plan = _cache.get(key)
    if plan is not None:
        return plan
    return _cache.put(key, _prepare(read(), name=name, version=version, checksum=checksum, promotion=promotion))


def _prepare(ruleset: m.Ruleset, *, name: str, version: int | None, checksum: str,
             promotion: str | None) -> PricingPlan:
    errors = [d for d in dsl.check(ruleset) if d.severity == "error"]
    if errors:
        raise RulesInvalid(f"the rules have {len(errors)} error(s), first: "
                           f"{errors[0].format().splitlines()[0]}",
                           [_problem(d) for d in errors])
    promotions = ruleset.promotions
    names = [p.name for p in promotions]
    if promotion is not None:
        chosen = next((p for p in promotions if p.name == promotion), None)
        if chosen is None:
            raise RulesInvalid(f"the rules have no promotion {promotion!r} (promotions: "
                               f"{', '.join(names) or 'none'})",
                               [{"line": 0, "col": 0, "message": "unknown promotion"}])
    elif len(promotions) == 1:
        chosen = promotions[0]
    else:
        message = ("the rules declare no promotion" if not promotions else
                   f"the rules declare {len(promotions)} promotions ({', '.join(names)}); "
                   "name the one to price with")
        raise RulesInvalid(message, [{"line": 0, "col": 0, "message": message}])
    try:
        return prepare_plan(chosen, RulesetRef(name, version, checksum))
    except PlanError as exc:
        raise RulesInvalid(f"promotion {chosen.name} cannot be priced: {exc.message}",
                           [{"line": exc.line, "col": exc.col, "message": exc.message}]) from None


def _json_default(value: Any) -> Any:
    return str(value)  # e.g. a Fraction read by a rule's money expression, shown in a log note


def quote_json(body: dict[str, Any]) -> str:
    """The exact JSON text of a quote body (API response and ``orderpulse price --json``)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=_json_default)
