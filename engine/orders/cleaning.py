"""Runs ``cleaning`` declarations over mapped orders: region and phone normalization, ``set``
steps and ``drop when`` rules.

This module owns :func:`compile_cleaning` (every published cleaning, in declaration order,
compiled once into a :class:`CompiledCleaning`), :func:`normalize_phone` and
:func:`normalize_text`. It is pure: no Flask, no SQLAlchemy, no I/O; addresses are resolved by
the :class:`~engine.orders.ports.RegionResolver` handed in (none: the region step is skipped).

What each step does:

- ``normalize receiver.address to region``: the resolver reads the address text together with
  the structured province/city/district the platform gave, and the step writes the official
  current ``province``, ``city``, ``district``, the district's ``adcode`` and its centroid
  ``lat``/``lng`` next to the address (in ``receiver``). An address the resolver cannot place
  is left as it came.
- ``normalize … to phone``: ``+86``/``0086``/``86`` prefixes, spaces, dashes, dots, brackets and
  full-width digits go; a mainland mobile becomes its 11 digits. Masked forms (``138****5678``,
  the platforms' privacy forms) and anything that is not a mobile number are kept as given.
- ``normalize … to text``: full-width forms folded (NFKC), runs of blanks made one space, ends
  trimmed.
- ``set target = value [when cond]``: the value computed on the order as it stands then.
- ``drop when cond``: the first rule that holds marks the order dropped, with the cleaning's
  name, the rule's line and its text; later steps still normalize it (a dropped order is kept
  and shown, never deleted) and later drop rules are not asked.

Steps run in order on a copy: the order handed in is never changed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dsl import model as m
from dsl.compiler import compile_condition, compile_expression
from dsl.printer import print_expr

from .ports import NormalizedOrder, RegionResolver

__all__ = ["Cleaned", "CompiledCleaning", "Dropped", "compile_cleaning", "normalize_phone",
           "normalize_text"]

_SEPARATORS = re.compile(r"[\s\-.()（）]+")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_BLANKS = re.compile(r"\s+")


@dataclass(frozen=True)
class Dropped:
    """Why an order was dropped: the cleaning, the line of its ``drop when`` rule (0 for rules
    loaded from JSON) and the rule's condition as DSL text."""

    cleaning: str
    line: int
    rule: str


@dataclass
class Cleaned:
    """A cleaned order and, when a ``drop when`` rule held, why it is dropped."""

    order: NormalizedOrder
    dropped: Dropped | None = None


def normalize_phone(value: Any) -> Any:
    """``+86 139-1234-5678`` / ``0086 13912345678`` / ``１３９１２３４５６７８`` →
    ``13912345678``; masked and non-mobile numbers as given (trimmed)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        return value
    text = unicodedata.normalize("NFKC", value).strip()
    if "*" in text:
        return value
    digits = _SEPARATORS.sub("", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if _MOBILE.fullmatch(digits) else text


def normalize_text(value: Any) -> Any:
    """Full-width forms folded, blanks collapsed, ends trimmed; non-text as given."""
    if not isinstance(value, str):
        return value
    return _BLANKS.sub(" ", unicodedata.normalize("NFKC", value)).strip()


# --------------------------------------------------------------------------- nested access


def _copy_objects(order: dict[str, Any]) -> dict[str, Any]:
    """A copy of the order's nested objects (steps write into objects only; lists such as
    ``lines`` are replaced whole by ``set``, never changed in place)."""
    return {k: _copy_objects(v) if isinstance(v, dict) else v for k, v in order.items()}


def _get(order: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = order
    for seg in path:
        if not isinstance(value, dict):
            return None
        value = value.get(seg)
    return value


def _parent(order: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """The dict that holds ``path[-1]``, created where missing (the order is a private copy)."""
    node = order
    for seg in path[:-1]:
        child = node.get(seg)
        if not isinstance(child, dict):
            child = {}
            node[seg] = child
        node = child
    return node


# --------------------------------------------------------------------------- steps

_Step = Callable[[dict[str, Any]], "Dropped | None"]


def _normalize_step(step: m.NormalizeStep, regions: RegionResolver | None) -> _Step | None:
    target = step.target
    if step.to == "phone" or step.to == "text":
        fn = normalize_phone if step.to == "phone" else normalize_text

        def normalize(order: dict[str, Any]) -> Dropped | None:
            value = _get(order, target)
            if value is not None:
                _parent(order, target)[target[-1]] = fn(value)
            return None
        return normalize
    if regions is None:
        return None
    resolver = regions

    def to_region(order: dict[str, Any]) -> Dropped | None:
        holder = _get(order, target[:-1]) if len(target) > 1 else order
        if not isinstance(holder, dict):
            return None
        text = holder.get(target[-1])
        province, city, district = holder.get("province"), holder.get("city"), holder.get("district")
        if not isinstance(text, str) or not text:
            text = "".join(p for p in (province, city, district) if isinstance(p, str))
        if not text:
            return None
        region = resolver.resolve(text, province=province if isinstance(province, str) else None,
                                  city=city if isinstance(city, str) else None,
                                  district=district if isinstance(district, str) else None)
        if region is not None:
            holder.update(province=region.province, city=region.city, district=region.district,
                          adcode=region.adcode, lat=region.lat, lng=region.lng)
        return None
    return to_region


def _drop_step(step: m.DropStep, cleaning: str) -> _Step:
    condition = compile_condition(step.when, "order")
    dropped = Dropped(cleaning, step.line, print_expr(step.when))

    def drop(order: dict[str, Any]) -> Dropped | None:
        return dropped if condition(order) else None
    return drop


def _set_step(step: m.SetStep) -> _Step:
    value = compile_expression(step.value, "order")
    when = compile_condition(step.when, "order") if step.when is not None else None
    target = step.target

    def set_value(order: dict[str, Any]) -> Dropped | None:
        if when is None or when(order):
            result = value(order)
            # a list literal compiles to a tuple; the order holds lists
            _parent(order, target)[target[-1]] = list(result) if isinstance(result, tuple) else result
        return None
    return set_value


class CompiledCleaning:
    """Every published cleaning as one sequence of steps; ``apply(order)`` → :class:`Cleaned`.
    ``region_step`` says whether a region step runs (False when no resolver was given)."""

    def __init__(self, steps: list[tuple[bool, _Step]], *, region_step: bool) -> None:
        self._steps = steps
        self.region_step = region_step

    def apply(self, order: NormalizedOrder) -> Cleaned:
        cleaned = _copy_objects(order)
        dropped: Dropped | None = None
        for is_drop, step in self._steps:
            if is_drop and dropped is not None:
                continue
            outcome = step(cleaned)
            if outcome is not None:
                dropped = outcome
        return Cleaned(cleaned, dropped)


def compile_cleaning(decls: Sequence[m.CleaningDecl], regions: RegionResolver | None
                     ) -> CompiledCleaning:
    """Compile checked cleanings (applied in the order given). ``regions`` resolves addresses
    for ``normalize … to region``; None skips that step. Raises :class:`dsl.RuleError` for a
    declaration the checker would refuse."""
    steps: list[tuple[bool, _Step]] = []
    region_step = False
    for decl in decls:
        for step in decl.steps:
            if isinstance(step, m.NormalizeStep):
                compiled = _normalize_step(step, regions)
                if compiled is not None:
                    region_step = region_step or step.to == "region"
                    steps.append((False, compiled))
            elif isinstance(step, m.DropStep):
                steps.append((True, _drop_step(step, decl.name)))
            else:
                steps.append((False, _set_step(step)))
    return CompiledCleaning(steps, region_step=region_step)
