"""Alert declarations compiled for counting and evaluation. Pure: no Flask, no SQLAlchemy.

An alert's measure is an expression over aggregates (``count(returns where reason == "面料起球")``,
``sum(total of orders) / count(orders)``). Each aggregate becomes a :class:`Series`: the rows of
one event source it keeps (its ``where``), the figure it keeps of each (``of``), its window
(``per``) and its grouping (``per … by FIELD``). A series is named by a digest of exactly these,
so two alerts counting the same thing share one series, and an alert whose measure changes gets
a new one (back-filled once). Counters per (series, window, group) hold the count, the sum, the
minimum and maximum of ``of``; a ``distinct`` series keeps its values. The measure's value for a
window is the expression evaluated over those figures.

Event sources and the records they give (see :mod:`engine.alerts.events`): ``orders`` (each
stored order, counted once at its business creation time), ``returns`` (each after-sales
ticket opened for a platform refund, with its reason, SKU and category), ``order_lines`` (each
line of each stored order, read with the orders: the same source and cursor), ``tickets`` (each
ticket transition, as the state entered), ``shipments`` (each shipment made through us, at its
ship time).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

import dsl
from dsl import model as m
from dsl.printer import print_expr
from engine.alerts.buckets import bucket_start
from engine.alerts.events import line_records

__all__ = ["COLLECTION_SOURCES", "CompiledAlert", "Series", "Stats", "Tally", "compile_alert",
           "group_of", "measure_value", "series_of_alerts"]

COLLECTION_SOURCES = {"orders": "orders", "order_lines": "orders", "returns": "returns", "tickets": "tickets",
                      "shipments": "shipments", "stock": "stock"}
PREVIOUS_NAMES = frozenset({"previous", "change", "change_vs_previous"})


@dataclass(frozen=True)
class Stats:
    """The figures of one series in one window and group."""

    n: int = 0
    total: int = 0
    lo: int | None = None
    hi: int | None = None


EMPTY = Stats()


@dataclass(frozen=True)
class Series:
    """What one aggregate counts: rows of ``source`` for which ``where`` holds, ``of`` kept."""

    key: str
    source: str
    period: str | None
    spec: Mapping[str, Any]
    where: Callable[..., Any] | None = field(compare=False, hash=False)
    of: Callable[..., Any] | None = field(compare=False, hash=False)
    distinct: bool = False
    by: tuple[str, ...] | None = None
    each_line: bool = False  # counts the lines of each order record, not the order

    def records(self, record: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
        """What this series counts of one source record: the record, or each of its lines."""
        return line_records(record) if self.each_line else [record]

    def matches(self, record: Mapping[str, Any]) -> bool:
        return self.where is None or bool(self.where(record))

    def figure(self, record: Mapping[str, Any]) -> Any:
        return None if self.of is None else self.of(record)


@dataclass(frozen=True)
class CompiledAlert:
    """One published alert ready to evaluate."""

    decl: m.AlertDecl
    ruleset: str
    version: int
    series: Mapping[m.Aggregate, Series]
    value_fn: Callable[..., Any]
    condition: Callable[..., Any]
    uses_previous: bool
    channels: Mapping[str, m.ChannelDecl]

    @property
    def name(self) -> str:
        return self.decl.name

    @property
    def period(self) -> str | None:
        """The window (hour, day, week, month); None for a stock level, read as it is now."""
        return self.decl.measure.period

    @property
    def level(self) -> bool:
        return self.decl.measure.period is None

    @property
    def grouped(self) -> bool:
        return self.decl.by is not None


def _aggregates(expr: m.Expr) -> list[m.Aggregate]:
    out: list[m.Aggregate] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, m.Aggregate):
            out.append(node)
            continue
        stack.extend(dsl.checker.expression_children(node))
    return out


def _names(expr: m.Expr) -> set[str]:
    out: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, m.Name):
            out.add(node.path[0])
        stack.extend(dsl.checker.expression_children(node))
    return out


def series_for(node: m.Aggregate, period: str | None, by: m.Name | None) -> Series:
    """The series an aggregate of an alert counts."""
    if node.collection not in COLLECTION_SOURCES:
        raise ValueError(f"{node.collection} are not counted by alerts")
    needs_of = node.func != "count"
    source = COLLECTION_SOURCES[node.collection]
    spec = {"source": source,
            "where": print_expr(node.where) if node.where is not None else None,
            "of": print_expr(node.of) if needs_of and node.of is not None else None,
            "distinct": node.func == "distinct", "period": period,
            "by": by.dotted if by is not None else None}
    if node.collection == "order_lines":  # (other series keep the keys they were published with)
        spec["each"] = "lines"
    key = hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:40]
    where = dsl.compile_expression(node.where, "raw") if node.where is not None else None
    of = dsl.compile_expression(node.of, "raw") if needs_of and node.of is not None else None
    return Series(key, source, period, spec, where, of, node.func == "distinct",
                  by.path if by is not None else None, node.collection == "order_lines")


def compile_alert(decl: m.AlertDecl, *, ruleset: str, version: int,
                  channels: Mapping[str, m.ChannelDecl] | None = None) -> CompiledAlert:
    """Compile a checked alert declaration (raises :class:`dsl.errors.RuleError` or ValueError
    for one the engine cannot run)."""
    series = {node: series_for(node, decl.measure.period, decl.by) for node in _aggregates(decl.measure.value)}
    if not series:
        raise ValueError("the measure has no aggregate")
    value_fn = dsl.compile_expression(decl.measure.value, "alert")
    condition = dsl.compile_condition(decl.when, "alert")
    uses_previous = bool(_names(decl.when) & PREVIOUS_NAMES)
    return CompiledAlert(decl, ruleset, version, series, value_fn, condition, uses_previous, dict(channels or {}))


def series_of_alerts(alerts: Iterable[CompiledAlert]) -> dict[str, Series]:
    """Every series the alerts count (not the stock levels they read), by key."""
    return {s.key: s for a in alerts if not a.level for s in a.series.values()}


@dataclass
class Tally:
    """Figures summed in memory: (series, bucket, group) → count, total, least, most of the
    ``of`` figure, and the distinct values of a ``distinct`` series. A series with a window counts
    a record in the bucket of its time; one without (a stock level) in the bucket ``at``."""

    n: dict[tuple[str, datetime, str], list[Any]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, None, None]))
    members: dict[tuple[str, datetime, str], set[str]] = field(default_factory=lambda: defaultdict(set))

    def add(self, series: Sequence[Series], source_record: Mapping[str, Any], at: datetime) -> None:
        for s in series:
            bucket = bucket_start(at, s.period) if s.period is not None else at
            for record in s.records(source_record):
                if s.matches(record):
                    self._count(s, record, bucket)

    def _count(self, s: Series, record: Mapping[str, Any], bucket: datetime) -> None:
        key = (s.key, bucket, group_of(s, record))
        if s.distinct:
            value = s.figure(record)
            if value is not None:
                self.members[key].add(str(value)[:256])
            return
        slot = self.n[key]
        slot[0] += 1
        figure = s.figure(record)
        if isinstance(figure, int) and not isinstance(figure, bool):
            slot[1] += figure
            slot[2] = figure if slot[2] is None else min(slot[2], figure)
            slot[3] = figure if slot[3] is None else max(slot[3], figure)

    def stats(self) -> dict[tuple[str, datetime, str], Stats]:
        """The figures as :class:`Stats` (a distinct series: how many values)."""
        out = {k: Stats(v[0], v[1], v[2], v[3]) for k, v in self.n.items()}
        out.update({k: Stats(len(v)) for k, v in self.members.items()})
        return out


def group_of(series: Series, record: Mapping[str, Any]) -> str:
    """The group a record counts in ('' when the series is not grouped or the field is empty)."""
    if series.by is None:
        return ""
    value: Any = record
    for seg in series.by:
        value = value.get(seg) if isinstance(value, dict) else None
    return "" if value is None else str(value)[:128]


def _aggregate_value(func: str, stats: Stats) -> Any:
    if func in ("count", "distinct"):
        return stats.n
    if func == "sum":
        return stats.total
    if func == "avg":
        return Fraction(stats.total, stats.n) if stats.n else None
    if func == "min":
        return stats.lo
    if func == "max":
        return stats.hi
    raise ValueError(func)


def measure_value(alert: CompiledAlert, figures: Mapping[str, Stats]) -> Any:
    """The measure of one window and group from each series' figures (missing: no rows)."""

    def aggregate(node: m.Aggregate, _subject: Any) -> Any:
        return _aggregate_value(node.func, figures.get(alert.series[node].key, EMPTY))

    return alert.value_fn({}, {"aggregate": aggregate})
