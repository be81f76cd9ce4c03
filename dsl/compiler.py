"""Checked expressions → Python functions.

This module owns code generation: Python source is produced only from known model node
types (names become constant subscripts, literals their ``repr``, functions come from a fixed
whitelist), then ``compile()``d once. User text is never ``eval``-ed, no attribute access is
generated, and there are no loops beyond projecting a declared list field. Every expression is
checked first (:mod:`dsl.typing`), which bounds its size and depth.

A compiled function is ``fn(subject, ctx=None)``:
- scope ``order``/``promotion``/``risk``: ``subject`` is the normalized order (dict); context
  names (``current_total``, ``original_total`` …) come from ``ctx``;
- scope ``line``: ``subject`` is one order line; ``order.x`` reads ``ctx["order"]``;
- scope ``machine``: ``subject`` is the ticket data; ``payload.x`` reads ``ctx["payload"]``,
  ``order.x`` ``ctx["order"]``, ticket names (``id``, ``state``) ``ctx``;
- scope ``alert``: ``value``/``change_vs_previous`` … come from ``ctx``;
- scope ``raw``: ``subject`` is a platform payload; every path is read leniently;
- scope ``follow``/``refund`` (``follow`` declarations): ``subject`` is the stored order, read
  leniently (a missing optional field is None); ``refund.x`` reads ``ctx["refund"]``.
A missing field, a type mismatch in data or a division by zero yields ``None`` (falsy).
Aggregates call ``ctx["aggregate"](node, subject)``, supplied by the engine's store.
Money is fen, percents basis points (``money * percent`` rounds half up to the fen).
"""

from __future__ import annotations

import datetime as _dt
import types
from fractions import Fraction
from typing import Any, Callable

from . import conversions as cv
from . import model as m
from . import order_model as om
from .errors import RuleError
from .parser import parse_expression
from .typing import (
    ALERT_SCOPE,
    FOLLOW_SCOPE,
    LINE_SCOPE,
    ORDER_SCOPE,
    PROMOTION_SCOPE,
    RAW_SCOPE,
    REFUND_SCOPE,
    RISK_SCOPE,
    ExpressionTyper,
    Scope,
)

__all__ = ["compile_condition", "compile_expression", "CompiledExpression", "ExpressionGenerator",
           "FUNCTION_IMPLS", "map_table_lookup"]

CompiledExpression = Callable[..., Any]

_CAUGHT = "(KeyError, IndexError, TypeError, ZeroDivisionError, AttributeError, ValueError)"


# --------------------------------------------------------------------------- runtime helpers


def _concat(*parts: Any) -> str:
    return "".join("" if p is None else str(p) for p in parts)


def _mask_phone(value: str) -> str:
    s = str(value)
    return s[:3] + "****" + s[-4:] if len(s) >= 7 else s


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _hours_since(t: _dt.datetime) -> Fraction:
    delta = _now() - t
    return Fraction(int(delta.total_seconds()), 3600)


def _yuan_to_fen(value: Any) -> int:
    frac = Fraction(str(value))
    return int((frac * 100 + Fraction(1, 2)) // 1)


def _sum(values: Any) -> Any:
    return sum(values)


FUNCTION_IMPLS: dict[str, Callable[..., Any]] = {
    "count": len,
    "sum": _sum,
    "distinct": lambda values: len(set(values)),
    "len": len,
    "concat": _concat,
    "from_unix": cv.from_unix,
    "from_iso": cv.from_iso,
    "lower": lambda s: str(s).lower(),
    "upper": lambda s: str(s).upper(),
    "trim": lambda s: str(s).strip(),
    "mask_phone": _mask_phone,
    "contains": lambda s, part: str(part) in str(s),
    "starts_with": lambda s, part: str(s).startswith(str(part)),
    "ends_with": lambda s, part: str(s).endswith(str(part)),
    "min": min,
    "max": max,
    "abs": abs,
    "now": _now,
    "hours_since": _hours_since,
    "to_text": lambda v: "" if v is None else str(v),
    "to_int": cv.whole_number,
    "yuan_to_fen": _yuan_to_fen,
    "yuan": cv.yuan,
    "fen": cv.fen,
    "from_unix_ms": cv.from_unix_ms,
    "from_shanghai": cv.from_shanghai,
    "coalesce": cv.coalesce,
    "present": cv.present,
}
assert set(FUNCTION_IMPLS) == set(om.FUNCTIONS)


def map_table_lookup(table: m.MapTable) -> dict[Any, Any]:
    """A ``map`` table as a dict for ``.get``: a whole-number key also matches its text and a
    text key of digits its number, since platforms send codes either way (``2`` / ``"2"``)."""
    out: dict[Any, Any] = {}
    for ent in table.entries:
        key, value = ent.key.value, ent.value.value
        out[key] = value
        if isinstance(key, int) and not isinstance(key, bool):
            out.setdefault(str(key), value)
        elif isinstance(key, str) and key.isdigit() and key.isascii():
            out.setdefault(int(key), value)
    return out


def _apply_percent(amount: int, basis_points: int) -> int:
    """``amount * basis_points / 10000`` rounded half up (exact integers)."""
    num = amount * basis_points
    q, r = divmod(abs(num), 10000)
    if r * 2 >= 10000:
        q += 1
    return q if num >= 0 else -q


def _divide(a: Any, b: Any, whole: bool) -> Any:
    if whole:
        f = Fraction(a) / Fraction(b)
        return int((f + Fraction(1, 2)) // 1)
    return Fraction(a) / Fraction(b)


def _project(items: Any, path: tuple[str, ...]) -> list[Any]:
    out = []
    for item in items or ():
        value = item
        for seg in path:
            value = value[seg]
        out.append(value)
    return out


def _lenient(subject: Any, path: tuple[str, ...]) -> Any:
    value = subject
    for seg in path:
        if isinstance(value, dict):
            value = value.get(seg)
        elif isinstance(value, list) and seg.isdigit() and int(seg) < len(value):
            value = value[int(seg)]
        else:
            return None
    return value


# --------------------------------------------------------------------------- code generation

_SCOPES: dict[str, Scope] = {"order": ORDER_SCOPE, "promotion": PROMOTION_SCOPE,
                             "line": LINE_SCOPE, "risk": RISK_SCOPE, "alert": ALERT_SCOPE,
                             "raw": RAW_SCOPE, "follow": FOLLOW_SCOPE, "refund": REFUND_SCOPE}


class _Generator:
    def __init__(self, scope_name: str, scope: Scope, checker: ExpressionTyper,
                 data_fields: dict[str, str]) -> None:
        self.scope_name = scope_name
        self.scope = scope
        self.checker = checker
        self.data_fields = data_fields
        self.consts: dict[str, Any] = {}

    def const(self, value: Any) -> str:
        name = f"K{len(self.consts)}"
        self.consts[name] = value
        return name

    @staticmethod
    def _subscripts(base: str, path: tuple[str, ...]) -> str:
        return base + "".join(f"[{seg!r}]" for seg in path)

    def _walk(self, base: str, path: tuple[str, ...], tree: om.FieldTree | None) -> str:
        """Subscripts along ``path``; a list of objects on the way becomes a projection."""
        node: Any = tree
        for i, seg in enumerate(path):
            if isinstance(node, dict) and "[]" in node:
                rest = path[i:]
                return f"P({base}, {self.const(rest)})"
            base = f"{base}[{seg!r}]"
            node = node.get(seg) if isinstance(node, dict) else None
        return base

    def name(self, n: m.Name) -> str:
        path = n.path
        head = path[0]
        s = self.scope_name
        if s == "raw":
            return f"L(o, {self.const(path)})"
        if s in ("follow", "refund"):  # a stored order may lack optional fields: read leniently
            if s == "refund" and head == "refund":
                return f"L(c.get('refund'), {self.const(path[1:])})"
            return f"L(o, {self.const(path[1:] if head == 'order' and len(path) > 1 else path)})"
        if s == "machine":
            if head == "payload":
                return f"L(c.get('payload'), {self.const(path[1:])})"
            if head == "order" and len(path) > 1:
                return self._walk("c['order']", path[1:], om.ORDER_FIELDS)
            if head in self.data_fields:
                return f"o.get({head!r})" if len(path) == 1 else self._subscripts("o", path)
            return self._subscripts("c", path)
        if s == "line":
            if head == "order" and len(path) > 1:
                return self._walk("c['order']", path[1:], om.ORDER_FIELDS)
            if head == "line" and len(path) > 1:
                return self._walk("o", path[1:], om.LINE_FIELDS)
            if head in om.LINE_FIELDS:
                return self._walk("o", path, om.LINE_FIELDS)
            return self._subscripts("c", path)
        if s == "alert":
            return self._subscripts("c", path)
        if head == "order" and len(path) > 1:
            return self._walk("o", path[1:], om.ORDER_FIELDS)
        if s == "promotion" and head in om.PROMOTION_CONTEXT:
            return self._subscripts("c", path)
        return self._walk("o", path, om.ORDER_FIELDS)

    def type_of(self, e: m.Expr) -> str:
        return self.checker.infer(e, self.scope)

    def expr(self, e: m.Expr) -> str:  # noqa: C901 - one branch per node kind
        if isinstance(e, m.Literal):
            if isinstance(e.value, bool) or isinstance(e.value, (int, str)):
                return repr(e.value)
            raise TypeError("bad literal")  # pragma: no cover
        if isinstance(e, m.Name):
            return self.name(e)
        if isinstance(e, m.BoolOp):
            joiner = " and " if e.op == "and" else " or "
            return "(" + joiner.join(self.expr(o) for o in e.operands) + ")"
        if isinstance(e, m.Not):
            return f"(not {self.expr(e.operand)})"
        if isinstance(e, m.Compare):
            if e.op not in ("==", "!=", "<", "<=", ">", ">="):
                raise TypeError("bad operator")  # pragma: no cover
            return f"({self.expr(e.left)} {e.op} {self.expr(e.right)})"
        if isinstance(e, m.In):
            container = e.container
            if isinstance(container, m.ListExpr) and all(
                    isinstance(i, m.Literal) for i in container.items):
                ref = self.const(frozenset(i.value for i in container.items))  # type: ignore[union-attr]
            else:
                ref = self.expr(container)
            op = "not in" if e.negated else "in"
            return f"({self.expr(e.item)} {op} {ref})"
        if isinstance(e, m.Arith):
            left, right = self.expr(e.left), self.expr(e.right)
            if e.op in ("+", "-"):
                return f"({left} {e.op} {right})"
            lt, rt = self.type_of(e.left), self.type_of(e.right)
            if e.op == "*":
                if lt == "percent" and rt != "percent":
                    return f"R({right}, {left})"
                if rt == "percent" and lt != "percent":
                    return f"R({left}, {right})"
                return f"({left} * {right})"
            whole = lt in ("money", "duration") and rt not in ("money", "duration")
            return f"D({left}, {right}, {whole!r})"
        if isinstance(e, m.Neg):
            return f"(-{self.expr(e.operand)})"
        if isinstance(e, m.Call):
            if e.func not in FUNCTION_IMPLS:
                raise RuleError.at("<expr>", "", e.line, e.col, f"unknown function '{e.func}'")
            ref = self.const(FUNCTION_IMPLS[e.func])
            return f"{ref}({', '.join(self.expr(a) for a in e.args)})"
        if isinstance(e, m.ListExpr):
            return "(" + "".join(f"{self.expr(i)}, " for i in e.items) + ")"
        if isinstance(e, m.MapTable):
            table = self.const(map_table_lookup(e))
            if e.default is None:
                return f"{table}.get({self.expr(e.source)})"
            return f"{table}.get({self.expr(e.source)}, {e.default.value!r})"
        if isinstance(e, m.Each):
            inner = _Generator("raw", RAW_SCOPE, self.checker, {})
            inner.consts = self.consts
            fields = ", ".join(
                f"{'.'.join(f.target)!r}: {inner.expr(f.value).replace('L(o,', 'L(x,')}"
                for f in e.fields)
            where = ""
            if e.where is not None:
                where = f" if {inner.expr(e.where).replace('L(o,', 'L(x,')}"
            return f"[{{{fields}}} for x in ({self.expr(e.source)} or ()){where}]"
        if isinstance(e, m.Aggregate):
            return f"c['aggregate']({self.const(e)}, o)"
        raise TypeError(f"cannot compile {type(e).__name__}")  # pragma: no cover


#: the code generator, for runners that compile a whole declaration (engine.orders.mapping)
ExpressionGenerator = _Generator


def compile_expression(expr: m.Expr | str, scope: str = "promotion", *,
                       data_fields: dict[str, str] | None = None,
                       filename: str = "<expr>") -> CompiledExpression:
    """Check and compile one expression (model node or DSL text) into ``fn(subject, ctx=None)``.

    ``scope`` is one of order, promotion, line, machine, risk, alert, raw; ``data_fields`` are a
    machine's declared data (name → type) for the machine scope. Raises :class:`RuleError`."""
    text = expr if isinstance(expr, str) else ""
    node = parse_expression(expr, filename) if isinstance(expr, str) else expr
    if scope == "machine":
        fields: om.FieldTree = dict(data_fields or {})
        sc = Scope((fields, om.TICKET_CONTEXT), (("payload", "any"), ("order", om.ORDER_FIELDS)))
    elif scope in _SCOPES:
        sc = _SCOPES[scope]
    else:
        raise ValueError(f"unknown scope {scope!r}")
    checker = ExpressionTyper(m.Ruleset((), filename=filename, text=text))
    checker.expression(node, sc)
    if checker.diagnostics:
        raise RuleError(checker.diagnostics)
    gen = _Generator(scope, sc, checker, dict(data_fields or {}))
    body = gen.expr(node)
    source = (f"def compiled_expression(o, c=None):\n"
              f"    try:\n"
              f"        return {body}\n"
              f"    except {_CAUGHT}:\n"
              f"        return None\n")
    namespace: dict[str, Any] = {"__builtins__": {"KeyError": KeyError, "IndexError": IndexError,
                                                  "TypeError": TypeError,
                                                  "ZeroDivisionError": ZeroDivisionError,
                                                  "AttributeError": AttributeError,
                                                  "ValueError": ValueError,
                                                  "frozenset": frozenset},
                                 "P": _project, "L": _lenient, "R": _apply_percent,
                                 "D": _divide, **gen.consts}
    module_code = compile(source, f"<{filename}>", "exec")
    function_code = next(c for c in module_code.co_consts if isinstance(c, types.CodeType))
    fn: CompiledExpression = types.FunctionType(function_code, namespace,
                                                "compiled_expression", (None,))
    fn.source = source  # type: ignore[attr-defined]
    return fn


def compile_condition(expr: m.Expr | str, scope: str = "promotion", *,
                      data_fields: dict[str, str] | None = None,
                      filename: str = "<expr>") -> CompiledExpression:
    """Like :func:`compile_expression`, for a condition: refuses a non-bool expression."""
    node = parse_expression(expr, filename) if isinstance(expr, str) else expr
    fn = compile_expression(node, scope, data_fields=data_fields, filename=filename)
    if scope != "raw":
        sc = (_SCOPES.get(scope) or
              Scope((dict(data_fields or {}), om.TICKET_CONTEXT),
                    (("payload", "any"), ("order", om.ORDER_FIELDS))))
        checker = ExpressionTyper(m.Ruleset((), filename=filename,
                                     text=expr if isinstance(expr, str) else ""))
        checker.expression(node, sc, "bool")
        if checker.diagnostics:
            raise RuleError(checker.diagnostics)
    return fn
