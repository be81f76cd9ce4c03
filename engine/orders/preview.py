"""Mapping preview: one platform payload through a mapping and the cleaning declared with it,
as ``orderpulse map`` prints it and ``POST /api/v1/mappings/{name}/preview`` answers it.

This module owns :class:`OrderRules` (the mappings and cleanings of a set of rulesets, compiled
once per content checksum), the preview body and its JSON text (one function for the CLI and
the API, so ``map --json`` prints exactly what the API returns), and the JSON form of a
normalized order (times ISO 8601 with offset, money integer fen). It reads no database: the
API route hands it the published versions' texts (:mod:`engine.orders.preview_routes`).

The region step of a cleaning uses :func:`engine.orders.regions.default_resolver`, imported
when first needed; without it the step is skipped and the body says so in ``notes``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import dsl
from dsl import model as m
from dsl.errors import Diagnostic, RuleError

from .cleaning import CompiledCleaning, Dropped, compile_cleaning
from .mapping import CompiledMapping, compile_mapping
from .ports import NormalizedOrder, RegionResolver

__all__ = ["OrderRules", "RulesInvalid", "RulesText", "UnknownMapping", "order_json",
           "order_rules", "preview_body", "preview_json", "region_resolver"]

CACHE_SIZE = 64
NO_REGIONS_NOTE = ("region normalization skipped: no address data set is installed "
                   "(engine.orders.regions); receiver province/city/district are as mapped")


@dataclass(frozen=True)
class RulesText:
    """One ruleset's content and where it comes from (a file, a draft, a published version)."""

    content: str
    name: str
    fmt: str = "dsl"
    version: int | None = None
    checksum: str | None = None
    filename: str | None = None

    @property
    def sha(self) -> str:
        return self.checksum or "sha256:" + hashlib.sha256(self.content.encode("utf-8")).hexdigest()


class RulesInvalid(Exception):
    """Rules that do not parse or check; ``problems`` are ``{"line", "col", "message", "text"}``
    (plus ``pointer`` for JSON input and ``file``)."""

    def __init__(self, message: str, problems: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems

    def format(self) -> str:
        return "\n".join(p.get("text") or p["message"] for p in self.problems) or self.message


class UnknownMapping(LookupError):
    """No mapping of that name in the rules."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"no mapping {name!r} in the rules (mappings: {', '.join(known) or 'none'})")
        self.name = name
        self.known = list(known)


def _problem(d: Diagnostic) -> dict[str, Any]:
    out: dict[str, Any] = {"file": d.file, "line": d.line, "col": d.col, "message": d.message,
                           "text": d.format()}
    if d.pointer:
        out["pointer"] = d.pointer
    return out


def _parse(text: RulesText) -> m.Ruleset:
    filename = text.filename or f"{text.name}.{'json' if text.fmt == 'json' else 'op'}"
    try:
        return dsl.load_checked(text.content, filename, text.fmt)
    except RuleError as exc:
        raise RulesInvalid(f"the rules have {len(exc.diagnostics)} error(s), first: "
                           f"{exc.first.format().splitlines()[0]}",
                           [_problem(d) for d in exc.diagnostics]) from None


_regions_lock = threading.Lock()
_regions: list[RegionResolver | None] = []


def region_resolver() -> RegionResolver | None:
    """The process's address resolver (``engine.orders.regions.default_resolver()``), or None
    when that module is not installed."""
    with _regions_lock:
        if not _regions:
            try:
                from engine.orders.regions import default_resolver
            except ImportError:
                _regions.append(None)
            else:
                _regions.append(default_resolver())
        return _regions[0]


@dataclass
class OrderRules:
    """Compiled mappings (by name, each with the ruleset that declares it) and one compiled
    cleaning made of every cleaning of the rules, in order."""

    mappings: dict[str, tuple[CompiledMapping, RulesText]]
    cleaning: CompiledCleaning
    has_region_step: bool
    notes: list[str] = field(default_factory=list)

    def mapping(self, name: str) -> tuple[CompiledMapping, RulesText]:
        found = self.mappings.get(name)
        if found is None:
            raise UnknownMapping(name, sorted(self.mappings))
        return found


_cache: OrderedDict[tuple[tuple[str, ...], bool], OrderRules] = OrderedDict()
_cache_lock = threading.Lock()


def order_rules(texts: Iterable[RulesText], *, regions: RegionResolver | None | bool = True
                ) -> OrderRules:
    """Parse, check and compile the mappings and cleanings of ``texts`` (cached by their
    checksums). ``regions``: a resolver, None for no region step, or True for
    :func:`region_resolver`. Raises :class:`RulesInvalid`."""
    texts = list(texts)
    resolver = region_resolver() if regions is True else (regions or None)
    cacheable = regions is True or regions is False or regions is None  # not a resolver handed in
    key = (tuple(f"{t.name}@{t.version}:{t.sha}" for t in texts), resolver is not None)
    if cacheable:
        with _cache_lock:
            cached = _cache.get(key)
            if cached is not None:
                _cache.move_to_end(key)
                return cached
    sources: dict[str, m.SourceDecl] = {}
    parsed: list[tuple[m.Ruleset, RulesText]] = []
    for text in texts:
        ruleset = _parse(text)
        parsed.append((ruleset, text))
        sources.update({d.name: d for d in ruleset.declarations if isinstance(d, m.SourceDecl)})
    mappings: dict[str, tuple[CompiledMapping, RulesText]] = {}
    cleanings: list[m.CleaningDecl] = []
    for ruleset, text in parsed:
        for d in ruleset.declarations:
            if isinstance(d, m.MappingDecl):
                source = sources.get(d.name)
                try:
                    compiled = compile_mapping(d, platform=source.platform if source else None)
                except ValueError as exc:
                    raise RulesInvalid(str(exc), [{"file": text.name, "line": d.line, "col": d.col,
                                                   "message": str(exc)}]) from None
                mappings[d.name] = (compiled, text)
            elif isinstance(d, m.CleaningDecl):
                cleanings.append(d)
    has_region_step = any(isinstance(s, m.NormalizeStep) and s.to == "region"
                          for c in cleanings for s in c.steps)
    rules = OrderRules(mappings, compile_cleaning(cleanings, resolver), has_region_step)
    if has_region_step and resolver is None:
        rules.notes.append(NO_REGIONS_NOTE)
    if cacheable:
        with _cache_lock:
            _cache[key] = rules
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return rules


# --------------------------------------------------------------------------- JSON form


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def order_json(order: NormalizedOrder) -> dict[str, Any]:
    """The JSON form of a normalized order: same keys, times ISO 8601 with offset (UTC),
    money integer fen."""
    out: dict[str, Any] = _json_value(order)
    return out


def preview_body(rules: OrderRules, name: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Map ``payload`` with mapping ``name`` and clean it. Raises
    :class:`~engine.orders.mapping.MappingFailure` or :class:`UnknownMapping`."""
    mapping, text = rules.mapping(name)
    order = mapping.apply(payload)
    cleaned = rules.cleaning.apply(order)
    dropped: Dropped | None = cleaned.dropped
    return {
        "mapping": name,
        "ruleset": {"name": text.name, "version": text.version, "checksum": text.sha},
        "order": order_json(cleaned.order),
        "dropped": None if dropped is None else {"cleaning": dropped.cleaning, "line": dropped.line,
                                                 "rule": dropped.rule},
        "notes": list(rules.notes),
    }


def preview_json(body: Mapping[str, Any]) -> str:
    """The exact JSON text of a preview body (API response and ``orderpulse map --json``)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
