"""Model → canonical ``.op`` text.

This module owns the one canonical spelling of every declaration and expression (layout,
indentation, parentheses only where precedence needs them, ``¥`` money with at most two
decimals, percents without trailing zeros). ``parse_text(print_dsl(m)) == m`` holds for every
model the parser or JSON loader can produce, and printing is a fixed point:
``print_dsl(parse_text(print_dsl(m))) == print_dsl(m)``. It does no checking.

Durations (deadlines, windows, pull intervals, retries) are written the way people write
deadlines, not in the largest unit that divides them:

- days only for a whole number of days of at least 7 days: ``7d``, ``30d``;
- otherwise hours for a whole number of hours, so a deadline of two days stays ``48h``
  (``24h``, ``48h``, ``72h``; also ``170h``, which is not a whole number of days);
- otherwise minutes for a whole number of minutes: ``5m``, ``90m``;
- otherwise seconds: ``30s``.

``2d`` and ``48h`` mean the same and both parse; ``fmt`` writes ``48h``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from . import model as m
from .units import duration_text, literal_number_text, money_text, percent_text

__all__ = ["PrintedLine", "layout_declaration", "print_declaration", "print_dsl", "print_expr",
           "quote"]

_IDENT = re.compile(r"[^\W\d]\w*\Z")
_INDENT = "    "

# precedence levels: higher binds tighter
_OR, _AND, _NOT, _CMP, _SUM, _PRODUCT, _UNARY, _POSTFIX, _ATOM = range(1, 10)


def quote(text: str) -> str:
    """A DSL string literal for ``text``."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _precedence(node: m.Expr) -> int:
    if isinstance(node, m.BoolOp):
        return _OR if node.op == "or" else _AND
    if isinstance(node, m.Not):
        return _NOT
    if isinstance(node, (m.Compare, m.In)):
        return _CMP
    if isinstance(node, m.Arith):
        return _SUM if node.op in "+-" else _PRODUCT
    if isinstance(node, m.Neg):
        return _UNARY
    if isinstance(node, m.MapTable):
        return _POSTFIX
    return _ATOM


def _wrap(node: m.Expr, minimum: int) -> str:
    text = print_expr(node)
    return f"({text})" if _precedence(node) < minimum else text


def _literal(node: m.Literal) -> str:
    if node.unit == m.TEXT:
        return quote(str(node.value))
    if node.unit == m.BOOL:
        return "true" if node.value else "false"
    return literal_number_text(int(node.value), node.unit)


def print_expr(node: m.Expr) -> str:
    """Canonical text of one expression."""
    if isinstance(node, m.Literal):
        return _literal(node)
    if isinstance(node, m.Name):
        return node.dotted
    if isinstance(node, m.BoolOp):
        level = _OR if node.op == "or" else _AND
        return f" {node.op} ".join(_wrap(o, level + 1) for o in node.operands)
    if isinstance(node, m.Not):
        return f"not {_wrap(node.operand, _NOT)}"
    if isinstance(node, m.Compare):
        return f"{_wrap(node.left, _SUM)} {node.op} {_wrap(node.right, _SUM)}"
    if isinstance(node, m.In):
        op = "not in" if node.negated else "in"
        return f"{_wrap(node.item, _SUM)} {op} {_wrap(node.container, _SUM)}"
    if isinstance(node, m.Arith):
        level = _SUM if node.op in "+-" else _PRODUCT
        return f"{_wrap(node.left, level)} {node.op} {_wrap(node.right, level + 1)}"
    if isinstance(node, m.Neg):
        return f"-{_wrap(node.operand, _UNARY)}"
    if isinstance(node, m.Call):
        return f"{node.func}({_exprs(node.args)})"
    if isinstance(node, m.ListExpr):
        return f"[{_exprs(node.items)}]"
    if isinstance(node, m.MapTable):
        entries = ", ".join(f"{_literal(e.key)}: {_literal(e.value)}" for e in node.entries)
        if node.default is not None:
            entries += f", else {_literal(node.default)}"
        return f"{_wrap(node.source, _POSTFIX)} map {{ {entries} }}"
    if isinstance(node, m.Each):
        inner = "  ".join(_field_mapping(f) for f in node.fields)
        return f"{_each_header(node)} {{ {inner} }}" if inner else f"{_each_header(node)} {{ }}"
    if isinstance(node, m.Aggregate):
        parts: list[str] = []
        if node.of is not None:
            parts.append(f"{print_expr(node.of)} of")
        parts.append(node.collection)
        if node.where is not None:
            parts.append(f"where {print_expr(node.where)}")
        if node.by is not None:
            parts.append(f"by {node.by.dotted}")
        if node.within is not None:
            parts.append(f"within {duration_text(node.within)}")
        return f"{node.func}({' '.join(parts)})"
    raise TypeError(f"not an expression node: {type(node).__name__}")


def _exprs(nodes: tuple[m.Expr, ...]) -> str:
    """Expressions separated by commas (call arguments, list items)."""
    return ", ".join(print_expr(a) for a in nodes)


def _field_mapping(f: m.FieldMapping) -> str:
    return f"{'.'.join(f.target)} = {print_expr(f.value)}"


def _each_header(node: m.Each) -> str:
    where = f" where {print_expr(node.where)}" if node.where is not None else ""
    return f"each {node.source.dotted}{where}"


def _field_mapping_lines(f: m.FieldMapping, depth: int) -> list[PrintedLine]:
    """A mapping line; an ``each`` with fields is a block, one inner mapping per line."""
    if isinstance(f.value, m.Each) and f.value.fields:
        body = [line for inner in f.value.fields for line in _field_mapping_lines(inner, depth + 1)]
        return _block(depth, f"{'.'.join(f.target)} = {_each_header(f.value)} {{", _at(f), body)
    return [PrintedLine(depth, _field_mapping(f), _at(f))]


def _title(title: str | None) -> str:
    return f" {quote(title)}" if title is not None else ""


def _setting(s: m.Setting) -> str:
    if isinstance(s.value, m.EnvRef):
        return f"{s.key} env {s.value.var}"
    return f"{s.key} {_literal(s.value)}"


def _effect(e: m.Effect) -> str:
    if isinstance(e, m.Notify):
        to = f" to {print_expr(e.to)}" if e.to is not None else ""
        return f"notify {e.channel}{to} {quote(e.message)}"
    if isinstance(e, m.CallEffect):
        return f"call {e.target}.{e.operation}({_exprs(e.args)})"
    if isinstance(e, m.Archive):
        return f"archive {e.target}"
    if isinstance(e, m.SetField):
        return f"set {e.field} = {print_expr(e.value)}"
    if isinstance(e, m.OpenTicket):
        return f"open {e.machine}"
    raise TypeError(f"not an effect: {type(e).__name__}")


def _lines_where(where: m.Expr | None) -> str:
    return f" on lines where {print_expr(where)}" if where is not None else ""


def _cap(cap: int | None) -> str:
    return f" cap {money_text(cap)}" if cap is not None else ""


def _split_by(split_by: str | None) -> str:
    return f" split by {split_by}" if split_by is not None else ""


def _discount(d: m.Discount) -> str:
    if isinstance(d, m.PercentOff):
        return f"percent_off {percent_text(d.percent)}{_lines_where(d.lines_where)}{_cap(d.cap)}"
    if isinstance(d, m.AmountOff):
        return (f"amount_off {print_expr(d.amount)}{_split_by(d.split_by)}"
                f"{_lines_where(d.lines_where)}")
    if isinstance(d, m.EveryOff):
        return (f"every {money_text(d.every)} off {money_text(d.off)}{_cap(d.cap)}"
                f"{_split_by(d.split_by)}{_lines_where(d.lines_where)}")
    if isinstance(d, m.FixedPrice):
        return f"fixed_price {money_text(d.price)}{_lines_where(d.lines_where)}"
    raise TypeError(f"not a discount: {type(d).__name__}")


def _when(expr: m.Expr | None) -> str:
    return f" when {print_expr(expr)}" if expr is not None else ""


def _funded(funded_by: str | None) -> str:
    return f" funded by {funded_by}" if funded_by is not None else ""


def _region(name: str) -> str:
    return name if _IDENT.match(name) else quote(name)


class PrintedLine(NamedTuple):
    """One line of canonical text: its indentation ``depth`` and ``text``; ``at`` is the
    (line, col) in the source of the word the line starts with ((0, 0) when unknown, e.g. for
    JSON input); a closing brace has ``closes``, the ``at`` of the header of its block."""

    depth: int
    text: str
    at: tuple[int, int]
    closes: tuple[int, int] | None = None


def _at(node: m.Node) -> tuple[int, int]:
    return (node.line, node.col)


def _kw(node: m.Node, key: str) -> tuple[int, int]:
    """Where the clause keyword ``key`` of ``node`` was written (``locs`` entry ``kw:KEY``)."""
    for name, places in node.locs:
        if name == f"kw:{key}" and places:
            return (places[0].line, places[0].col)
    return (0, 0)


def _block(depth: int, header: str, at: tuple[int, int], body: list[PrintedLine]
           ) -> list[PrintedLine]:
    return [PrintedLine(depth, header, at), *body, PrintedLine(depth, "}", (0, 0), at)]


def _promotion(p: m.PromotionDecl) -> list[PrintedLine]:
    L = PrintedLine
    body: list[PrintedLine] = []
    if p.order:
        body.append(L(1, f"order {' > '.join(p.order)}", _kw(p, "order")))
    for t in p.tiers:
        pick = f" pick {t.pick}" if t.pick is not None else ""
        rules = [L(2, f"rule {quote(r.name)}{_when(r.when)}{_funded(r.funded_by)} "
                      f"{{ {_discount(r.discount)} }}", _at(r)) for r in t.rules]
        body += _block(1, f"tier {t.name}{_title(t.title)}{pick}{_funded(t.funded_by)} {{",
                       _at(t), rules)
    for g in p.gifts:
        items = "  ".join(f"add sku {quote(i.sku)} qty {i.qty}" for i in g.items)
        body.append(L(1, f"gift {quote(g.name)}{_when(g.when)} {{ {items} }}", _at(g)))
    for x in p.exclusions:
        if isinstance(x, m.TagExclusion):
            body.append(L(1, f"exclude lines tagged {quote(x.tag)} from {', '.join(x.tiers)}",
                          _at(x)))
        else:
            body.append(L(1, f"exclude rule {quote(x.first)} with rule {quote(x.second)}",
                          _at(x)))
    for f in p.freight:
        free = f" free over {money_text(f.free_over)}" if f.free_over is not None else ""
        inner = [L(2, f"base {money_text(f.base)}{free}", _kw(f, "base"))]
        for r in f.regions:
            rfree = f" free over {money_text(r.free_over)}" if r.free_over is not None else ""
            inner.append(L(2, f"region {', '.join(_region(n) for n in r.regions)} base "
                              f"{money_text(r.base)}{rfree}", _at(r)))
        body += _block(1, f"freight {f.name} {{", _at(f), inner)
    if p.price_check is not None:
        body.append(L(1, _price_check(p.price_check), _at(p.price_check)))
    return _block(0, f"promotion {p.name}{_title(p.title)} {{", _at(p), body)


def _price_check(c: m.PriceCheck) -> str:
    parts = [money_text(c.amount)] if c.amount is not None else []
    if c.percent is not None:
        parts.append(percent_text(c.percent))
    return f"price_check tolerance {' or '.join(parts)}"


def _machine(mc: m.MachineDecl) -> list[PrintedLine]:
    L = PrintedLine
    body: list[PrintedLine] = []
    if mc.data:
        fields = ", ".join(f"{f.name}: {f.type}{'?' if f.optional else ''}" for f in mc.data)
        body.append(L(1, f"data {{ {fields} }}", _kw(mc, "data")))
    if mc.initial is not None:
        body.append(L(1, f"initial {mc.initial}", _kw(mc, "initial")))
    for s in mc.states:
        owner = f" owner {s.owner}" if s.owner is not None else ""
        deadline = f" deadline {duration_text(s.deadline)}" if s.deadline is not None else ""
        final = " final" if s.final else ""
        body.append(L(1, f"state {s.name}{owner}{deadline}{final}", _at(s)))
    for a in mc.actions:
        line = f"action {a.name} from {', '.join(a.sources)} to {a.target}"
        if a.by:
            line += f" by {', '.join(a.by)}"
        if a.requires:
            line += f" requires {', '.join(a.requires)}"
        if a.via_webhook is not None:
            line += f" via webhook {a.via_webhook}"
        line += _when(a.when)
        body.append(L(1, line, _at(a)))
        if a.effects:
            body.append(L(2, f"then {', '.join(_effect(e) for e in a.effects)}",
                          _kw(a, "then")))
    for h in mc.deadline_handlers:
        line = f"on deadline {h.state}"
        if h.action is not None:
            line += f" do {h.action}"
        if h.effects:
            line += " " + ", ".join(_effect(e) for e in h.effects)
        body.append(L(1, line, _at(h)))
    for mig in mc.migrations:
        body.append(L(1, f"migrate {mig.old} to {mig.new}", _at(mig)))
    return _block(0, f"machine {mc.name}{_title(mc.title)} {{", _at(mc), body)


def _follow(d: m.FollowDecl) -> list[PrintedLine]:
    L = PrintedLine
    body: list[PrintedLine] = []
    if d.open_with:
        body.append(L(1, "open { " + ", ".join(f"{b.name} = {print_expr(b.value)}" for b in d.open_with) + " }",
                      _kw(d, "open")))
    for s in d.statuses:
        line = f"status {s.status} do {', '.join(s.actions)}"
        if s.payload:
            line += " with { " + ", ".join(f"{b.name} = {print_expr(b.value)}" for b in s.payload) + " }"
        body.append(L(1, line, _at(s)))
    return _block(0, f"follow {d.name} for {d.subject} on {d.machine}{_when(d.when)} {{", _at(d), body)


def _fulfillment(d: m.FulfillmentDecl) -> list[PrintedLine]:
    L = PrintedLine
    body: list[PrintedLine] = []
    if d.late_after is not None:
        body.append(L(1, f"late after {duration_text(d.late_after)}", _kw(d, "late_after")))
    body += [L(1, f"warn {duration_text(w.lead)} before {w.due} {_effect(w.notify)}", _at(w)) for w in d.warnings]
    return _block(0, f"fulfillment {d.name} {{", _at(d), body)


def _source(d: m.SourceDecl) -> list[PrintedLine]:
    L = PrintedLine
    body: list[PrintedLine] = []
    if d.platform is not None:
        body.append(L(1, f"platform {d.platform}", _kw(d, "platform")))
    if d.credentials:
        body.append(L(1, f"credentials {', '.join(f'env {c.var}' for c in d.credentials)}",
                      _kw(d, "credentials")))
    body += [L(1, f"pull {p.what} every {duration_text(p.every)}", _at(p)) for p in d.pulls]
    if d.retry:
        body.append(L(1, f"retry {', '.join(duration_text(r) for r in d.retry)}",
                      _kw(d, "retry")))
    return _block(0, f"source {d.name}{_title(d.title)} {{", _at(d), body)


def _cleaning_step(s: m.CleaningStep) -> str:
    if isinstance(s, m.NormalizeStep):
        return f"normalize {'.'.join(s.target)} to {s.to}"
    if isinstance(s, m.DropStep):
        return f"drop when {print_expr(s.when)}"
    return f"set {'.'.join(s.target)} = {print_expr(s.value)}{_when(s.when)}"


def layout_declaration(d: m.Declaration) -> list[PrintedLine]:
    """The canonical lines of one declaration, each with where it came from in the source."""
    L = PrintedLine
    if isinstance(d, m.SourceDecl):
        return _source(d)
    if isinstance(d, m.MappingDecl):
        return _block(0, f"mapping {d.name} {{", _at(d),
                      [line for f in d.fields for line in _field_mapping_lines(f, 1)])
    if isinstance(d, m.CleaningDecl):
        return _block(0, f"cleaning {d.name} {{", _at(d),
                      [L(1, _cleaning_step(s), _at(s)) for s in d.steps])
    if isinstance(d, m.PromotionDecl):
        return _promotion(d)
    if isinstance(d, m.MachineDecl):
        return _machine(d)
    if isinstance(d, m.ChannelDecl):
        settings = ", ".join(_setting(s) for s in d.settings)
        return [L(0, f"channel {d.name} {d.type} {{ {settings} }}" if settings
                  else f"channel {d.name} {d.type} {{ }}", _at(d))]
    if isinstance(d, m.HookDecl):
        body: list[PrintedLine] = []
        if d.settings:
            body.append(L(1, ", ".join(_setting(s) for s in d.settings), _at(d.settings[0])))
        body += [L(1, f"{b.name} = {print_expr(b.value)}", _at(b)) for b in d.bindings]
        return _block(0, f"hook {d.name} {d.type} {{", _at(d), body)
    if isinstance(d, m.AlertDecl):
        by = f" by {'.'.join(d.by.path)}" if d.by is not None else ""
        per = f" per {d.measure.period}" if d.measure.period is not None else ""
        body = [L(1, f"measure {print_expr(d.measure.value)}{per}{by}",
                  _kw(d, "measure"))]
        if d.minimum is not None:
            body.append(L(1, f"minimum {d.minimum}", _kw(d, "minimum")))
        if d.cooldown is not None:
            body.append(L(1, f"cooldown {duration_text(d.cooldown)}", _kw(d, "cooldown")))
        body.append(L(1, f"when {print_expr(d.when)}", _kw(d, "when")))
        body += [L(1, _effect(n), _at(n)) for n in d.notify]
        body += [L(1, f"clear {_effect(n)}", _kw(d, "clear")) if i == 0 else L(2, _effect(n), _at(n))
                 for i, n in enumerate(d.clear)]
        return _block(0, f"alert {d.name} {{", _at(d), body)
    if isinstance(d, m.RiskDecl):
        then = f"then flag {quote(d.flag)}{' hold' if d.hold else ''}"
        then += "".join(f", {_effect(n)}" for n in d.notify)
        return _block(0, f"risk {d.name} {{", _at(d),
                      [L(1, f"when {print_expr(d.when)}", _kw(d, "when")),
                       L(1, then, _kw(d, "then"))])
    if isinstance(d, m.FollowDecl):
        return _follow(d)
    if isinstance(d, m.FulfillmentDecl):
        return _fulfillment(d)
    raise TypeError(f"not a declaration: {type(d).__name__}")


def print_declaration(d: m.Declaration) -> str:
    """Canonical text of one declaration (no trailing newline)."""
    return "\n".join(_INDENT * line.depth + line.text for line in layout_declaration(d))


def print_dsl(ruleset: m.Ruleset) -> str:
    """Canonical ``.op`` text of a ruleset: declarations separated by a blank line."""
    if not ruleset.declarations:
        return ""
    return "\n\n".join(print_declaration(d) for d in ruleset.declarations) + "\n"
