"""Static checks of a ruleset: names, types and units, machines, promotions, alerts and risk.

This module owns :func:`check`, which returns every :class:`dsl.errors.Diagnostic` it finds
(never stopping at the first), and :func:`infer_type` for single expressions. It resolves names
against :mod:`dsl.order_model` and machines' declared data, suggests near names ("did you
mean"), and bounds expression size and depth so nothing later can be made to work without
limit. It never evaluates user expressions.
"""

from __future__ import annotations

import difflib
import re
from collections import deque
from dataclasses import dataclass
from typing import Iterable

from . import model as m
from . import order_model as om
from .errors import Diagnostic, source_line_at

__all__ = ["check", "check_expression", "expression_children", "Scope", "MAX_EXPR_DEPTH", "MAX_EXPR_NODES"]

MAX_EXPR_DEPTH = 64
MAX_EXPR_NODES = 5000
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _unit_name(t: str) -> str:
    if t == "zero":
        return "count"
    el = om.element_of(t)
    return f"list of {_unit_name(el)}" if el else t


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
COLLECTION_FIELDS: dict[str, om.FieldTree] = {"orders": om.ORDER_FIELDS,
                                              "returns": om.RETURN_FIELDS,
                                              "tickets": om.TICKET_CONTEXT}


def _tree_type(node: om.FieldTree | str) -> str:
    if isinstance(node, str):
        return node
    if "[]" in node:
        return "list:object"
    return "object"


class _Checker:
    def __init__(self, ruleset: m.Ruleset) -> None:
        self.ruleset = ruleset
        self.diagnostics: list[Diagnostic] = []
        self.channels = {d.name: d for d in ruleset.declarations if isinstance(d, m.ChannelDecl)}
        self.hooks = {d.name: d for d in ruleset.declarations if isinstance(d, m.HookDecl)}
        self.machines = {d.name: d for d in ruleset.declarations if isinstance(d, m.MachineDecl)}
        self.sources = {d.name: d for d in ruleset.declarations if isinstance(d, m.SourceDecl)}

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
                         f"{_suggest(path[0], candidates)}", code="unknown-name")
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
                    suggestion = _suggest(seg, [k for k in node if k != "[]"])
                    if suggestion:
                        suggestion = suggestion.replace("'", f"'{walked}", 1)
                    self.error(name, f"unknown field '{name.dotted}'{suggestion}",
                               code="unknown-name")
                else:
                    self.error(name, f"'{walked.rstrip('.')}' is {_unit_name(node)} and has "
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
            self.error(expr, f"{what} must be {want}, got {_unit_name(t)}", code="type")
        return t

    def _bounded(self, expr: m.Expr) -> bool:
        stack: list[tuple[object, int]] = [(expr, 1)]
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
            return _Checker._compatible(ea, eb) or "object" in (ea, eb)
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
                    self.error(o, f"'{e.op}' needs conditions, got {_unit_name(t)}", code="type")
            return "bool"
        if isinstance(e, m.Not):
            t = self.infer(e.operand, scope)
            if t not in ("bool", "any", "error"):
                self.error(e.operand, f"'not' needs a condition, got {_unit_name(t)}",
                           code="type")
            return "bool"
        if isinstance(e, m.Compare):
            lt, rt = self.infer(e.left, scope), self.infer(e.right, scope)
            if not self._compatible(lt, rt):
                self.error(e, f"cannot compare {_unit_name(lt)} with {_unit_name(rt)}",
                           code="unit")
            elif e.op not in ("==", "!=") and "error" not in (lt, rt):
                for t in (lt, rt):
                    if t in ("bool", "object") or t.startswith("list:"):
                        self.error(e, f"'{e.op}' cannot order {_unit_name(t)} values",
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
                    self.error(e, f"'in' on text needs text, got {_unit_name(it)}", code="type")
            elif el is None:
                self.error(e.container, f"'in' needs a list or text, got {_unit_name(ct)}",
                           code="type")
            elif not self._compatible(it, el) and el != "object":
                self.error(e, f"cannot look for {_unit_name(it)} in a list of {_unit_name(el)}",
                           code="unit")
            return "bool"
        if isinstance(e, m.Arith):
            return self._arith(e, self.infer(e.left, scope), self.infer(e.right, scope))
        if isinstance(e, m.Neg):
            t = self.infer(e.operand, scope)
            if t not in om.NUMERIC and t not in ("zero", "any", "error"):
                self.error(e, f"cannot negate {_unit_name(t)}", code="type")
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
                    self.error(item, f"list mixes {_unit_name(first)} and {_unit_name(t)}",
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
            self.error(e, f"cannot {verb} {_unit_name(a)} {joiner} {_unit_name(b)}", code="unit")
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
            self.error(e, f"unknown function '{e.func}'{_suggest(e.func, om.FUNCTIONS)}",
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
                    self.error(arg, f"{e.func}() needs a number, got {_unit_name(t)}",
                               code="type")
                same = t
            elif want == "list:any":
                if not t.startswith("list:"):
                    self.error(arg, f"{e.func}() needs a list, got {_unit_name(t)}", code="type")
            elif want == "list:numeric":
                el = om.element_of(t)
                if el is None or el not in om.NUMERIC:
                    self.error(arg, f"{e.func}() needs a list of numbers, got {_unit_name(t)}",
                               code="type")
                else:
                    same = el
            elif not self._compatible(t, want):
                self.error(arg, f"{e.func}() needs {want}, got {_unit_name(t)}", code="type")
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
                self.error(e.where, f"'where' needs a condition, got {_unit_name(t)}",
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
            self.error(e.of, f"{e.func}() needs a number, got {_unit_name(of_type)}",
                       code="type")
            return "error"
        return of_type

    # ------------------------------------------------------------------ declarations
    def run(self) -> list[Diagnostic]:
        seen: dict[tuple[str, str], m.Node] = {}
        for d in self.ruleset.declarations:
            key = (d.kind, d.name)
            if key in seen and d.kind != "mapping":
                self.error(d, f"{d.kind} '{d.name}' is declared twice", code="duplicate")
            seen[key] = d
            getattr(self, f"_check_{d.kind}")(d)
        return sorted(self.diagnostics, key=lambda x: (x.line, x.col, x.pointer))

    def _check_source(self, d: m.SourceDecl) -> None:
        if d.platform is not None and d.platform not in om.PLATFORMS:
            self.error(d.loc("platform"),
                       f"unknown platform '{d.platform}'{_suggest(d.platform, om.PLATFORMS)}",
                       code="unknown-name")
        for p in d.pulls:
            if p.every <= 0:
                self.error(p, "pull interval must be positive", code="window")
        if any(r <= 0 for r in d.retry):
            self.error(d, "retry delays must be positive", code="window")

    def _check_mapping(self, d: m.MappingDecl) -> None:
        channel = next((f.value for f in d.fields if f.target == ("channel",)), None)
        if isinstance(channel, m.Literal) and channel.value not in om.PLATFORMS:
            self.error(channel, f"unknown channel '{channel.value}'"
                                f"{_suggest(str(channel.value), om.PLATFORMS)}", code="unknown-name")
        # a mapping belongs to the source it is named after, or (an import mapping such as
        # taobao_export) names its channel itself
        if d.name not in self.sources and d.name not in om.PLATFORMS and not (
                isinstance(channel, m.Literal) and channel.value in om.PLATFORMS):
            self.error(d, f"mapping '{d.name}' names no declared source"
                          f"{_suggest(d.name, list(self.sources))}", code="unknown-name")
        self._mapping_fields(d.fields, om.ORDER_FIELDS, "")

    def _mapping_fields(self, fields: tuple[m.FieldMapping, ...], tree: om.FieldTree,
                        inside: str) -> None:
        """Targets of one mapping block (the order, or one ``each`` element) against ``tree``,
        and each value against its target's type."""
        targets: set[tuple[str, ...]] = set()
        for f in fields:
            if f.target in targets:
                self.error(f, f"'{'.'.join(f.target)}' is mapped twice", code="duplicate")
            targets.add(f.target)
            target_type = self._mapping_target(f, tree, inside)
            element = self._element_tree(tree, f.target) if target_type == "list:object" else None
            if isinstance(f.value, m.Each):
                if element is None:
                    if target_type != "error":
                        self.error(f.value, "'each' is only allowed as the value of a list such as "
                                            "'lines' or 'refunds'", code="context")
                    continue
                if f.value.where is not None:
                    self.expression(f.value.where, RAW_SCOPE, "bool", what="'where'")
                aliases = om.LINE_MAPPING_ALIASES if f.target == ("lines",) else {}
                inner_tree = dict(element)
                inner_tree.update({k: element[v] for k, v in aliases.items() if v in element})
                self._mapping_fields(f.value.fields, inner_tree, f"{inside}{'.'.join(f.target)}.")
                continue
            if element is not None:
                self.error(f.value, f"'{inside}{'.'.join(f.target)}' is a list: map it with "
                                    f"'each LIST {{ … }}'", code="context")
            value_type = self.expression(f.value, RAW_SCOPE)
            if target_type == "error" or value_type in ("any", "error", "zero"):
                continue
            if not self._compatible(value_type, target_type) and not (
                    target_type == "text" and value_type in ("count", "number")):
                hint = _CONVERSION_HINTS.get(target_type, "")
                self.error(f.value, f"'{inside}{'.'.join(f.target)}' is {_unit_name(target_type)}, "
                                    f"got {_unit_name(value_type)}{hint}", code="type")
            if f.target == ("status",) and not inside:
                self._status_values(f.value)

    def _status_values(self, value: m.Expr) -> None:
        literals: list[m.Literal] = []
        if isinstance(value, m.Literal):
            literals.append(value)
        elif isinstance(value, m.MapTable):
            literals += [e.value for e in value.entries]
            if value.default is not None:
                literals.append(value.default)
        for lit in literals:
            # "" leaves the decision to the next value of a coalesce(…)
            if lit.unit == m.TEXT and lit.value != "" and om.canonical_status(str(lit.value)) is None:
                choices = [*om.ORDER_STATUSES, *om.STATUS_LABELS.values()]
                self.error(lit, f"'{lit.value}' is not an order status (one of "
                                f"{', '.join(om.ORDER_STATUSES)}, or 待付款 … 已取消)"
                                f"{_suggest(str(lit.value), choices)}", code="enum")

    @staticmethod
    def _element_tree(tree: om.FieldTree, path: tuple[str, ...]) -> om.FieldTree | None:
        node: om.FieldTree | str = tree
        for seg in path:
            if not isinstance(node, dict) or seg not in node:
                return None
            node = node[seg]
        if isinstance(node, dict) and isinstance(node.get("[]"), dict):
            return node["[]"]  # type: ignore[return-value]
        return None

    def _mapping_target(self, f: m.FieldMapping, tree: om.FieldTree, inside: str = "") -> str:
        return self.resolve(m.Name(f.target, line=f.line, col=f.col, pointer=f.pointer),
                            Scope((tree,), what="order field"))

    def _check_cleaning(self, d: m.CleaningDecl) -> None:
        for s in d.steps:
            if isinstance(s, m.NormalizeStep):
                t = self.resolve(m.Name(s.target, line=s.line, col=s.col, pointer=s.pointer),
                                 ORDER_SCOPE)
                if s.to not in ("region", "phone", "text"):
                    self.error(s, f"cannot normalize to '{s.to}'; use region, phone or text"
                                  f"{_suggest(s.to, ('region', 'phone', 'text'))}",
                               code="unknown-name")
                elif t not in ("text", "error"):
                    self.error(s, f"normalize needs a text field, got {_unit_name(t)}",
                               code="type")
            elif isinstance(s, m.DropStep):
                self.expression(s.when, ORDER_SCOPE, "bool")
            else:
                t = self.resolve(m.Name(s.target, line=s.line, col=s.col, pointer=s.pointer),
                                 ORDER_SCOPE)
                self.expression(s.value, ORDER_SCOPE, None if t == "error" else t,
                                what="value")
                self.expression(s.when, ORDER_SCOPE, "bool")

    def _check_promotion(self, p: m.PromotionDecl) -> None:
        tier_names = [t.name for t in p.tiers]
        seen_tiers: set[str] = set()
        for t in p.tiers:
            if t.name in seen_tiers:
                self.error(t, f"tier '{t.name}' is declared twice", code="duplicate")
            seen_tiers.add(t.name)
        in_order: set[str] = set()
        for i, name in enumerate(p.order):
            if name in in_order:
                self.error(p.loc("order", i), f"tier '{name}' appears twice in the order",
                           code="duplicate")
            elif name not in seen_tiers:
                self.error(p.loc("order", i), f"unknown tier '{name}' in the order"
                              f"{_suggest(name, tier_names)}", code="unknown-name")
            in_order.add(name)
        if p.order:
            for t in p.tiers:
                if t.name not in in_order:
                    self.error(t, f"tier '{t.name}' is missing from the order", code="order")
        rule_names: set[str] = set()
        for t in p.tiers:
            if t.pick is not None and t.pick not in ("best", "first", "all"):
                self.error(t.loc("pick"), f"pick must be best, first or all, got '{t.pick}'"
                              f"{_suggest(t.pick, ('best', 'first', 'all'))}", code="enum")
            self._funded(t, t.funded_by)
            for r in t.rules:
                if r.name in rule_names:
                    self.error(r, f"rule '{r.name}' is declared twice", code="duplicate")
                rule_names.add(r.name)
                self._funded(r, r.funded_by)
                self.expression(r.when, PROMOTION_SCOPE, "bool")
                self._discount(r.discount)
        for g in p.gifts:
            self.expression(g.when, PROMOTION_SCOPE, "bool")
            for item in g.items:
                if item.qty <= 0:
                    self.error(item, "gift quantity must be positive", code="value")
        for x in p.exclusions:
            if isinstance(x, m.TagExclusion):
                for i, name in enumerate(x.tiers):
                    if name not in seen_tiers:
                        self.error(x.loc("tiers", i), f"unknown tier '{name}'{_suggest(name, tier_names)}",
                                   code="unknown-name")
            else:
                for name in (x.first, x.second):
                    if name not in rule_names:
                        self.error(x, f"unknown rule '{name}'{_suggest(name, rule_names)}",
                                   code="unknown-name")
                if x.first == x.second:
                    self.error(x, "a rule cannot exclude itself", code="value")
        for f in p.freight:
            if f.free_over is not None and f.free_over <= 0:
                self.error(f, "free-shipping threshold must be positive", code="value")
            for r in f.regions:
                if not r.regions:
                    self.error(r, "region override names no region", code="value")

    def _funded(self, node: m.Node, funded_by: str | None) -> None:
        if funded_by is not None and funded_by not in ("merchant", "platform"):
            self.error(node, f"funded by must be merchant or platform, got '{funded_by}'",
                       code="enum")

    def _discount(self, d: m.Discount) -> None:
        where = getattr(d, "lines_where", None)
        self.expression(where, LINE_SCOPE, "bool")
        split = getattr(d, "split_by", None)
        if split is not None and split != "amount":
            self.error(d, f"can only split by amount, got '{split}'", code="enum")
        if isinstance(d, m.PercentOff):
            if not 0 < d.percent <= 10000:
                self.error(d, "percent_off must be between 0% and 100%", code="value")
        elif isinstance(d, m.AmountOff):
            self.expression(d.amount, PROMOTION_SCOPE, "money", what="amount_off")
        elif isinstance(d, m.EveryOff):
            if d.every <= 0 or d.off <= 0:
                self.error(d, "every … off … needs positive amounts", code="value")
            elif d.off > d.every:
                self.error(d, "the discount cannot exceed the step it is given for",
                           code="value")
            if d.cap is not None and d.cap < d.off:
                self.error(d, "cap is smaller than one step's discount", code="value")

    def _machine_scope(self, mc: m.MachineDecl) -> Scope:
        data: om.FieldTree = {f.name: f.type for f in mc.data}
        return Scope((data, om.TICKET_CONTEXT), (("payload", "any"), ("order", om.ORDER_FIELDS)),
                     what="field")

    def _check_machine(self, mc: m.MachineDecl) -> None:  # noqa: C901
        state_names = [s.name for s in mc.states]
        states: dict[str, m.State] = {}
        data_names = [f.name for f in mc.data]
        seen_data: set[str] = set()
        for f in mc.data:
            if f.name in seen_data:
                self.error(f, f"data field '{f.name}' is declared twice", code="duplicate")
            seen_data.add(f.name)
            types = ("text", "money", "count", "bool", "time", "duration", "percent")
            if f.type not in types:
                self.error(f.loc("type"), f"unknown type '{f.type}'{_suggest(f.type, types)}",
                           code="unknown-name")
        for s in mc.states:
            if s.name in states:
                self.error(s, f"state '{s.name}' is declared twice", code="duplicate")
            states[s.name] = s
            if s.owner is not None and om.canonical_role(s.owner) is None:
                self.error(s.loc("owner"),
                           f"unknown role '{s.owner}'{_suggest(s.owner, _all_roles())}",
                           code="unknown-role")
            if s.deadline is not None and s.deadline <= 0:
                self.error(s, "deadline must be positive", code="window")
        if mc.initial is None:
            self.error(mc, f"machine '{mc.name}' has no initial state", code="machine")
        elif mc.initial not in states:
            self.error(mc.loc("initial"), f"initial state '{mc.initial}' is not declared"
                           f"{_suggest(mc.initial, state_names)}", code="unknown-state")
        scope = self._machine_scope(mc)
        action_names: set[str] = set()
        edges: dict[str, set[str]] = {}
        for a in mc.actions:
            if a.name in action_names:
                self.error(a, f"action '{a.name}' is declared twice", code="duplicate")
            action_names.add(a.name)
            named = [(a.loc("sources", i), s) for i, s in enumerate(a.sources)]
            for where, name in [*named, (a.loc("target"), a.target)]:
                if name not in states:
                    self.error(where, f"action '{a.name}' refers to unknown state '{name}'"
                                      f"{_suggest(name, state_names)}", code="unknown-state")
            for where, src in named:
                if src in states and states[src].final:
                    self.error(where, f"action '{a.name}' leaves final state '{src}'",
                               code="machine")
                edges.setdefault(src, set()).add(a.target)
            for i, role in enumerate(a.by):
                canonical = om.canonical_role(role)
                if canonical is None:
                    self.error(a.loc("by", i), f"unknown role '{role}'"
                                               f"{_suggest(role, _all_roles())}",
                               code="unknown-role")
                elif canonical in om.OUTSIDE_PARTIES.values():
                    self.error(a.loc("by", i), f"'{role}' is an outside party and cannot act by "
                                               "login; use 'via webhook'", code="unknown-role")
            for i, req in enumerate(a.requires):
                if req not in seen_data:
                    self.error(a.loc("requires", i), f"action '{a.name}' requires unknown data "
                                                     f"field '{req}'{_suggest(req, data_names)}",
                               code="unknown-name")
            if a.via_webhook is not None and a.via_webhook not in self.hooks:
                self.error(a.loc("via_webhook"), f"unknown hook '{a.via_webhook}'"
                              f"{_suggest(a.via_webhook, self.hooks)}", code="unknown-name")
            self.expression(a.when, scope, "bool")
            for eff in a.effects:
                self._effect(eff, scope, mc)
        for h in mc.deadline_handlers:
            if h.state not in states:
                self.error(h.loc("state"), f"on deadline names unknown state '{h.state}'"
                              f"{_suggest(h.state, state_names)}", code="unknown-state")
            elif states[h.state].deadline is None:
                self.error(h.loc("state"), f"state '{h.state}' has no deadline", code="machine")
            if h.action is not None:
                match = [a for a in mc.actions if a.name == h.action]
                if not match:
                    self.error(h.loc("action"), f"unknown action '{h.action}'"
                                  f"{_suggest(h.action, action_names)}", code="unknown-name")
                elif h.state not in match[0].sources:
                    self.error(h.loc("action"),
                               f"action '{h.action}' cannot run from state '{h.state}'",
                               code="machine")
            for eff in h.effects:
                self._effect(eff, scope, mc)
        migrated: set[str] = set()
        for mig in mc.migrations:
            if mig.old in migrated:
                self.error(mig.loc("old"), f"state '{mig.old}' is migrated twice",
                           code="duplicate")
            migrated.add(mig.old)
            if mig.new not in states:
                self.error(mig.loc("new"), f"migrate target '{mig.new}' is not a state"
                                           f"{_suggest(mig.new, state_names)}",
                           code="unknown-state")
        if mc.initial in states:
            reached = {mc.initial}
            queue = deque([mc.initial])
            while queue:
                for nxt in edges.get(queue.popleft(), ()):
                    if nxt not in reached:
                        reached.add(nxt)
                        queue.append(nxt)
            for s in mc.states:
                if s.name not in reached:
                    self.error(s, f"state '{s.name}' is unreachable from initial state "
                                  f"'{mc.initial}'", code="unreachable")
        for s in mc.states:
            if not s.final and not edges.get(s.name):
                self.error(s, f"state '{s.name}' is not final and has no action leading out",
                           code="dead-end")

    def _effect(self, eff: m.Effect, scope: Scope, mc: m.MachineDecl | None) -> None:
        if isinstance(eff, m.Notify):
            self._channel_ref(eff.loc("channel"), eff.channel)
            if eff.to is not None:
                self.expression(eff.to, scope, "text", what="recipient")
            allowed = [k for tree in scope.roots for k in tree]
            self._placeholders(eff, eff.message, allowed)
        elif isinstance(eff, m.CallEffect):
            self._channel_ref(eff.loc("target"), eff.target)
            for arg in eff.args:
                self.expression(arg, scope)
        elif isinstance(eff, m.SetField):
            if mc is not None:
                names = [f.name for f in mc.data]
                if eff.field not in names:
                    self.error(eff, f"unknown data field '{eff.field}'{_suggest(eff.field, names)}",
                               code="unknown-name")
                else:
                    want = next(f.type for f in mc.data if f.name == eff.field)
                    self.expression(eff.value, scope, want, what="value")
        elif isinstance(eff, m.OpenTicket):
            if eff.machine not in self.machines:
                self.error(eff, f"unknown machine '{eff.machine}'"
                                f"{_suggest(eff.machine, self.machines)}", code="unknown-name")

    def _channel_ref(self, node: m.Node | m.Loc, name: str) -> None:
        if name not in self.channels:
            self.error(node, f"unknown channel '{name}'{_suggest(name, self.channels)}",
                       code="unknown-name")

    def _placeholders(self, node: m.Node, message: str, allowed: list[str]) -> None:
        for ph in _PLACEHOLDER.findall(message):
            if ph not in allowed:
                self.error(node, f"unknown placeholder '{{{ph}}}'{_suggest(ph, allowed)}",
                           code="unknown-name")

    def _check_hook(self, d: m.HookDecl) -> None:
        if d.type not in om.HOOK_TYPES:
            self.error(d.loc("type"), f"unknown hook type '{d.type}'"
                                      f"{_suggest(d.type, om.HOOK_TYPES)}", code="unknown-name")
        for b in d.bindings:
            self.expression(b.value, HOOK_SCOPE)

    def _check_channel(self, d: m.ChannelDecl) -> None:
        if d.type not in om.CHANNEL_TYPES:
            self.error(d.loc("type"),
                       f"unknown channel type '{d.type}'{_suggest(d.type, om.CHANNEL_TYPES)}",
                       code="unknown-name")

    def _check_alert(self, d: m.AlertDecl) -> None:
        if d.measure.period not in ("hour", "day", "week", "month"):
            self.error(d.measure, f"unknown period '{d.measure.period}'; use hour, day, week or "
                                  f"month{_suggest(d.measure.period, ('hour', 'day', 'week', 'month')).replace(';', ',')}",
                       code="enum")
        t = self.expression(d.measure.value, MEASURE_SCOPE)
        if t not in om.NUMERIC and t not in ("zero", "any", "error"):
            self.error(d.measure.value, f"measure must be a number, got {_unit_name(t)}",
                       code="type")
        self.expression(d.when, ALERT_SCOPE, "bool")
        for n in d.notify:
            self._channel_ref(n.loc("channel"), n.channel)
            self._placeholders(n, n.message, [*om.ALERT_CONTEXT, "name"])

    def _check_risk(self, d: m.RiskDecl) -> None:
        self.expression(d.when, RISK_SCOPE, "bool")
        for n in d.notify:
            self._channel_ref(n.loc("channel"), n.channel)
            self._placeholders(n, n.message, [*om.ORDER_FIELDS, "flag", "name"])


_CONVERSION_HINTS = {
    "money": "; write yuan(FIELD) for yuan or fen(FIELD) for fen",
    "time": "; write from_shanghai(FIELD), from_unix(FIELD) or from_unix_ms(FIELD)",
}


def _all_roles() -> list[str]:
    return [*om.ROLES, *om.ROLES.values(), *om.OUTSIDE_PARTIES, *om.OUTSIDE_PARTIES.values()]


def _children(node: object) -> list[object]:
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


def check(ruleset: m.Ruleset) -> list[Diagnostic]:
    """Every problem in ``ruleset``, sorted by position; empty when it is clean."""
    return _Checker(ruleset).run()


def check_expression(expr: m.Expr, scope: Scope = PROMOTION_SCOPE,
                     filename: str = "<expr>", text: str = "") -> tuple[str, list[Diagnostic]]:
    """Type of one expression in ``scope`` and the problems found (for the compiler/API)."""
    checker = _Checker(m.Ruleset((), filename=filename, text=text))
    t = checker.expression(expr, scope)
    return t, checker.diagnostics
