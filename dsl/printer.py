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

from . import model as m
from .units import duration_text, literal_number_text, money_text, percent_text

__all__ = ["print_dsl", "print_expr", "print_declaration", "quote"]

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
        return f"{node.func}({', '.join(print_expr(a) for a in node.args)})"
    if isinstance(node, m.ListExpr):
        return f"[{', '.join(print_expr(a) for a in node.items)}]"
    if isinstance(node, m.MapTable):
        entries = ", ".join(f"{_literal(e.key)}: {_literal(e.value)}" for e in node.entries)
        return f"{_wrap(node.source, _POSTFIX)} map {{ {entries} }}"
    if isinstance(node, m.Each):
        inner = "  ".join(_field_mapping(f) for f in node.fields)
        return f"each {node.source.dotted} {{ {inner} }}" if inner else \
            f"each {node.source.dotted} {{ }}"
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


def _field_mapping(f: m.FieldMapping) -> str:
    return f"{'.'.join(f.target)} = {print_expr(f.value)}"


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
        return f"call {e.target}.{e.operation}({', '.join(print_expr(a) for a in e.args)})"
    if isinstance(e, m.Archive):
        return f"archive {e.target}"
    if isinstance(e, m.SetField):
        return f"set {e.field} = {print_expr(e.value)}"
    if isinstance(e, m.OpenTicket):
        return f"open {e.machine}"
    raise TypeError(f"not an effect: {type(e).__name__}")


def _lines_where(where: m.Expr | None) -> str:
    return f" on lines where {print_expr(where)}" if where is not None else ""


def _discount(d: m.Discount) -> str:
    if isinstance(d, m.PercentOff):
        cap = f" cap {money_text(d.cap)}" if d.cap is not None else ""
        return f"percent_off {percent_text(d.percent)}{_lines_where(d.lines_where)}{cap}"
    if isinstance(d, m.AmountOff):
        split = f" split by {d.split_by}" if d.split_by is not None else ""
        return f"amount_off {print_expr(d.amount)}{split}{_lines_where(d.lines_where)}"
    if isinstance(d, m.EveryOff):
        cap = f" cap {money_text(d.cap)}" if d.cap is not None else ""
        split = f" split by {d.split_by}" if d.split_by is not None else ""
        return (f"every {money_text(d.every)} off {money_text(d.off)}{cap}{split}"
                f"{_lines_where(d.lines_where)}")
    if isinstance(d, m.FixedPrice):
        return f"fixed_price {money_text(d.price)}{_lines_where(d.lines_where)}"
    raise TypeError(f"not a discount: {type(d).__name__}")


def _when(expr: m.Expr | None) -> str:
    return f" when {print_expr(expr)}" if expr is not None else ""


def _funded(funded_by: str | None) -> str:
    return f" funded by {funded_by}" if funded_by is not None else ""


def _region(name: str) -> str:
    return name if _IDENT.match(name) else quote(name)


def _promotion(p: m.PromotionDecl) -> list[str]:
    out = [f"promotion {p.name}{_title(p.title)} {{"]
    i1, i2 = _INDENT, _INDENT * 2
    if p.order:
        out.append(f"{i1}order {' > '.join(p.order)}")
    for t in p.tiers:
        pick = f" pick {t.pick}" if t.pick is not None else ""
        out.append(f"{i1}tier {t.name}{_title(t.title)}{pick}{_funded(t.funded_by)} {{")
        for r in t.rules:
            out.append(f"{i2}rule {quote(r.name)}{_when(r.when)}{_funded(r.funded_by)} "
                       f"{{ {_discount(r.discount)} }}")
        out.append(f"{i1}}}")
    for g in p.gifts:
        items = "  ".join(f"add sku {quote(i.sku)} qty {i.qty}" for i in g.items)
        out.append(f"{i1}gift {quote(g.name)}{_when(g.when)} {{ {items} }}")
    for x in p.exclusions:
        if isinstance(x, m.TagExclusion):
            out.append(f"{i1}exclude lines tagged {quote(x.tag)} from {', '.join(x.tiers)}")
        else:
            out.append(f"{i1}exclude rule {quote(x.first)} with rule {quote(x.second)}")
    for f in p.freight:
        free = f" free over {money_text(f.free_over)}" if f.free_over is not None else ""
        out.append(f"{i1}freight {f.name} {{")
        out.append(f"{i2}base {money_text(f.base)}{free}")
        for r in f.regions:
            rfree = f" free over {money_text(r.free_over)}" if r.free_over is not None else ""
            out.append(f"{i2}region {', '.join(_region(n) for n in r.regions)} base "
                       f"{money_text(r.base)}{rfree}")
        out.append(f"{i1}}}")
    out.append("}")
    return out


def _machine(mc: m.MachineDecl) -> list[str]:
    i1, i2 = _INDENT, _INDENT * 2
    out = [f"machine {mc.name}{_title(mc.title)} {{"]
    if mc.data:
        fields = ", ".join(f"{f.name}: {f.type}{'?' if f.optional else ''}" for f in mc.data)
        out.append(f"{i1}data {{ {fields} }}")
    if mc.initial is not None:
        out.append(f"{i1}initial {mc.initial}")
    for s in mc.states:
        owner = f" owner {s.owner}" if s.owner is not None else ""
        deadline = f" deadline {duration_text(s.deadline)}" if s.deadline is not None else ""
        final = " final" if s.final else ""
        out.append(f"{i1}state {s.name}{owner}{deadline}{final}")
    for a in mc.actions:
        line = f"{i1}action {a.name} from {', '.join(a.sources)} to {a.target}"
        if a.by:
            line += f" by {', '.join(a.by)}"
        if a.requires:
            line += f" requires {', '.join(a.requires)}"
        if a.via_webhook is not None:
            line += f" via webhook {a.via_webhook}"
        line += _when(a.when)
        out.append(line)
        if a.effects:
            out.append(f"{i2}then {', '.join(_effect(e) for e in a.effects)}")
    for h in mc.deadline_handlers:
        line = f"{i1}on deadline {h.state}"
        if h.action is not None:
            line += f" do {h.action}"
        if h.effects:
            line += " " + ", ".join(_effect(e) for e in h.effects)
        out.append(line)
    for mig in mc.migrations:
        out.append(f"{i1}migrate {mig.old} to {mig.new}")
    out.append("}")
    return out


def print_declaration(d: m.Declaration) -> str:
    """Canonical text of one declaration (no trailing newline)."""
    i1 = _INDENT
    out: list[str]
    if isinstance(d, m.SourceDecl):
        out = [f"source {d.name}{_title(d.title)} {{"]
        if d.platform is not None:
            out.append(f"{i1}platform {d.platform}")
        if d.credentials:
            out.append(f"{i1}credentials {', '.join(f'env {c.var}' for c in d.credentials)}")
        out += [f"{i1}pull {p.what} every {duration_text(p.every)}" for p in d.pulls]
        if d.retry:
            out.append(f"{i1}retry {', '.join(duration_text(r) for r in d.retry)}")
        out.append("}")
    elif isinstance(d, m.MappingDecl):
        out = [f"mapping {d.name} {{"] + [f"{i1}{_field_mapping(f)}" for f in d.fields] + ["}"]
    elif isinstance(d, m.CleaningDecl):
        out = [f"cleaning {d.name} {{"]
        for s in d.steps:
            if isinstance(s, m.NormalizeStep):
                out.append(f"{i1}normalize {'.'.join(s.target)} to {s.to}")
            elif isinstance(s, m.DropStep):
                out.append(f"{i1}drop when {print_expr(s.when)}")
            else:
                out.append(f"{i1}set {'.'.join(s.target)} = {print_expr(s.value)}{_when(s.when)}")
        out.append("}")
    elif isinstance(d, m.PromotionDecl):
        out = _promotion(d)
    elif isinstance(d, m.MachineDecl):
        out = _machine(d)
    elif isinstance(d, m.ChannelDecl):
        settings = ", ".join(_setting(s) for s in d.settings)
        out = [f"channel {d.name} {d.type} {{ {settings} }}" if settings
               else f"channel {d.name} {d.type} {{ }}"]
    elif isinstance(d, m.HookDecl):
        out = [f"hook {d.name} {d.type} {{"]
        if d.settings:
            out.append(f"{i1}{', '.join(_setting(s) for s in d.settings)}")
        out += [f"{i1}{b.name} = {print_expr(b.value)}" for b in d.bindings]
        out.append("}")
    elif isinstance(d, m.AlertDecl):
        out = [f"alert {d.name} {{",
               f"{i1}measure {print_expr(d.measure.value)} per {d.measure.period}",
               f"{i1}when {print_expr(d.when)}"]
        out += [f"{i1}{_effect(n)}" for n in d.notify]
        out.append("}")
    elif isinstance(d, m.RiskDecl):
        then = f"then flag {quote(d.flag)}{' hold' if d.hold else ''}"
        then += "".join(f", {_effect(n)}" for n in d.notify)
        out = [f"risk {d.name} {{", f"{i1}when {print_expr(d.when)}", f"{i1}{then}", "}"]
    else:
        raise TypeError(f"not a declaration: {type(d).__name__}")
    return "\n".join(out)


def print_dsl(ruleset: m.Ruleset) -> str:
    """Canonical ``.op`` text of a ruleset: declarations separated by a blank line."""
    if not ruleset.declarations:
        return ""
    return "\n\n".join(print_declaration(d) for d in ruleset.declarations) + "\n"


