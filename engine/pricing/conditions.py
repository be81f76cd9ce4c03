"""Conditions of a promotion, compiled once per plan with the language's expression compiler.

This module is the single place where the pricing engine turns expressions into callables:
the ``when`` of rules and gifts (scope ``promotion``), ``on lines where`` filters (scope
``line``) and the money expression of ``amount_off``. Compilation is delegated to
:func:`dsl.compiler.compile_condition` / :func:`dsl.compiler.compile_expression` (checked AST →
generated Python → ``compile()``, never ``eval`` of user text); this module adds what the
audit log needs — the canonical text of each condition and a reader for every name it uses —
and turns the language's :class:`~dsl.errors.RuleError` into :class:`PlanError`.

Calling convention (the compiler's): ``fn(subject, ctx)`` where for promotion scope
``subject`` is the order dict and ``ctx`` holds ``current_total``, ``original_total``,
``line_count``, ``item_count`` and ``order``; for line scope ``subject`` is one line. A
missing field or a type mismatch makes the whole expression ``None`` (falsy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dsl import model as m
from dsl.compiler import compile_condition as dsl_compile_condition
from dsl.compiler import compile_expression as dsl_compile_expression
from dsl.errors import RuleError
from dsl.printer import print_expr

__all__ = [
    "MONEY_NAMES",
    "Condition",
    "LineFilter",
    "MoneyExpr",
    "PlanError",
    "compile_condition",
    "compile_line_filter",
    "compile_money",
]

Compiled = Callable[..., Any]

MONEY_NAMES = frozenset({"current_total", "original_total", "red_packet", "unit_price", "amount",
                         "paid_amount"})


class PlanError(ValueError):
    """A promotion that cannot be turned into a pricing plan; ``where`` names the declaration
    element (``tier store_coupon / rule 满300减40``) and ``line``/``col`` its position."""

    def __init__(self, message: str, *, where: str = "", line: int = 0, col: int = 0) -> None:
        self.where = where
        self.line = line
        self.col = col
        location = f"{line}:{col}: " if line else ""
        self.message = f"{location}{where + ': ' if where else ''}{message}"
        super().__init__(self.message)


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled promotion condition: ``test(order, ctx)`` (truthy when it holds), its
    canonical ``text``, and ``inputs(order, ctx)`` → the value of every name it reads."""

    text: str
    test: Compiled
    inputs: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class LineFilter:
    """A compiled ``on lines where`` filter: ``test(line, ctx)``."""

    text: str
    test: Compiled


@dataclass(frozen=True, slots=True)
class MoneyExpr:
    """The amount of ``amount_off``: ``constant`` for a literal, else ``value(order, ctx)``."""

    text: str
    value: Compiled
    constant: int | None


def _plan_error(exc: RuleError, where: str, node: m.Node) -> PlanError:
    d = exc.first
    return PlanError(d.message, where=where, line=d.line or node.line, col=d.col or node.col)


def _names(expr: m.Expr) -> list[m.Name]:
    """The distinct names an expression reads, in order of first appearance."""
    seen: dict[tuple[str, ...], m.Name] = {}
    stack: list[Any] = [expr]
    out: list[m.Name] = []
    while stack:
        node = stack.pop(0)
        if isinstance(node, m.Name):
            if node.path not in seen:
                seen[node.path] = node
                out.append(node)
        elif isinstance(node, (m.Compare, m.Arith)):
            stack[:0] = [node.left, node.right]
        elif isinstance(node, m.BoolOp):
            stack[:0] = list(node.operands)
        elif isinstance(node, (m.Not, m.Neg)):
            stack.insert(0, node.operand)
        elif isinstance(node, m.In):
            stack[:0] = [node.item, node.container]
        elif isinstance(node, (m.Call, m.ListExpr)):
            stack[:0] = list(node.args if isinstance(node, m.Call) else node.items)
    return out


# Names the engine puts in the context of promotion conditions: read them directly.
CONTEXT_NAMES = frozenset({"current_total", "original_total", "line_count", "item_count"})


def _context_reader(key: str) -> Compiled:
    return lambda o, c: c.get(key)


def _inputs_reader(expr: m.Expr, scope: str, where: str) -> Callable[[Any, Any], dict[str, Any]]:
    names = _names(expr)
    if all(len(n.path) == 1 and n.path[0] in CONTEXT_NAMES for n in names):
        keys = tuple(n.path[0] for n in names)
        if len(keys) == 1:
            (key,) = keys
            return lambda o, c: {key: c[key]}
        return lambda o, c: {k: c[k] for k in keys}
    readers: list[tuple[str, Compiled]] = []
    for name in names:
        if len(name.path) == 1 and name.path[0] in CONTEXT_NAMES:
            readers.append((name.dotted, _context_reader(name.path[0])))
            continue
        try:
            readers.append((name.dotted, dsl_compile_expression(name, scope)))
        except RuleError as exc:
            raise _plan_error(exc, where, name) from None
    if len(readers) == 1:
        (k1, f1), = readers
        return lambda o, c: {k1: f1(o, c)}
    if len(readers) == 2:
        (k1, f1), (k2, f2) = readers
        return lambda o, c: {k1: f1(o, c), k2: f2(o, c)}
    frozen = tuple(readers)
    return lambda o, c: {k: f(o, c) for k, f in frozen}


def compile_condition(expr: m.Expr, where: str = "") -> Condition:
    """Compile the ``when`` of a rule or gift (scope ``promotion``)."""
    try:
        fn = dsl_compile_condition(expr, "promotion")
    except RuleError as exc:
        raise _plan_error(exc, where, expr) from None
    return Condition(print_expr(expr), fn, _inputs_reader(expr, "promotion", where))


def compile_line_filter(expr: m.Expr, where: str = "") -> LineFilter:
    """Compile an ``on lines where`` filter (scope ``line``)."""
    try:
        fn = dsl_compile_condition(expr, "line")
    except RuleError as exc:
        raise _plan_error(exc, where, expr) from None
    return LineFilter(print_expr(expr), fn)


def compile_money(expr: m.Expr, where: str = "") -> MoneyExpr:
    """Compile the amount of ``amount_off``: a money literal or an order money field."""
    if isinstance(expr, m.Literal):
        if isinstance(expr.value, bool) or not isinstance(expr.value, int) \
                or expr.unit not in (m.MONEY, m.COUNT):
            raise PlanError(f"amount must be money, got {print_expr(expr)}", where=where,
                            line=expr.line, col=expr.col)
        value = int(expr.value)
        return MoneyExpr(print_expr(expr), lambda o, c: value, value)
    try:
        fn = dsl_compile_expression(expr, "promotion")
    except RuleError as exc:
        raise _plan_error(exc, where, expr) from None
    return MoneyExpr(print_expr(expr), fn, None)
