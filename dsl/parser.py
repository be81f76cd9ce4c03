"""DSL text → :class:`dsl.model.Ruleset`.

This module owns reading ``.op`` text: size and nesting guards that run before lark sees the
input, the LALR parser built from ``grammar.lark``, the Transformer into the model, and turning
lark's exceptions into :class:`dsl.errors.RuleError` with a position and a human sentence.
It does not check names or types (see :mod:`dsl.checker`).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (UnexpectedCharacters, UnexpectedEOF, UnexpectedInput,
                             UnexpectedToken, VisitError)

from . import model as m
from .errors import Diagnostic, RuleError, source_line_at
from .units import UnitError, decode_number

__all__ = ["parse_text", "parse_expression", "MAX_TEXT_LENGTH", "MAX_NESTING", "MAX_TREE_DEPTH"]

MAX_TEXT_LENGTH = 2_000_000
MAX_NESTING = 64
MAX_TREE_DEPTH = 150
MAX_OPERATORS = 2000
_OPERATOR_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[{}]|\band\b|\bor\b|[-+*/<>=!,]')

_GRAMMAR = Path(__file__).with_name("grammar.lark")


@lru_cache(maxsize=None)
def _parser(start: str) -> Lark:
    return Lark(_GRAMMAR.read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                propagate_positions=True, maybe_placeholders=True, start=start)


# --------------------------------------------------------------------------- guards


def _guard(text: str, filename: str) -> None:
    """Refuse input that could make the parser or later passes work unboundedly."""
    if len(text) > MAX_TEXT_LENGTH:
        raise RuleError.at(filename, text, 1, 1,
                           f"file is too large ({len(text)} characters, at most "
                           f"{MAX_TEXT_LENGTH})", code="limit")
    depth = 0
    line, col = 1, 0
    in_string = in_comment = escaped = False
    for ch in text:
        if ch == "\n":
            line, col = line + 1, 0
            in_comment = False
            in_string = False
            continue
        col += 1
        if in_comment:
            continue
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch == "#":
            in_comment = True
        elif ch in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise RuleError.at(filename, text, line, col,
                                   f"brackets nest deeper than {MAX_NESTING} levels",
                                   code="limit")
        elif ch in ")]}":
            depth = max(depth - 1, 0)
    operators = 0
    for match in _OPERATOR_SCAN.finditer(text):
        token = match.group()
        if token in "{}":
            operators = 0
        elif token[0] not in '"#':
            operators += 1
            if operators > MAX_OPERATORS:
                line = text.count("\n", 0, match.start()) + 1
                col = match.start() - (text.rfind("\n", 0, match.start()) + 1) + 1
                raise RuleError.at(filename, text, line, col,
                                   f"expression is too long (more than {MAX_OPERATORS} "
                                   "operators)", code="limit")


def _tree_depth_guard(tree: Tree, filename: str, text: str) -> None:
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            continue
        if depth > MAX_TREE_DEPTH:
            line = getattr(node.meta, "line", 1) if not node.meta.empty else 1
            col = getattr(node.meta, "column", 1) if not node.meta.empty else 1
            raise RuleError.at(filename, text, line, col,
                               f"expression nests deeper than {MAX_TREE_DEPTH} levels",
                               code="limit")
        stack.extend((child, depth + 1) for child in node.children)


# --------------------------------------------------------------------------- syntax errors

_TOKEN_NAMES = {
    "NAME": "a name", "STRING": "a string", "NUMBER": "a number", "MONEY": "a money amount",
    "CMP": "a comparison", "$END": "end of file", "OPTIONAL_MARK": "'?'", "HOLD": "'hold'",
    "TRUE": "'true'", "FALSE": "'false'",
}


def _describe_expected(parser: Lark, names: set[str]) -> str:
    described: set[str] = set()
    by_name = {t.name: t for t in parser.terminals}
    for name in names:
        if name in _TOKEN_NAMES:
            described.add(_TOKEN_NAMES[name])
        elif name in by_name and by_name[name].pattern.type == "str":
            described.add(f"'{by_name[name].pattern.value}'")
        else:
            described.add(name.lower())
    ordered = sorted(described)
    if len(ordered) > 8:
        return ", ".join(ordered[:8]) + ", …"
    return ", ".join(ordered)


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    return f"'{token.value}'"


def _syntax_error(exc: UnexpectedInput, parser: Lark, filename: str, text: str) -> RuleError:
    line = getattr(exc, "line", 0) or 0
    col = getattr(exc, "column", 0) or 0
    if isinstance(exc, UnexpectedCharacters):
        ch = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        message = f"unexpected character '{ch}'"
        if ch.isdigit():
            message = "malformed number (units are ¥ or 元 for money, % and s/m/h/d)"
    elif isinstance(exc, UnexpectedEOF):
        lines = text.splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        message = f"unexpected end of file; expected {_describe_expected(parser, set(exc.expected))}"
    elif isinstance(exc, UnexpectedToken):
        if exc.token.type == "$END":
            lines = text.splitlines() or [""]
            line, col = len(lines), len(lines[-1]) + 1
        message = (f"unexpected {_describe_token(exc.token)}; expected "
                   f"{_describe_expected(parser, set(exc.expected))}")
        if exc.token.value == "*" and "*" not in exc.expected:
            message = "unexpected '*' (there is no power operator)"
    else:  # pragma: no cover - lark has no other subclasses today
        message = "syntax error"
    line = max(line, 1)
    col = max(col, 1)
    return RuleError(Diagnostic(filename, line, col, message, source_line_at(text, line),
                                code="syntax"))


# --------------------------------------------------------------------------- transformer


def _pos(meta_or_token: Any) -> dict[str, int]:
    if isinstance(meta_or_token, Token):
        return {"line": meta_or_token.line or 0, "col": meta_or_token.column or 0}
    if getattr(meta_or_token, "empty", True):
        return {}
    return {"line": meta_or_token.line, "col": meta_or_token.column}


def _loc(token: Token) -> m.Loc:
    return m.Loc(token.line or 0, token.column or 0)


def _locs(tokens: list[Token]) -> tuple[m.Loc, ...]:
    return tuple(m.Loc(t.line or 0, t.column or 0) for t in tokens)


def _string(token: Token) -> str:
    raw = token.value[1:-1]
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            if nxt == "u" and i + 5 < len(raw) + 0 and all(
                    c in "0123456789abcdefABCDEF" for c in raw[i + 2:i + 6]) and len(
                    raw[i + 2:i + 6]) == 4:
                out.append(chr(int(raw[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(escapes.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _name(token: Token | None) -> str | None:
    return None if token is None else str(token.value)


@v_args(meta=True)
class _ToModel(Transformer):  # type: ignore[type-arg]
    """Parse tree → model. Problems are collected in ``errors`` rather than raised, so a file
    with several bad literals reports all of them."""

    def __init__(self, filename: str, text: str) -> None:
        super().__init__()
        self.filename = filename
        self.text = text
        self.errors: list[Diagnostic] = []

    # -- helpers
    def _error(self, where: Any, message: str, code: str = "syntax") -> None:
        pos = _pos(where)
        line, col = pos.get("line", 1), pos.get("col", 1)
        self.errors.append(Diagnostic(self.filename, line, col, message,
                                      source_line_at(self.text, line), code=code))

    def _number(self, token: Token, want: str | None = None) -> int:
        try:
            value, unit = decode_number(token.value)
        except UnitError as exc:
            self._error(token, str(exc), code="unit")
            return 0
        if want is not None and unit != want:
            examples = {m.MONEY: "¥300", m.DURATION: "60s", m.PERCENT: "5%", m.COUNT: "3"}
            self._error(token, f"expected {want} like {examples[want]}, got {token.value}",
                        code="unit")
        return value

    def _once(self, items: list[tuple[str, Any, Any]], what: str) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value, where in items:
            if key in seen:
                self._error(where, f"'{key}' given twice in {what}")
                continue
            seen[key] = value
        return seen

    # -- literals and expressions
    def literal(self, meta: Any, children: list[Token]) -> m.Literal:
        (tok,) = children
        pos = _pos(tok)
        if tok.type == "STRING":
            return m.Literal(_string(tok), m.TEXT, **pos)
        if tok.type in ("TRUE", "FALSE"):
            return m.Literal(tok.type == "TRUE", m.BOOL, **pos)
        try:
            value, unit = decode_number(tok.value)
        except UnitError as exc:
            self._error(tok, str(exc), code="unit")
            return m.Literal(0, m.COUNT, **pos)
        return m.Literal(value, unit, **pos)

    def path(self, meta: Any, children: list[Token]) -> tuple[tuple[str, ...], dict[str, int]]:
        return tuple(str(c) for c in children), _pos(meta)

    def name(self, meta: Any, children: list[Any]) -> m.Name:
        path, pos = children[0]
        return m.Name(path, **pos)

    def _binary(self, cls: type, op: str, meta: Any, children: list[Any]) -> Any:
        left, right = children
        return cls(op, left, right, **_pos(meta))

    def add(self, meta: Any, c: list[Any]) -> m.Arith:
        return self._binary(m.Arith, "+", meta, c)

    def sub(self, meta: Any, c: list[Any]) -> m.Arith:
        return self._binary(m.Arith, "-", meta, c)

    def mul(self, meta: Any, c: list[Any]) -> m.Arith:
        return self._binary(m.Arith, "*", meta, c)

    def div(self, meta: Any, c: list[Any]) -> m.Arith:
        return self._binary(m.Arith, "/", meta, c)

    def compare(self, meta: Any, c: list[Any]) -> m.Compare:
        left, op, right = c
        return m.Compare(str(op), left, right, **_pos(meta))

    def in_(self, meta: Any, c: list[Any]) -> m.In:
        return m.In(c[0], c[1], **_pos(meta))

    def not_in(self, meta: Any, c: list[Any]) -> m.In:
        return m.In(c[0], c[1], negated=True, **_pos(meta))

    def neg(self, meta: Any, c: list[Any]) -> m.Neg:
        return m.Neg(c[0], **_pos(meta))

    def not_(self, meta: Any, c: list[Any]) -> m.Not:
        return m.Not(c[0], **_pos(meta))

    def and_(self, meta: Any, c: list[Any]) -> m.BoolOp:
        return m.BoolOp("and", tuple(c), **_pos(meta))

    def or_(self, meta: Any, c: list[Any]) -> m.BoolOp:
        return m.BoolOp("or", tuple(c), **_pos(meta))

    def arglist(self, meta: Any, c: list[Any]) -> tuple[Any, ...]:
        return tuple(c)

    def call(self, meta: Any, c: list[Any]) -> m.Call:
        func, args = c
        return m.Call(str(func), args or (), **_pos(meta))

    def list_(self, meta: Any, c: list[Any]) -> m.ListExpr:
        return m.ListExpr(c[0] or (), **_pos(meta))

    def map_entry(self, meta: Any, c: list[Any]) -> m.MapEntry:
        return m.MapEntry(c[0], c[1], **_pos(meta))

    def map_table(self, meta: Any, c: list[Any]) -> m.MapTable:
        return m.MapTable(c[0], tuple(c[1:]), **_pos(meta))

    def collection(self, meta: Any, c: list[Token]) -> str:
        return str(c[0])

    def agg_where(self, meta: Any, c: list[Any]) -> Any:
        return c[0]

    def agg_by(self, meta: Any, c: list[Any]) -> m.Name:
        path, pos = c[0]
        return m.Name(path, **pos)

    def agg_within(self, meta: Any, c: list[Token]) -> int:
        return self._number(c[0], m.DURATION)

    def aggregate(self, meta: Any, c: list[Any]) -> m.Aggregate:
        func, of, collection, where, by, within = c
        return m.Aggregate(str(func), collection, of=of, where=where, by=by, within=within,
                           **_pos(meta))

    # -- source
    def env_ref(self, meta: Any, c: list[Token]) -> m.EnvRef:
        return m.EnvRef(str(c[0]), **_pos(meta))

    def src_platform(self, meta: Any, c: list[Token]) -> tuple[str, Any, Any]:
        return ("platform", str(c[0]), meta)

    def src_credentials(self, meta: Any, c: list[Any]) -> tuple[str, Any, Any]:
        return ("credentials", tuple(c), meta)

    def src_pull(self, meta: Any, c: list[Token]) -> tuple[str, Any, Any]:
        return ("pull", m.Pull(str(c[0]), self._number(c[1], m.DURATION), **_pos(meta)), meta)

    def src_retry(self, meta: Any, c: list[Token]) -> tuple[str, Any, Any]:
        return ("retry", tuple(self._number(t, m.DURATION) for t in c), meta)

    def source(self, meta: Any, c: list[Any]) -> m.SourceDecl:
        name, title, *items = c
        pulls = tuple(v for k, v, _ in items if k == "pull")
        once = self._once([i for i in items if i[0] != "pull"], f"source {name}")
        return m.SourceDecl(str(name), _string(title) if title else None,
                            platform=once.get("platform"), credentials=once.get("credentials", ()),
                            pulls=pulls, retry=once.get("retry", ()), **_pos(meta))

    # -- mapping and cleaning
    def field_mapping(self, meta: Any, c: list[Any]) -> m.FieldMapping:
        (path, _), value = c
        return m.FieldMapping(path, value, **_pos(meta))

    def each(self, meta: Any, c: list[Any]) -> m.Each:
        (path, pos), *fields = c
        return m.Each(m.Name(path, **pos), tuple(fields), **_pos(meta))

    def mapping(self, meta: Any, c: list[Any]) -> m.MappingDecl:
        return m.MappingDecl(str(c[0]), tuple(c[1:]), **_pos(meta))

    def when_clause(self, meta: Any, c: list[Any]) -> Any:
        return c[0]

    def normalize(self, meta: Any, c: list[Any]) -> m.NormalizeStep:
        (path, _), to = c
        return m.NormalizeStep(path, str(to), **_pos(meta))

    def drop(self, meta: Any, c: list[Any]) -> m.DropStep:
        return m.DropStep(c[0], **_pos(meta))

    def set_step(self, meta: Any, c: list[Any]) -> m.SetStep:
        (path, _), value, when = c
        return m.SetStep(path, value, when, **_pos(meta))

    def cleaning(self, meta: Any, c: list[Any]) -> m.CleaningDecl:
        return m.CleaningDecl(str(c[0]), tuple(c[1:]), **_pos(meta))

    # -- promotion
    def money(self, meta: Any, c: list[Token]) -> int:
        return self._number(c[0], m.MONEY)

    def cap(self, meta: Any, c: list[int]) -> int:
        return c[0]

    def free_over(self, meta: Any, c: list[int]) -> int:
        return c[0]

    def split(self, meta: Any, c: list[Token]) -> str:
        return str(c[0])

    def lines_where(self, meta: Any, c: list[Any]) -> Any:
        return c[0]

    def pick(self, meta: Any, c: list[Token]) -> str:
        return str(c[0])

    def funded(self, meta: Any, c: list[Token]) -> str:
        return str(c[0])

    def percent_off(self, meta: Any, c: list[Any]) -> m.PercentOff:
        pct, where, cap = c
        return m.PercentOff(self._number(pct, m.PERCENT), where, cap, **_pos(meta))

    def amount_off(self, meta: Any, c: list[Any]) -> m.AmountOff:
        amount, split, where = c
        return m.AmountOff(amount, split, where, **_pos(meta))

    def every_off(self, meta: Any, c: list[Any]) -> m.EveryOff:
        every, off, cap, split, where = c
        return m.EveryOff(every, off, cap, split, where, **_pos(meta))

    def fixed_price(self, meta: Any, c: list[Any]) -> m.FixedPrice:
        return m.FixedPrice(c[0], c[1], **_pos(meta))

    def rule(self, meta: Any, c: list[Any]) -> m.Rule:
        name, when, funded, discount = c
        return m.Rule(_string(name), discount, when, funded, **_pos(meta))

    def tier(self, meta: Any, c: list[Any]) -> m.Tier:
        name, title, pick, funded, *rules = c
        return m.Tier(str(name), _string(title) if title else None, pick, funded, tuple(rules),
                      **_pos(meta))

    def promo_order(self, meta: Any, c: list[Token]) -> tuple[str, Any, Any]:
        return ("order", (tuple(str(t) for t in c), _locs(c)), meta)

    def gift_item(self, meta: Any, c: list[Any]) -> m.GiftItem:
        sku, qty = c
        return m.GiftItem(_string(sku), self._number(qty, m.COUNT) if qty is not None else 1,
                          **_pos(meta))

    def gift(self, meta: Any, c: list[Any]) -> m.Gift:
        name, when, *items = c
        return m.Gift(_string(name), tuple(items), when, **_pos(meta))

    def tag_exclusion(self, meta: Any, c: list[Token]) -> m.TagExclusion:
        return m.TagExclusion(_string(c[0]), tuple(str(t) for t in c[1:]),
                              locs=(("tiers", _locs(c[1:])),), **_pos(meta))

    def rule_conflict(self, meta: Any, c: list[Token]) -> m.RuleConflict:
        return m.RuleConflict(_string(c[0]), _string(c[1]), **_pos(meta))

    def region_name(self, meta: Any, c: list[Token]) -> str:
        tok = c[0]
        return _string(tok) if tok.type == "STRING" else str(tok)

    def region_freight(self, meta: Any, c: list[Any]) -> m.RegionFreight:
        *regions, base, free_over = c
        return m.RegionFreight(tuple(regions), base, free_over, **_pos(meta))

    def freight(self, meta: Any, c: list[Any]) -> m.FreightTemplate:
        name, base, free_over, *regions = c
        return m.FreightTemplate(str(name), base, free_over, tuple(regions), **_pos(meta))

    def promotion(self, meta: Any, c: list[Any]) -> m.PromotionDecl:
        name, title, *items = c
        orders = [i for i in items if isinstance(i, tuple)]
        if len(orders) > 1:
            self._error(orders[1][2], f"'order' given twice in promotion {name}")
        order, order_locs = orders[0][1] if orders else ((), ())
        return m.PromotionDecl(
            str(name), _string(title) if title else None,
            order=order, locs=(("order", order_locs),) if order else (),
            tiers=tuple(i for i in items if isinstance(i, m.Tier)),
            gifts=tuple(i for i in items if isinstance(i, m.Gift)),
            exclusions=tuple(i for i in items if isinstance(i, (m.TagExclusion, m.RuleConflict))),
            freight=tuple(i for i in items if isinstance(i, m.FreightTemplate)),
            **_pos(meta))

    # -- channels and hooks
    def setting_env(self, meta: Any, c: list[Token]) -> m.Setting:
        return m.Setting(str(c[0]), m.EnvRef(str(c[1]), **_pos(c[1])), **_pos(meta))

    def setting_literal(self, meta: Any, c: list[Any]) -> m.Setting:
        return m.Setting(str(c[0]), c[1], **_pos(meta))

    def binding(self, meta: Any, c: list[Any]) -> m.Binding:
        return m.Binding(str(c[0]), c[1], **_pos(meta))

    def channel(self, meta: Any, c: list[Any]) -> m.ChannelDecl:
        return m.ChannelDecl(str(c[0]), str(c[1]), tuple(c[2:]), **_pos(meta))

    def hook(self, meta: Any, c: list[Any]) -> m.HookDecl:
        items = c[2:]
        return m.HookDecl(str(c[0]), str(c[1]),
                          tuple(i for i in items if isinstance(i, m.Setting)),
                          tuple(i for i in items if isinstance(i, m.Binding)), **_pos(meta))

    # -- machine
    def data_field(self, meta: Any, c: list[Any]) -> m.DataField:
        name, typ, optional = c
        return m.DataField(str(name), str(typ), optional is not None, **_pos(meta))

    def data_block(self, meta: Any, c: list[Any]) -> tuple[str, Any, Any]:
        return ("data", tuple(f for f in c if f is not None), meta)

    def initial(self, meta: Any, c: list[Token]) -> tuple[str, Any, Any]:
        return ("initial", str(c[0]), meta)

    def owner(self, meta: Any, c: list[Token]) -> tuple[str, Any, Any]:
        return ("owner", str(c[0]), meta)

    def deadline(self, meta: Any, c: list[Token]) -> tuple[str, Any, Any]:
        return ("deadline", self._number(c[0], m.DURATION), meta)

    def final(self, meta: Any, c: list[Any]) -> tuple[str, Any, Any]:
        return ("final", True, meta)

    def state(self, meta: Any, c: list[Any]) -> m.State:
        name, *options = c
        once = self._once(options, f"state {name}")
        return m.State(str(name), once.get("owner"), once.get("deadline"),
                       once.get("final", False), **_pos(meta))

    def by(self, meta: Any, c: list[Token]) -> tuple[str, Any, Any]:
        return ("by", tuple(c), meta)

    def requires(self, meta: Any, c: list[Token]) -> tuple[str, Any, Any]:
        return ("requires", tuple(c), meta)

    def action_when(self, meta: Any, c: list[Any]) -> tuple[str, Any, Any]:
        return ("when", c[0], meta)

    def via(self, meta: Any, c: list[Token]) -> tuple[str, Any, Any]:
        return ("via", c[0], meta)

    def then_clause(self, meta: Any, c: list[Any]) -> tuple[Any, ...]:
        return tuple(c)

    def action(self, meta: Any, c: list[Any]) -> m.Action:
        name = str(c[0])
        effects = c[-1] or ()
        names: list[Token] = []
        rest = c[1:-1]
        i = 0
        while i < len(rest) and isinstance(rest[i], Token):
            names.append(rest[i])
            i += 1
        once = self._once(list(rest[i:]), f"action {name}")
        by, requires, via = once.get("by", ()), once.get("requires", ()), once.get("via")
        locs = [("sources", _locs(names[:-1])), ("target", (_loc(names[-1]),))]
        if by:
            locs.append(("by", _locs(by)))
        if requires:
            locs.append(("requires", _locs(requires)))
        if via is not None:
            locs.append(("via_webhook", (_loc(via),)))
        return m.Action(name, tuple(str(t) for t in names[:-1]), str(names[-1]),
                        tuple(str(t) for t in by), tuple(str(t) for t in requires),
                        once.get("when"), None if via is None else str(via), tuple(effects),
                        locs=tuple(locs), **_pos(meta))

    def notify(self, meta: Any, c: list[Any]) -> m.Notify:
        channel, to, message = c
        return m.Notify(str(channel), _string(message), to,
                        locs=(("channel", (_loc(channel),)),), **_pos(meta))

    def call_effect(self, meta: Any, c: list[Any]) -> m.CallEffect:
        target, operation, args = c
        return m.CallEffect(str(target), str(operation), args or (),
                            locs=(("target", (_loc(target),)),), **_pos(meta))

    def archive(self, meta: Any, c: list[Token]) -> m.Archive:
        return m.Archive(str(c[0]), **_pos(meta))

    def set_field(self, meta: Any, c: list[Any]) -> m.SetField:
        return m.SetField(str(c[0]), c[1], **_pos(meta))

    def open_ticket(self, meta: Any, c: list[Token]) -> m.OpenTicket:
        return m.OpenTicket(str(c[0]), **_pos(meta))

    def deadline_handler(self, meta: Any, c: list[Any]) -> m.DeadlineHandler:
        state, action, *effects = c
        return m.DeadlineHandler(str(state), _name(action),
                                 tuple(e for e in effects if e is not None), **_pos(meta))

    def migrate(self, meta: Any, c: list[Token]) -> m.StateMapping:
        return m.StateMapping(str(c[0]), str(c[1]), **_pos(meta))

    def machine(self, meta: Any, c: list[Any]) -> m.MachineDecl:
        name, title, *items = c
        keyed = [i for i in items if isinstance(i, tuple)]
        once = self._once(keyed, f"machine {name}")
        return m.MachineDecl(
            str(name), _string(title) if title else None,
            data=once.get("data", ()), initial=once.get("initial"),
            states=tuple(i for i in items if isinstance(i, m.State)),
            actions=tuple(i for i in items if isinstance(i, m.Action)),
            deadline_handlers=tuple(i for i in items if isinstance(i, m.DeadlineHandler)),
            migrations=tuple(i for i in items if isinstance(i, m.StateMapping)),
            **_pos(meta))

    # -- alerts and risk
    def alert(self, meta: Any, c: list[Any]) -> m.AlertDecl:
        name, value, period, when, *notify = c
        measure = m.Measure(value, str(period), **_pos(period))
        return m.AlertDecl(str(name), measure, when, tuple(notify), **_pos(meta))

    def risk(self, meta: Any, c: list[Any]) -> m.RiskDecl:
        name, when, flag, hold, *notify = c
        return m.RiskDecl(str(name), when, _string(flag), hold is not None, tuple(notify),
                          **_pos(meta))

    def start(self, meta: Any, c: list[Any]) -> tuple[Any, ...]:
        return tuple(c)


# --------------------------------------------------------------------------- entry points


def _run(text: str, filename: str, start: str) -> Any:
    if not isinstance(text, str):
        raise RuleError(Diagnostic(filename, 0, 0, "input must be text", code="input"))
    _guard(text, filename)
    parser = _parser(start)
    try:
        tree = parser.parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, parser, filename, text) from None
    _tree_depth_guard(tree, filename, text)
    transformer = _ToModel(filename, text)
    try:
        result = transformer.transform(tree)
    except VisitError as exc:  # pragma: no cover - a bug in a transformer method
        if isinstance(exc.orig_exc, RuleError):
            raise exc.orig_exc from None
        raise
    if transformer.errors:
        raise RuleError(transformer.errors)
    return result


def parse_text(text: str, filename: str = "<input>") -> m.Ruleset:
    """Parse a whole ``.op`` file into a :class:`~dsl.model.Ruleset`; raises RuleError."""
    declarations = _run(text, filename, "start")
    return m.Ruleset(declarations, filename=filename, text=text)


def parse_expression(text: str, filename: str = "<expr>") -> m.Expr:
    """Parse a single expression, e.g. ``current_total >= ¥300 and "秒杀" not in tags``."""
    return _run(text, filename, "expr")  # type: ignore[no-any-return]
