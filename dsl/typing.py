"""Expression typing: names resolved against the order model and a declaration's scope, types
and units inferred, operators and functions checked, expression size and depth bounded.

:class:`ExpressionTyper` reports problems as :class:`dsl.errors.Diagnostic` (file:line:col and
a "did you mean" suggestion for unknown names); the per-declaration checks
(:mod:`dsl.checker`, :mod:`dsl.machine_checks`) build on it. :func:`check_expression` types one
expression alone (for the compiler and the API). It never evaluates user expressions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from . import model as m
from . import order_model as om
from .errors import Diagnostic, source_line_at

__all__ = ["ExpressionTyper", "Scope", "check_expression", "expression_children", "suggest", "unit_name",
           "MAX_EXPR_DEPTH", "MAX_EXPR_NODES", "ORDER_SCOPE", "PROMOTION_SCOPE", "LINE_SCOPE", "RAW_SCOPE",
           "RISK_SCOPE", "ALERT_SCOPE", "MEASURE_SCOPE", "HOOK_SCOPE", "FOLLOW_SCOPE", "REFUND_SCOPE",
           "COLLECTION_FIELDS"]

MAX_EXPR_DEPTH = 64
MAX_EXPR_NODES = 5000


def suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def unit_name(t: str) -> str:
    if t == "zero":
        return "count"
    el = om.element_of(t)
    return f"list of {unit_name(el)}" if el else t


@dataclass
class Scope:
    """Where names in one expression come from.

    ``roots`` are field trees searched in order for a bare name; ``prefixes`` maps a first
    segment (``order``, ``payload``) to a tree, or to "any" for untyped payloads.
    ``raw`` scopes (mapping values) accept every path as untyped input."""

    roots: tuple[om.FieldTree, ...] = ()
    prefixes: tuple[tuple[str, om.FieldTree | str], ...] = ()
    raw: bool = False
    aggregates: bool = False
    what: str = "field"


ORDER_SCOPE = Scope((om.ORDER_FIELDS,), (("order", om.ORDER_FIELDS),))
PROMOTION_SCOPE = Scope((om.PROMOTION_CONTEXT, om.ORDER_FIELDS), (("order", om.ORDER_FIELDS),))
LINE_SCOPE = Scope((om.LINE_FIELDS, om.PROMOTION_CONTEXT),
                   (("line", om.LINE_FIELDS), ("order", om.ORDER_FIELDS)))
RAW_SCOPE = Scope(raw=True)
RISK_SCOPE = Scope((om.ORDER_FIELDS,), (("order", om.ORDER_FIELDS),), aggregates=True)
ALERT_SCOPE = Scope((om.ALERT_CONTEXT,), aggregates=True)
MEASURE_SCOPE = Scope((), aggregates=True)
HOOK_SCOPE = Scope((), (("payload", "any"), ("headers", "any")))
# ``follow … for orders``: the order's fields; ``follow … for refunds``: also ``refund.*``
FOLLOW_SCOPE = Scope((om.ORDER_FIELDS,), (("order", om.ORDER_FIELDS),))
REFUND_SCOPE = Scope((om.ORDER_FIELDS,), (("order", om.ORDER_FIELDS), ("refund", om.REFUND_FIELDS_OF_ORDER)))
COLLECTION_FIELDS: dict[str, om.FieldTree] = {"orders": om.ORDER_FIELDS,
                                              "order_lines": om.SOLD_LINE_FIELDS,
                                              "returns": om.RETURN_FIELDS,
                                              "tickets": om.TICKET_CONTEXT,
                                              "shipments": om.SHIPMENT_FIELDS,
                                              "stock": om.STOCK_FIELDS}


def _tree_type(node: om.FieldTree | str) -> str:
    if isinstance(node, str):
        return node
    if "[]" in node:
        return "list:object"
    return "object"


class ExpressionTyper:
    """Types expressions of one ruleset and collects the problems found."""

    def __init__(self, ruleset: m.Ruleset) -> None:
        self.ruleset = ruleset
        self.diagnostics: list[Diagnostic] = []

    # ------------------------------------------------------------------ reporting
    def error(self, node: m.Node | m.Loc | None, message: str, code: str = "check") -> None:
        """Report at ``node`` (or at one word of it: ``node.loc(field, index)``)."""
        rs = self.ruleset
        if node is not None and node.line:
            self.diagnostics.append(Diagnostic(rs.filename, node.line, node.col, message,
                                               source_line_at(rs.text, node.line), code=code))
        else:
            pointer = node.pointer if node is not None else ""
            self.diagnostics.append(Diagnostic(rs.filename, 0, 0, message, pointer=pointer,
                                               code=code))

    # ------------------------------------------------------------------ names
    def resolve(self, name: m.Name, scope: Scope) -> str:
        path = name.path
        for seg in path:
            if seg.startswith("_"):
                self.error(name, f"'{name.dotted}' is not allowed: names may not start with '_'",
                           code="forbidden")
                return "error"
        if scope.raw:
            return "any"
        for prefix, tree in scope.prefixes:
            if path[0] == prefix and len(path) > 1:
                if tree == "any":
                    return "any"
                return self._walk(name, path[1:], tree, prefix + ".")  # type: ignore[arg-type]
        for tree in scope.roots:
            if path[0] in tree:
                return self._walk(name, path, tree, "")
        candidates = [k for tree in scope.roots for k in tree if k != "[]"]
        candidates += [p for p, _ in scope.prefixes]
        self.error(name, f"unknown {scope.what} '{name.dotted}'"
                         f"{suggest(path[0], candidates)}", code="unknown-name")
        return "error"

    def _walk(self, name: m.Name, path: tuple[str, ...], tree: om.FieldTree, done: str) -> str:
        node: om.FieldTree | str = tree
        listed = False
        walked = done
        for seg in path:
            if isinstance(node, dict) and "[]" in node:
                node = node["[]"]
                listed = True
            if not isinstance(node, dict) or node.get(seg) is None:
                if isinstance(node, dict):
                    suggestion = suggest(seg, [k for k in node if k != "[]"])
                    if suggestion:
                        suggestion = suggestion.replace("'", f"'{walked}", 1)
                    self.error(name, f"unknown field '{name.dotted}'{suggestion}",
                               code="unknown-name")
                else:
                    self.error(name, f"'{walked.rstrip('.')}' is {unit_name(node)} and has "
                                     f"no field '{seg}'", code="unknown-name")
                return "error"
            node = node[seg]
            walked += seg + "."
        t = _tree_type(node)
        return om.list_of(t) if listed and not t.startswith("list:") else t

    # ------------------------------------------------------------------ expressions
    def expression(self, expr: m.Expr | None, scope: Scope, want: str | None = None,
                   what: str = "condition") -> str:
        """Check one expression; report when its type is not ``want`` (bool/money/...)."""
        if expr is None:
            return "none"
        if not self._bounded(expr):
            return "error"
        t = self.infer(expr, scope)
        if want and t not in ("error", "any") and not self._compatible(t, want):
            self.error(expr, f"{what} must be {want}, got {unit_name(t)}", code="type")
        return t

    def _bounded(self, expr: m.Expr) -> bool:
        stack: list[tuple[m.Expr, int]] = [(expr, 1)]
        count = 0
        while stack:
            node, depth = stack.pop()
            count += 1
            if depth > MAX_EXPR_DEPTH:
                self.error(expr, f"expression nests deeper than {MAX_EXPR_DEPTH} levels",
                           code="limit")
                return False
            if count > MAX_EXPR_NODES:
                self.error(expr, f"expression is too large (more than {MAX_EXPR_NODES} parts)",
                           code="limit")
                return False
            for child in _children(node):
                stack.append((child, depth + 1))
        return True

    @staticmethod
    def _compatible(a: str, b: str) -> bool:
        if a == b or "any" in (a, b) or "error" in (a, b):
            return True
        if "zero" in (a, b):
            other = b if a == "zero" else a
            return other in om.NUMERIC or other == "zero"
        if {a, b} == {"count", "number"}:
            return True
        ea, eb = om.element_of(a), om.element_of(b)
        if ea and eb:
            return ExpressionTyper._compatible(ea, eb) or "object" in (ea, eb)
        return False

    def infer(self, e: m.Expr, scope: Scope) -> str:  # noqa: C901 - one branch per node kind
        if isinstance(e, m.Literal):
            if e.unit == m.COUNT and e.value == 0:
                return "zero"
            return e.unit
        if isinstance(e, m.Name):
            return self.resolve(e, scope)
        if isinstance(e, m.BoolOp):
            for o in e.operands:
                t = self.infer(o, scope)
                if t not in ("bool", "any", "error"):
                    self.error(o, f"'{e.op}' needs conditions, got {unit_name(t)}", code="type")
            return "bool"
        if isinstance(e, m.Not):
            t = self.infer(e.operand, scope)
            if t not in ("bool", "any", "error"):
                self.error(e.operand, f"'not' needs a condition, got {unit_name(t)}",
                           code="type")
            return "bool"
        if isinstance(e, m.Compare):
            lt, rt = self.infer(e.left, scope), self.infer(e.right, scope)
            if not self._compatible(lt, rt):
                self.error(e, f"cannot compare {unit_name(lt)} with {unit_name(rt)}",
                           code="unit")
            elif e.op not in ("==", "!=") and "error" not in (lt, rt):
                for t in (lt, rt):
                    if t in ("bool", "object") or t.startswith("list:"):
                        self.error(e, f"'{e.op}' cannot order {unit_name(t)} values",
                                   code="type")
                        break
            return "bool"
        if isinstance(e, m.In):
            it, ct = self.infer(e.item, scope), self.infer(e.container, scope)
            el = om.element_of(ct)
            if ct in ("any", "error"):
                return "bool"
            if ct == "text":
                if it not in ("text", "any", "error"):
                    self.error(e, f"'in' on text needs text, got {unit_name(it)}", code="type")
            elif el is None:
                self.error(e.container, f"'in' needs a list or text, got {unit_name(ct)}",
                           code="type")
            elif not self._compatible(it, el) and el != "object":
                self.error(e, f"cannot look for {unit_name(it)} in a list of {unit_name(el)}",
                           code="unit")
            return "bool"
        if isinstance(e, m.Arith):
            return self._arith(e, self.infer(e.left, scope), self.infer(e.right, scope))
        if isinstance(e, m.Neg):
            t = self.infer(e.operand, scope)
            if t not in om.NUMERIC and t not in ("zero", "any", "error"):
                self.error(e, f"cannot negate {unit_name(t)}", code="type")
                return "error"
            return t
        if isinstance(e, m.Call):
            return self._call(e, scope)
        if isinstance(e, m.ListExpr):
            types = [self.infer(i, scope) for i in e.items]
            known = [t for t in types if t not in ("any", "error")]
            first = known[0] if known else "any"
            for item, t in zip(e.items, types):
                if not self._compatible(t, first):
                    self.error(item, f"list mixes {unit_name(first)} and {unit_name(t)}",
                               code="unit")
            return om.list_of("count" if first == "zero" else first)
        if isinstance(e, m.MapTable):
            if not scope.raw:
                self.error(e, "'map' tables are only allowed in mappings", code="context")
            self.infer(e.source, scope)
            values = {ent.value.unit for ent in e.entries}
            if e.default is not None:
                values.add(e.default.unit)
            keys: set[object] = set()
            for ent in e.entries:
                if ent.key.value in keys:
                    self.error(ent, f"map key {ent.key.value!r} appears twice", code="duplicate")
                keys.add(ent.key.value)
            return values.pop() if len(values) == 1 else "any"
        if isinstance(e, m.Each):
            if scope.raw:
                for f in e.fields:
                    self.infer(f.value, scope)
                return "list:object"
            self.error(e, "'each' is only allowed as the value of 'lines' in a mapping",
                       code="context")
            return "error"
        if isinstance(e, m.Aggregate):
            return self._aggregate(e, scope)
        self.error(None, f"unknown expression node {type(e).__name__}")  # pragma: no cover
        return "error"

    def _arith(self, e: m.Arith, lt: str, rt: str) -> str:
        if "error" in (lt, rt):
            return "error"
        if "any" in (lt, rt):
            return "any"
        lt = "count" if lt == "zero" else lt
        rt = "count" if rt == "zero" else rt
        plain = ("count", "number")
        result: str | None = None
        if e.op in "+-":
            if lt == rt and lt in om.NUMERIC:
                result = lt
            elif lt in plain and rt in plain:
                result = "number"
            elif lt == "time" and rt == "duration":
                result = "time"
            elif e.op == "-" and lt == rt == "time":
                result = "duration"
            elif e.op == "+" and lt == "duration" and rt == "time":
                result = "time"
        elif e.op == "*":
            pair = (lt, rt)
            if lt in plain and rt in plain:
                result = "count" if lt == rt == "count" else "number"
            elif lt in ("money", "duration") and rt in plain + ("percent",):
                result = lt
            elif rt in ("money", "duration") and lt in plain + ("percent",):
                result = rt
            elif pair in (("percent", "count"), ("count", "percent")):
                result = "percent"
        else:
            if lt in om.NUMERIC and rt in plain:
                result = lt if lt != "count" else "number"
            elif lt == rt and lt in om.NUMERIC:
                result = "number"
        if result is None:
            verb = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}[e.op]
            joiner = {"+": "and", "-": "from", "*": "by", "/": "by"}[e.op]
            a, b = (rt, lt) if e.op == "-" else (lt, rt)
            self.error(e, f"cannot {verb} {unit_name(a)} {joiner} {unit_name(b)}", code="unit")
            return "error"
        return result

    def _call(self, e: m.Call, scope: Scope) -> str:
        if e.func.startswith("_"):
            self.error(e, f"'{e.func}' is not allowed: names may not start with '_'",
                       code="forbidden")
            return "error"
        sig = om.FUNCTIONS.get(e.func)
        arg_types = [self.infer(a, scope) for a in e.args]
        if sig is None:
            self.error(e, f"unknown function '{e.func}'{suggest(e.func, om.FUNCTIONS)}",
                       code="unknown-name")
            return "error"
        params, ret = sig
        variadic = bool(params) and params[-1] == "*"
        fixed = params[:-1] if variadic else params
        if (not variadic and len(e.args) != len(fixed)) or (variadic and len(e.args) < 1):
            want = f"at least {len(fixed)}" if variadic else str(len(fixed))
            self.error(e, f"{e.func}() takes {want} argument{'s' if want != '1' else ''}, "
                          f"got {len(e.args)}", code="arity")
            return "error"
        same = "any"
        for i, (arg, t) in enumerate(zip(e.args, arg_types)):
            want = fixed[min(i, len(fixed) - 1)]
            if t in ("any", "error"):
                continue
            if want == "any":
                continue
            if want == "numeric":
                if t not in om.NUMERIC and t != "zero":
                    self.error(arg, f"{e.func}() needs a number, got {unit_name(t)}",
                               code="type")
                same = t
            elif want == "list:any":
                if not t.startswith("list:"):
                    self.error(arg, f"{e.func}() needs a list, got {unit_name(t)}", code="type")
            elif want == "list:numeric":
                el = om.element_of(t)
                if el is None or el not in om.NUMERIC:
                    self.error(arg, f"{e.func}() needs a list of numbers, got {unit_name(t)}",
                               code="type")
                else:
                    same = el
            elif not self._compatible(t, want):
                self.error(arg, f"{e.func}() needs {want}, got {unit_name(t)}", code="type")
        return same if ret == "same" else ret

    def _aggregate(self, e: m.Aggregate, scope: Scope) -> str:
        if not scope.aggregates:
            self.error(e, f"'{e.func}(… {e.collection} …)' is only allowed in alerts and risk "
                          "rules", code="context")
            return "error"
        inner = Scope((COLLECTION_FIELDS[e.collection],), what=f"{e.collection} field")
        if e.func not in ("count", "distinct", "sum", "avg", "min", "max"):
            self.error(e, f"unknown aggregate '{e.func}'; use count, distinct, sum, avg, min "
                          "or max", code="unknown-name")
            return "error"
        of_type = self.infer(e.of, inner) if e.of is not None else None
        if e.where is not None:
            t = self.infer(e.where, inner)
            if t not in ("bool", "any", "error"):
                self.error(e.where, f"'where' needs a condition, got {unit_name(t)}",
                           code="type")
        if e.by is not None:
            self.resolve(e.by, inner)
        if e.within is not None and e.within <= 0:
            self.error(e, "window must be positive", code="window")
        if e.func in ("count", "distinct"):
            return "count"
        if of_type is None:
            self.error(e, f"{e.func}() needs 'FIELD of {e.collection}'", code="arity")
            return "error"
        if of_type not in om.NUMERIC and of_type not in ("any", "error"):
            self.error(e.of, f"{e.func}() needs a number, got {unit_name(of_type)}",
                       code="type")
            return "error"
        return of_type


def _children(node: object) -> list[m.Expr]:
    if isinstance(node, m.Compare | m.Arith):
        return [node.left, node.right]
    if isinstance(node, m.BoolOp):
        return list(node.operands)
    if isinstance(node, m.Not | m.Neg):
        return [node.operand]
    if isinstance(node, m.Call):
        return list(node.args)
    if isinstance(node, m.In):
        return [node.item, node.container]
    if isinstance(node, m.ListExpr):
        return list(node.items)
    if isinstance(node, m.MapTable):
        return [node.source]
    if isinstance(node, m.Each):
        return [f.value for f in node.fields] + ([node.where] if node.where is not None else [])
    if isinstance(node, m.Aggregate):
        return [c for c in (node.of, node.where) if c is not None]
    return []


#: the sub-expressions of an expression node (for runners that walk expressions)
expression_children = _children


def check_expression(expr: m.Expr, scope: Scope = PROMOTION_SCOPE,
                     filename: str = "<expr>", text: str = "") -> tuple[str, list[Diagnostic]]:
    """Type of one expression in ``scope`` and the problems found (for the compiler/API)."""
    checker = ExpressionTyper(m.Ruleset((), filename=filename, text=text))
    t = checker.expression(expr, scope)
    return t, checker.diagnostics
