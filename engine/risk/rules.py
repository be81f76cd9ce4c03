"""Risk rules as decisions: a ``risk`` declaration compiled into the windows it reads and the
decision it takes from the figures of those windows.

Pure: plain Python over the ``dsl`` model, no SQL, no Flask, no clock. The storage edge
(:mod:`engine.risk.windows`) fetches, for each :class:`Dimension` the rules read, the orders
that share the evaluated order's value of that field within the longest window any rule asks
for (an indexed range read, never a scan); this module turns those orders into the figures
(``count``, ``distinct``, ``sum``, ``avg``, ``min``, ``max`` of the orders that are within each
aggregate's own window and pass its ``where``), evaluates each rule's condition over them and
says which rules fire, with the evidence: every figure, the key it was grouped by and the
orders it counted.

Window semantics: an aggregate ``within W`` of order *o* counts the orders whose time *t*
(created, else paid, else version time) satisfies ``t(o) - W < t <= t(o)``, *o* itself
included; without ``within`` every earlier order with the same key counts. An order with no
value for the ``by`` field has no figure: the condition reading it is false (compiled
expressions turn ``None`` comparisons into false).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from fractions import Fraction
from functools import cached_property
from typing import Any

import dsl
from dsl import model as m
from dsl import order_model as om
from dsl.printer import print_expr
from dsl.typing import expression_children

__all__ = [
    "AggregateFigure",
    "CompiledRisk",
    "Dimension",
    "Finding",
    "Neighbour",
    "RiskRuleError",
    "compile_risk",
    "dimensions_of",
    "evaluate",
    "key_value",
    "order_time",
    "value_at",
]

# the longest key value kept as written; longer ones are unusual and are cut (keys are compared
# as text, so a cut keeps equal values equal)
MAX_KEY_CHARS = 128


class RiskRuleError(ValueError):
    """A risk declaration the engine cannot run at intake (``rule`` names it)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"risk {rule}: {message}")
        self.rule = rule
        self.message = message


@dataclass(frozen=True)
class Dimension:
    """Orders grouped by one field (``buyer_phone``, ``customer.device_id``) and the longest
    window any rule reads on it (seconds; None: all time)."""

    path: tuple[str, ...]
    within: int | None

    @cached_property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Neighbour:
    """An order that shares a key with the evaluated order (the evaluated order included)."""

    pk: int
    ref: str
    at: datetime
    doc: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class AggregateFigure:
    """One aggregate's value for one order: what it measured, over which key and which orders."""

    text: str
    value: Any
    by: str
    key: str | None
    within: int | None
    orders: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, Fraction):
            value = float(value) if value.denominator != 1 else int(value)
        return {"measure": self.text, "value": value, "by": self.by, "key": self.key, "within_s": self.within,
                "orders": list(self.orders)}


@dataclass(frozen=True)
class _Agg:
    node: m.Aggregate
    text: str
    of: Callable[..., Any] | None
    where: Callable[..., Any] | None
    # the order fields ``of`` and ``where`` read, when each is a single value (text, money, a
    # time …): the neighbours' figures are read from those fields alone; None: the whole document
    paths: frozenset[tuple[str, ...]] | None = frozenset()
    by: str = ""  # the dimension's name (``buyer_phone``)


@dataclass(frozen=True)
class CompiledRisk:
    """One published risk rule, ready to run."""

    decl: m.RiskDecl
    ruleset: str
    version: int
    condition: Callable[..., Any]
    aggregates: tuple[_Agg, ...]
    channels: Mapping[str, m.ChannelDecl] = field(default_factory=dict)
    # every aggregate node of the condition (by identity: hashing a node walks its whole tree)
    # → its place in ``aggregates`` (two equal nodes share one)
    slots: Mapping[int, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.decl.name

    @property
    def needs_docs(self) -> frozenset[str]:
        """The dimensions whose neighbours' documents are read (an ``of`` or a ``where``)."""
        return frozenset(".".join(a.node.by.path) for a in self.aggregates
                         if a.node.by is not None and (a.of is not None or a.where is not None))

    @property
    def doc_paths(self) -> frozenset[tuple[str, ...]] | None:
        """The order fields the neighbours' figures read; None when one needs the whole document."""
        out: set[tuple[str, ...]] = set()
        for a in self.aggregates:
            if a.paths is None:
                return None
            out |= a.paths
        return frozenset(out)


@dataclass(frozen=True)
class Finding:
    """A rule that fired on an order: its flag, whether it holds, and the figures it saw."""

    rule: CompiledRisk
    figures: tuple[AggregateFigure, ...]

    @property
    def hold(self) -> bool:
        return self.rule.decl.hold

    def evidence(self) -> dict[str, Any]:
        return {"rule": self.rule.name, "flag": self.rule.decl.flag, "hold": self.hold,
                "condition": print_expr(self.rule.decl.when), "figures": [f.as_json() for f in self.figures]}

    def summary(self) -> str:
        """One line a person reads on the timeline: ``风控规则 疑似黄牛：… = 5；… = 3``."""
        parts = "；".join(f"{f.text} = {f.as_json()['value']}" for f in self.figures)
        return f"风控规则 {self.rule.name}（{self.rule.decl.flag}）：{parts}"


def _aggregates(expr: m.Expr) -> list[m.Aggregate]:
    found: list[m.Aggregate] = []
    stack: list[m.Expr] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, m.Aggregate):
            found.append(node)
            continue
        stack.extend(reversed(expression_children(node)))
    return found


def _scalar_paths(exprs: Iterable[m.Expr | None]) -> frozenset[tuple[str, ...]] | None:
    """The order fields the expressions read, when every one is a single value of the order
    model (not a list or an object); None otherwise (read the whole document then)."""
    out: set[tuple[str, ...]] = set()
    stack: list[m.Expr] = [e for e in exprs if e is not None]
    while stack:
        node = stack.pop()
        if isinstance(node, m.Name):
            path = node.path[1:] if node.path[0] == "order" and len(node.path) > 1 else node.path
            kind = om.field_type(om.ORDER_FIELDS, path)
            if kind is None or kind.startswith("list:") or kind in ("any", "object"):
                return None
            out.add(tuple(path))
        stack.extend(expression_children(node))
    return frozenset(out)


def compile_risk(decl: m.RiskDecl, *, ruleset: str, version: int,
                 channels: Mapping[str, m.ChannelDecl] | None = None) -> CompiledRisk:
    """Compile a checked risk declaration. Raises :class:`RiskRuleError` for what intake cannot
    run: an aggregate over returns or tickets (risk rules read orders), or one without
    ``by FIELD`` (a whole-shop rate is an alert's measure, not a property of one order)."""
    aggs: list[_Agg] = []
    seen: set[m.Aggregate] = set()
    for node in _aggregates(decl.when):
        if node in seen:
            continue
        seen.add(node)
        text = print_expr(node)
        if node.collection != "orders":
            raise RiskRuleError(decl.name, f"{text}: risk rules count orders; {node.collection} are measured by "
                                           "alerts")
        if node.by is None:
            raise RiskRuleError(decl.name, f"{text}: a risk aggregate needs 'by FIELD' (the orders sharing "
                                           "this order's value of FIELD)")
        of = dsl.compile_expression(node.of, "order") if node.of is not None else None
        where = dsl.compile_expression(node.where, "order") if node.where is not None else None
        aggs.append(_Agg(node, text, of, where, _scalar_paths((node.of, node.where)), node.by.dotted))
    condition = dsl.compile_condition(decl.when, "risk")
    place = {agg.node: i for i, agg in enumerate(aggs)}
    slots = {id(node): place[node] for node in _aggregates(decl.when)}
    return CompiledRisk(decl, ruleset, version, condition, tuple(aggs), dict(channels or {}), slots)


def dimensions_of(rules: Iterable[CompiledRisk]) -> list[Dimension]:
    """The dimensions the rules read, each with its longest window, sorted by name."""
    longest: dict[tuple[str, ...], int | None] = {}
    for rule in rules:
        for agg in rule.aggregates:
            assert agg.node.by is not None
            path = agg.node.by.path
            within = agg.node.within
            if path not in longest:
                longest[path] = within
            else:
                current = longest[path]
                longest[path] = None if current is None or within is None else max(current, within)
    return [Dimension(p, w) for p, w in sorted(longest.items())]


def value_at(doc: Mapping[str, Any], path: Sequence[str]) -> Any:
    value: Any = doc
    for seg in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(seg)
    return value


def key_value(doc: Mapping[str, Any], path: Sequence[str]) -> str | None:
    """The text an order is grouped by on ``path``; None when it has no usable value."""
    value = value_at(doc, path)
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = str(value).strip()
    return text[:MAX_KEY_CHARS] or None


def order_time(doc: Mapping[str, Any]) -> datetime | None:
    """The time an order is placed in windows: created, else paid, else version time (the store's
    ``created_at`` column follows the same rule)."""
    for name in ("created_at", "paid_at", "updated_at"):
        value = doc.get(name)
        if isinstance(value, datetime):
            return value
        if isinstance(value, str) and value:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                continue
            if parsed.tzinfo is not None:
                return parsed
    return None


def _figure(agg: _Agg, at: datetime, key: str | None, neighbours: Sequence[Neighbour]
            ) -> tuple[AggregateFigure, list[Neighbour]]:
    """One aggregate's figure (its ``orders`` left empty) and the neighbours it counted."""
    node = agg.node
    by = agg.by
    if key is None:
        return AggregateFigure(agg.text, None, by, None, node.within, ()), []
    since = at - timedelta(seconds=node.within) if node.within is not None else None
    counted: list[Neighbour] = []
    values: list[Any] = []
    for n in neighbours:
        if n.at > at or (since is not None and n.at <= since):
            continue
        doc = n.doc or {}
        if agg.where is not None and not agg.where(doc):
            continue
        if agg.of is not None:
            value = agg.of(doc)
            if value is None or value == "":
                continue
            values.append(value)
        counted.append(n)
    func = node.func
    result: Any
    if func == "count":
        result = len(counted)
    elif func == "distinct":
        result = len({_hashable(v) for v in values}) if agg.of is not None else len(counted)
    elif not values:
        result = None
    elif func == "sum":
        result = sum(values)
    elif func == "avg":
        result = Fraction(sum(Fraction(v) for v in values), len(values))
    elif func == "min":
        result = min(values)
    else:
        result = max(values)
    return AggregateFigure(agg.text, result, by, key, node.within, ()), counted


def _with_orders(figure: AggregateFigure, counted: list[Neighbour]) -> AggregateFigure:
    """The figure with the orders it counted, oldest first (evidence of a rule that fired)."""
    return replace(figure, orders=tuple(n.ref for n in sorted(counted, key=lambda n: (n.at, n.pk))))


def _hashable(value: Any) -> Any:
    """A value ``distinct`` can count: a list or an object by its content."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return value


def evaluate(rules: Sequence[CompiledRisk], order: Mapping[str, Any], at: datetime,
             windows: Mapping[str, tuple[str | None, Sequence[Neighbour]]]) -> list[Finding]:
    """The rules that fire on ``order`` (placed at ``at``), given for each dimension name its key
    for this order and the orders sharing it (at least the longest window the rules read)."""
    findings = []
    for rule in rules:
        figures: list[tuple[AggregateFigure, list[Neighbour]] | None] = [None] * len(rule.aggregates)

        def figure(slot: int, rule: CompiledRisk = rule,
                   figures: list[tuple[AggregateFigure, list[Neighbour]] | None] = figures
                   ) -> tuple[AggregateFigure, list[Neighbour]]:
            found = figures[slot]
            if found is None:  # computed when the condition reads it (``and`` stops at the first false)
                agg = rule.aggregates[slot]
                key, neighbours = windows.get(agg.by, (None, ()))
                found = figures[slot] = _figure(agg, at, key, neighbours)
            return found

        def aggregate(node: m.Aggregate, _order: Any, figure: Any = figure, slots: Mapping[int, int] = rule.slots
                      ) -> Any:
            return figure(slots[id(node)])[0].value

        if rule.condition(order, {"aggregate": aggregate}) is True:
            findings.append(Finding(rule, tuple(_with_orders(*figure(i)) for i in range(len(rule.aggregates)))))
    return findings
