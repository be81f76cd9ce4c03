"""Grammar rules → model nodes, run by the LALR parser at each reduction (no parse tree).

This module owns what each rule of ``grammar.lark`` becomes in :mod:`dsl.model`: decoding
strings and unit literals, "given twice" checks, and source positions. It is handed to lark as
an inline transformer, so a node is built the moment its rule is recognised.

Positions follow lark's ``propagate_positions`` rule exactly: a node starts where its first
child starts, where a parenthesised expression starts at its ``(``. Leading keywords are named
terminals in the grammar so they reach the callbacks as tokens. The state of one parse (file
name, collected errors, paren starts, tree heights) lives in a :class:`Reducer`, found through
a thread-local, so one parser instance serves every thread.

The lexer also hands every comment and brace to the active reducer (:func:`lexer_callbacks`);
they are not part of the model, only of the source layout that ``fmt`` needs.

Tree heights mirror the parse tree lark would have built; the parser uses them to decide when
an input needs the exact nesting check (see :func:`dsl.parser.parse_text`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple, TypedDict

from lark import Token

from . import model as m
from .errors import Diagnostic, source_line_at
from .units import UnitError, decode_number

__all__ = ["RULES", "Reducer", "active", "callbacks", "lexer_callbacks"]

_local = threading.local()
_EXAMPLES = {m.MONEY: "¥300", m.DURATION: "60s", m.PERCENT: "5%", m.COUNT: "3"}
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}
_HEX = frozenset("0123456789abcdefABCDEF")


class _Path(NamedTuple):
    """A dotted path with the position of its first name (``path`` is a helper rule)."""

    names: tuple[str, ...]
    line: int
    col: int


def _string(token: Token) -> str:
    raw: str = token.value[1:-1]
    if "\\" not in raw:
        return raw
    out: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            digits = raw[i + 2:i + 6]
            if nxt == "u" and len(digits) == 4 and all(c in _HEX for c in digits):
                out.append(chr(int(digits, 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _locs(tokens: Any) -> tuple[m.Loc, ...]:
    return tuple(m.Loc(t.line or 0, t.column or 0) for t in tokens)


def _kw_locs(items: Any, keys: tuple[str, ...]) -> list[tuple[str, tuple[m.Loc, ...]]]:
    """``("kw:KEY", (Loc,))`` for the first clause of each ``key`` among ``(key, value, keyword)``
    items: where a line that ``fmt`` prints starts (see :mod:`dsl.formatting`)."""
    out: dict[str, tuple[m.Loc, ...]] = {}
    for key, _, keyword in items:
        if key in keys and f"kw:{key}" not in out:
            out[f"kw:{key}"] = _locs((keyword,))
    return list(out.items())


class _Then(NamedTuple):
    """An action's ``then`` clause: its keyword (where ``fmt`` starts the line) and effects."""

    keyword: Token
    effects: tuple[Any, ...]


class _Pos(TypedDict):
    line: int
    col: int


def _at(token: Token) -> _Pos:
    return {"line": token.line or 0, "col": token.column or 0}


class Reducer:
    """One parse: file name and text (for diagnostics), errors found while building nodes,
    where parenthesised expressions start, and the parse-tree height of each value."""

    def __init__(self, filename: str, text: str) -> None:
        self.filename = filename
        self.text = text
        self.errors: list[Diagnostic] = []
        self.parens: dict[int, tuple[Any, int, int]] = {}
        self.heights: dict[int, int] = {}
        # every value a height was recorded for, kept alive for the parse: ``heights`` is keyed by
        # ``id()``, and a value freed mid-parse would hand its id, and its height, to a new one
        self.measured: list[Any] = []
        # comments and braces in source order, seen by the lexer (see lexer_callbacks)
        self.comments: list[Token] = []
        self.braces: list[Token] = []

    # ------------------------------------------------------------------ helpers
    def height(self, value: Any) -> int:
        return self.heights.get(id(value), 0)

    def error(self, where: Token | tuple[int, int], message: str, code: str = "syntax") -> None:
        if isinstance(where, Token):
            line, col = where.line or 0, where.column or 0
        else:
            line, col = where
        self.errors.append(Diagnostic(self.filename, line, col, message,
                                      source_line_at(self.text, line), code=code))

    def pos_of(self, value: Any) -> _Pos:
        """Where ``value`` (a child that is not a token) starts, as ``line=/col=`` kwargs."""
        paren = self.parens.get(id(value))
        if paren is not None:
            return {"line": paren[1], "col": paren[2]}
        return {"line": value.line, "col": value.col}

    def number(self, token: Token, want: str | None = None) -> int:
        try:
            value, unit = decode_number(token.value)
        except UnitError as exc:
            self.error(token, str(exc), code="unit")
            return 0
        if want is not None and unit != want:
            self.error(token, f"expected {want} like {_EXAMPLES[want]}, got {token.value}",
                       code="unit")
        return value

    def once(self, items: list[tuple[str, Any, Token]], what: str) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value, where in items:
            if key in seen:
                self.error(where, f"'{key}' given twice in {what}")
                continue
            seen[key] = value
        return seen

    # ------------------------------------------------------------------ expressions
    def literal(self, c: list[Token]) -> m.Literal:
        (tok,) = c
        pos = _at(tok)
        if tok.type == "STRING":
            return m.Literal(_string(tok), m.TEXT, **pos)
        if tok.type in ("TRUE", "FALSE"):
            return m.Literal(tok.type == "TRUE", m.BOOL, **pos)
        try:
            value, unit = decode_number(tok.value)
        except UnitError as exc:
            self.error(tok, str(exc), code="unit")
            return m.Literal(0, m.COUNT, **pos)
        return m.Literal(value, unit, **pos)

    def path(self, c: list[Token]) -> _Path:
        return _Path(tuple(str(t) for t in c), c[0].line or 0, c[0].column or 0)

    def name(self, c: list[_Path]) -> m.Name:
        p = c[0]
        return m.Name(p.names, line=p.line, col=p.col)

    def paren(self, c: list[Any]) -> Any:
        lpar, expr = c
        self.parens[id(expr)] = (expr, lpar.line or 0, lpar.column or 0)
        return expr

    def add(self, c: list[Any]) -> m.Arith:
        return m.Arith("+", c[0], c[1], **self.pos_of(c[0]))

    def sub(self, c: list[Any]) -> m.Arith:
        return m.Arith("-", c[0], c[1], **self.pos_of(c[0]))

    def mul(self, c: list[Any]) -> m.Arith:
        return m.Arith("*", c[0], c[1], **self.pos_of(c[0]))

    def div(self, c: list[Any]) -> m.Arith:
        return m.Arith("/", c[0], c[1], **self.pos_of(c[0]))

    def compare(self, c: list[Any]) -> m.Compare:
        left, op, right = c
        return m.Compare(str(op), left, right, **self.pos_of(left))

    def in_(self, c: list[Any]) -> m.In:
        return m.In(c[0], c[1], **self.pos_of(c[0]))

    def not_in(self, c: list[Any]) -> m.In:
        return m.In(c[0], c[1], negated=True, **self.pos_of(c[0]))

    def neg(self, c: list[Any]) -> m.Neg:
        return m.Neg(c[1], **_at(c[0]))

    def not_(self, c: list[Any]) -> m.Not:
        return m.Not(c[1], **_at(c[0]))

    def and_(self, c: list[Any]) -> m.BoolOp:
        return m.BoolOp("and", tuple(c), **self.pos_of(c[0]))

    def or_(self, c: list[Any]) -> m.BoolOp:
        return m.BoolOp("or", tuple(c), **self.pos_of(c[0]))

    def arglist(self, c: list[Any]) -> tuple[Any, ...]:
        return tuple(c)

    def call(self, c: list[Any]) -> m.Call:
        func, args = c
        return m.Call(str(func), args or (), **_at(func))

    def list_(self, c: list[Any]) -> m.ListExpr:
        return m.ListExpr(c[1] or (), **_at(c[0]))

    def map_entry(self, c: list[Any]) -> m.MapEntry:
        return m.MapEntry(c[0], c[1], **self.pos_of(c[0]))

    def map_else(self, c: list[Any]) -> m.Literal:
        return c[0]  # type: ignore[no-any-return]

    def map_table(self, c: list[Any]) -> m.MapTable:
        *entries, default = c[1:]
        return m.MapTable(c[0], tuple(entries), default, **self.pos_of(c[0]))

    def collection(self, c: list[Token]) -> str:
        return str(c[0])

    def agg_where(self, c: list[Any]) -> Any:
        return c[0]

    def agg_by(self, c: list[_Path]) -> m.Name:
        p = c[0]
        return m.Name(p.names, line=p.line, col=p.col)

    def agg_within(self, c: list[Token]) -> int:
        return self.number(c[0], m.DURATION)

    def aggregate(self, c: list[Any]) -> m.Aggregate:
        func, of, collection, where, by, within = c
        return m.Aggregate(str(func), collection, of=of, where=where, by=by, within=within,
                           **_at(func))

    # ------------------------------------------------------------------ source
    def env_ref(self, c: list[Token]) -> m.EnvRef:
        return m.EnvRef(str(c[1]), **_at(c[0]))

    def src_platform(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("platform", c[1], c[0])

    def src_credentials(self, c: list[Any]) -> tuple[str, Any, Token]:
        return ("credentials", tuple(c[1:]), c[0])

    def src_pull(self, c: list[Token]) -> tuple[str, Any, Token]:
        kw, what, every = c
        return ("pull", m.Pull(str(what), self.number(every, m.DURATION), **_at(kw)), kw)

    def src_retry(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("retry", tuple(self.number(t, m.DURATION) for t in c[1:]), c[0])

    def source(self, c: list[Any]) -> m.SourceDecl:
        kw, name, title, *items = c
        pulls = tuple(v for k, v, _ in items if k == "pull")
        once = self.once([i for i in items if i[0] != "pull"], f"source {name}")
        locs = _kw_locs(items, ("platform", "credentials", "retry"))
        platform = once.get("platform")
        if platform is not None:
            locs.append(("platform", _locs((platform,))))
        return m.SourceDecl(str(name), _string(title) if title else None,
                            platform=None if platform is None else str(platform),
                            credentials=once.get("credentials", ()),
                            pulls=pulls, retry=once.get("retry", ()), locs=tuple(locs), **_at(kw))

    # ------------------------------------------------------------------ mapping and cleaning
    def field_mapping(self, c: list[Any]) -> m.FieldMapping:
        p, value = c
        return m.FieldMapping(p.names, value, line=p.line, col=p.col)

    def each_where(self, c: list[Any]) -> Any:
        return c[0]

    def each(self, c: list[Any]) -> m.Each:
        kw, p, where, *fields = c
        return m.Each(m.Name(p.names, line=p.line, col=p.col), tuple(fields), where, **_at(kw))

    def mapping(self, c: list[Any]) -> m.MappingDecl:
        return m.MappingDecl(str(c[1]), tuple(c[2:]), **_at(c[0]))

    def when_clause(self, c: list[Any]) -> Any:
        return c[0]

    def normalize(self, c: list[Any]) -> m.NormalizeStep:
        kw, p, to = c
        return m.NormalizeStep(p.names, str(to), **_at(kw))

    def drop(self, c: list[Any]) -> m.DropStep:
        return m.DropStep(c[1], **_at(c[0]))

    def set_step(self, c: list[Any]) -> m.SetStep:
        kw, p, value, when = c
        return m.SetStep(p.names, value, when, **_at(kw))

    def cleaning(self, c: list[Any]) -> m.CleaningDecl:
        return m.CleaningDecl(str(c[1]), tuple(c[2:]), **_at(c[0]))

    # ------------------------------------------------------------------ promotion
    def money(self, c: list[Token]) -> int:
        return self.number(c[0], m.MONEY)

    def cap(self, c: list[int]) -> int:
        return c[0]

    def free_over(self, c: list[int]) -> int:
        return c[0]

    def split(self, c: list[Token]) -> str:
        return str(c[0])

    def lines_where(self, c: list[Any]) -> Any:
        return c[0]

    def pick(self, c: list[Token]) -> Token:
        return c[0]

    def funded(self, c: list[Token]) -> str:
        return str(c[0])

    def percent_off(self, c: list[Any]) -> m.PercentOff:
        kw, pct, where, cap = c
        return m.PercentOff(self.number(pct, m.PERCENT), where, cap, **_at(kw))

    def amount_off(self, c: list[Any]) -> m.AmountOff:
        kw, amount, split, where = c
        return m.AmountOff(amount, split, where, **_at(kw))

    def every_off(self, c: list[Any]) -> m.EveryOff:
        kw, every, off, cap, split, where = c
        return m.EveryOff(every, off, cap, split, where, **_at(kw))

    def fixed_price(self, c: list[Any]) -> m.FixedPrice:
        kw, price, where = c
        return m.FixedPrice(price, where, **_at(kw))

    def rule(self, c: list[Any]) -> m.Rule:
        kw, name, when, funded, discount = c
        return m.Rule(_string(name), discount, when, funded, **_at(kw))

    def tier(self, c: list[Any]) -> m.Tier:
        kw, name, title, pick, funded, *rules = c
        return m.Tier(str(name), _string(title) if title else None,
                      None if pick is None else str(pick), funded, tuple(rules),
                      locs=(("pick", _locs((pick,))),) if pick is not None else (), **_at(kw))

    def promo_order(self, c: list[Token]) -> tuple[str, Any, Token]:
        names = c[1:]
        return ("order", (tuple(str(t) for t in names), _locs(names)), c[0])

    def gift_item(self, c: list[Any]) -> m.GiftItem:
        kw, sku, qty = c
        return m.GiftItem(_string(sku), self.number(qty, m.COUNT) if qty is not None else 1,
                          **_at(kw))

    def gift(self, c: list[Any]) -> m.Gift:
        kw, name, when, *items = c
        return m.Gift(_string(name), tuple(items), when, **_at(kw))

    def tag_exclusion(self, c: list[Token]) -> m.TagExclusion:
        kw, tag, *tiers = c
        return m.TagExclusion(_string(tag), tuple(str(t) for t in tiers),
                              locs=(("tiers", _locs(tiers)),), **_at(kw))

    def rule_conflict(self, c: list[Token]) -> m.RuleConflict:
        kw, first, second = c
        return m.RuleConflict(_string(first), _string(second), **_at(kw))

    def region_name(self, c: list[Token]) -> str:
        tok = c[0]
        return _string(tok) if tok.type == "STRING" else str(tok)

    def region_freight(self, c: list[Any]) -> m.RegionFreight:
        kw, *regions, base, free_over = c
        return m.RegionFreight(tuple(regions), base, free_over, **_at(kw))

    def freight(self, c: list[Any]) -> m.FreightTemplate:
        kw, name, base_kw, base, free_over, *regions = c
        return m.FreightTemplate(str(name), base, free_over, tuple(regions),
                                 locs=(("kw:base", _locs((base_kw,))),), **_at(kw))

    # the price check's tolerance (pricing) ------------------------------------------
    def tolerance(self, c: list[Token]) -> tuple[int, str, Token]:
        (tok,) = c
        try:
            value, unit = decode_number(tok.value)
        except UnitError as exc:
            self.error(tok, str(exc), code="unit")
            return 0, m.MONEY, tok
        if unit not in (m.MONEY, m.PERCENT):
            self.error(tok, f"a tolerance is money like ¥5 or a percent like 2%, got {tok.value}",
                       code="unit")
        return value, unit, tok

    def price_check(self, c: list[Any]) -> m.PriceCheck:
        kw, first, second = c
        amount: int | None = None
        percent: int | None = None
        for value, unit, tok in (first, second) if second is not None else (first,):
            if unit == m.MONEY:
                if amount is not None:
                    self.error(tok, "price_check takes one money amount and one percent, "
                                    "e.g. tolerance ¥5 or 2%")
                amount = value
            elif unit == m.PERCENT:
                if percent is not None:
                    self.error(tok, "price_check takes one money amount and one percent, "
                                    "e.g. tolerance ¥5 or 2%")
                percent = value
        return m.PriceCheck(amount, percent, **_at(kw))

    def promotion(self, c: list[Any]) -> m.PromotionDecl:
        kw, name, title, *items = c
        orders = [i for i in items if isinstance(i, tuple)]
        if len(orders) > 1:
            self.error(orders[1][2], f"'order' given twice in promotion {name}")
        checks = [i for i in items if isinstance(i, m.PriceCheck)]
        if len(checks) > 1:
            self.error((checks[1].line, checks[1].col), f"'price_check' given twice in promotion {name}")
        order, order_locs = orders[0][1] if orders else ((), ())
        locs = (("order", order_locs), ("kw:order", _locs((orders[0][2],)))) if orders else ()
        return m.PromotionDecl(
            str(name), _string(title) if title else None,
            order=order, locs=locs,
            tiers=tuple(i for i in items if isinstance(i, m.Tier)),
            gifts=tuple(i for i in items if isinstance(i, m.Gift)),
            exclusions=tuple(i for i in items if isinstance(i, (m.TagExclusion, m.RuleConflict))),
            freight=tuple(i for i in items if isinstance(i, m.FreightTemplate)),
            price_check=checks[0] if checks else None,
            **_at(kw))

    # ------------------------------------------------------------------ channels and hooks
    def setting_env(self, c: list[Token]) -> m.Setting:
        key, var = c
        return m.Setting(str(key), m.EnvRef(str(var), **_at(var)), **_at(key))

    def setting_literal(self, c: list[Any]) -> m.Setting:
        return m.Setting(str(c[0]), c[1], **_at(c[0]))

    def binding(self, c: list[Any]) -> m.Binding:
        return m.Binding(str(c[0]), c[1], **_at(c[0]))

    def channel(self, c: list[Any]) -> m.ChannelDecl:
        return m.ChannelDecl(str(c[1]), str(c[2]), tuple(c[3:]), locs=(("type", _locs(c[2:3])),),
                             **_at(c[0]))

    def hook(self, c: list[Any]) -> m.HookDecl:
        items = c[3:]
        return m.HookDecl(str(c[1]), str(c[2]),
                          tuple(i for i in items if isinstance(i, m.Setting)),
                          tuple(i for i in items if isinstance(i, m.Binding)),
                          locs=(("type", _locs(c[2:3])),), **_at(c[0]))

    # ------------------------------------------------------------------ machine
    def data_field(self, c: list[Any]) -> m.DataField:
        name, typ, optional = c
        return m.DataField(str(name), str(typ), optional is not None,
                           locs=(("type", _locs((typ,))),), **_at(name))

    def data_block(self, c: list[Any]) -> tuple[str, Any, Token]:
        return ("data", tuple(f for f in c[1:] if f is not None), c[0])

    def initial(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("initial", c[1], c[0])

    def owner(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("owner", c[1], c[0])

    def deadline(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("deadline", self.number(c[1], m.DURATION), c[0])

    def final(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("final", True, c[0])

    def state(self, c: list[Any]) -> m.State:
        kw, name, *options = c
        once = self.once(options, f"state {name}")
        owner = once.get("owner")
        return m.State(str(name), None if owner is None else str(owner), once.get("deadline"),
                       once.get("final", False),
                       locs=(("owner", _locs((owner,))),) if owner is not None else (), **_at(kw))

    def by(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("by", tuple(c[1:]), c[0])

    def requires(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("requires", tuple(c[1:]), c[0])

    def action_when(self, c: list[Any]) -> tuple[str, Any, Token]:
        return ("when", c[1], c[0])

    def via(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("via", c[1], c[0])

    def then_clause(self, c: list[Any]) -> _Then:
        return _Then(c[0], tuple(c[1:]))

    def action(self, c: list[Any]) -> m.Action:
        kw, name_token = c[0], c[1]
        name = str(name_token)
        then: _Then | None = c[-1]
        effects = then.effects if then is not None else ()
        rest = c[2:-1]
        names: list[Token] = []
        i = 0
        while i < len(rest) and isinstance(rest[i], Token):
            names.append(rest[i])
            i += 1
        once = self.once(list(rest[i:]), f"action {name}")
        by, requires, via = once.get("by", ()), once.get("requires", ()), once.get("via")
        locs = [("sources", _locs(names[:-1])), ("target", _locs(names[-1:]))]
        if by:
            locs.append(("by", _locs(by)))
        if requires:
            locs.append(("requires", _locs(requires)))
        if via is not None:
            locs.append(("via_webhook", _locs((via,))))
        if then is not None:
            locs.append(("kw:then", _locs((then.keyword,))))
        return m.Action(name, tuple(str(t) for t in names[:-1]), str(names[-1]),
                        tuple(str(t) for t in by), tuple(str(t) for t in requires),
                        once.get("when"), None if via is None else str(via), tuple(effects),
                        locs=tuple(locs), **_at(kw))

    def notify(self, c: list[Any]) -> m.Notify:
        kw, channel, to, message = c
        return m.Notify(str(channel), _string(message), to,
                        locs=(("channel", _locs((channel,))),), **_at(kw))

    def call_effect(self, c: list[Any]) -> m.CallEffect:
        kw, target, operation, args = c
        return m.CallEffect(str(target), str(operation), args or (),
                            locs=(("target", _locs((target,))), ("operation", _locs((operation,)))), **_at(kw))

    def archive(self, c: list[Token]) -> m.Archive:
        return m.Archive(str(c[1]), locs=(("target", _locs((c[1],))),), **_at(c[0]))

    def set_field(self, c: list[Any]) -> m.SetField:
        return m.SetField(str(c[1]), c[2], **_at(c[0]))

    def open_ticket(self, c: list[Token]) -> m.OpenTicket:
        return m.OpenTicket(str(c[1]), **_at(c[0]))

    def deadline_handler(self, c: list[Any]) -> m.DeadlineHandler:
        kw, state, action, *effects = c
        locs = [("state", _locs((state,)))]
        if action is not None:
            locs.append(("action", _locs((action,))))
        return m.DeadlineHandler(str(state), None if action is None else str(action),
                                 tuple(e for e in effects if e is not None), locs=tuple(locs),
                                 **_at(kw))

    def migrate(self, c: list[Token]) -> m.StateMapping:
        return m.StateMapping(str(c[1]), str(c[2]), locs=(("old", _locs(c[1:2])),
                                                          ("new", _locs(c[2:3]))), **_at(c[0]))

    def machine(self, c: list[Any]) -> m.MachineDecl:
        kw, name, title, *items = c
        keyed = [i for i in items if isinstance(i, tuple)]
        once = self.once(keyed, f"machine {name}")
        initial = once.get("initial")
        locs = _kw_locs(keyed, ("data", "initial"))
        if initial is not None:
            locs.append(("initial", _locs((initial,))))
        return m.MachineDecl(
            str(name), _string(title) if title else None,
            data=once.get("data", ()), initial=None if initial is None else str(initial),
            locs=tuple(locs),
            states=tuple(i for i in items if isinstance(i, m.State)),
            actions=tuple(i for i in items if isinstance(i, m.Action)),
            deadline_handlers=tuple(i for i in items if isinstance(i, m.DeadlineHandler)),
            migrations=tuple(i for i in items if isinstance(i, m.StateMapping)),
            **_at(kw))

    # ------------------------------------------------------------------ alerts and risk
    def alert_per(self, c: list[Token]) -> Token:
        return c[0]

    def alert_by(self, c: list[Any]) -> tuple[m.Name, Token]:
        p = c[1]
        return m.Name(p.names, line=p.line, col=p.col), c[0]

    def alert_minimum(self, c: list[Token]) -> tuple[int, Token]:
        return self.number(c[1], m.COUNT), c[0]

    def alert_cooldown(self, c: list[Token]) -> tuple[int, Token]:
        return self.number(c[1], m.DURATION), c[0]

    def alert_clear(self, c: list[Any]) -> tuple[tuple[m.Notify, ...], Token]:
        return tuple(c[1:]), c[0]

    def alert(self, c: list[Any]) -> m.AlertDecl:
        kw, name, measure_kw, value, per, by, minimum, cooldown, when_kw, when, *rest = c
        clear, notify = rest[-1], rest[:-1]
        measure = (m.Measure(value, str(per), **_at(per)) if per is not None
                   else m.Measure(value, None, **_at(measure_kw)))
        locs: list[tuple[str, tuple[m.Loc, ...]]] = [("kw:measure", _locs((measure_kw,))),
                                                      ("kw:when", _locs((when_kw,)))]
        for key, item in (("minimum", minimum), ("cooldown", cooldown), ("clear", clear)):
            if item is not None:
                locs.append((f"kw:{key}", _locs((item[1],))))
        return m.AlertDecl(str(name), measure, when, tuple(notify),
                           by=by[0] if by is not None else None,
                           minimum=minimum[0] if minimum is not None else None,
                           cooldown=cooldown[0] if cooldown is not None else None,
                           clear=clear[0] if clear is not None else (),
                           locs=tuple(locs), **_at(kw))

    def risk(self, c: list[Any]) -> m.RiskDecl:
        kw, name, when_kw, when, then_kw, flag, hold, *notify = c
        return m.RiskDecl(str(name), when, _string(flag), hold is not None, tuple(notify),
                          locs=(("kw:when", _locs((when_kw,))), ("kw:then", _locs((then_kw,)))),
                          **_at(kw))

    # ------------------------------------------------------------------ follow
    def follow_assign(self, c: list[Any]) -> m.Binding:
        return m.Binding(str(c[0]), c[1], **_at(c[0]))

    def follow_with(self, c: list[Any]) -> tuple[m.Binding, ...]:
        return tuple(c)

    def follow_open(self, c: list[Any]) -> tuple[str, Any, Token]:
        return ("open", tuple(c[1:]), c[0])

    def follow_status(self, c: list[Any]) -> m.StatusAction:
        kw, status, *rest = c
        actions = [t for t in rest if isinstance(t, Token)]
        payload = next((p for p in rest if isinstance(p, tuple)), ())
        return m.StatusAction(str(status), tuple(str(a) for a in actions), payload,
                              locs=(("status", _locs((status,))), ("actions", _locs(actions))), **_at(kw))

    def follow(self, c: list[Any]) -> m.FollowDecl:
        kw, name, subject, on_kw, machine, when_kw, when, *items = c
        keyed = [i for i in items if isinstance(i, tuple)]
        opened: tuple[m.Binding, ...] = tuple(b for _, value, _ in keyed for b in value)
        locs = [("subject", _locs((subject,))), ("machine", _locs((machine,))), *_kw_locs(keyed, ("open",))]
        if when_kw is not None:
            locs.append(("kw:when", _locs((when_kw,))))
        return m.FollowDecl(str(name), str(subject), str(machine), when, opened,
                            tuple(i for i in items if isinstance(i, m.StatusAction)), locs=tuple(locs), **_at(kw))

    # ------------------------------------------------------------------ fulfillment
    def late_after(self, c: list[Token]) -> tuple[str, Any, Token]:
        return ("late_after", self.number(c[1], m.DURATION), c[0])

    def ship_warning(self, c: list[Any]) -> m.ShipWarning:
        kw, lead, due, notify = c
        return m.ShipWarning(self.number(lead, m.DURATION), str(due), notify, locs=(("due", _locs((due,))),),
                             **_at(kw))

    def fulfillment(self, c: list[Any]) -> m.FulfillmentDecl:
        kw, name, *items = c
        keyed = [i for i in items if isinstance(i, tuple)]
        once = self.once(keyed, f"fulfillment {name}")
        return m.FulfillmentDecl(str(name), once.get("late_after"),
                                 tuple(i for i in items if isinstance(i, m.ShipWarning)),
                                 locs=tuple(_kw_locs(keyed, ("late_after",))), **_at(kw))

    def start(self, c: list[Any]) -> tuple[Any, ...]:
        return tuple(c)


# rules that lark folds into their only child when building a tree: no level of their own
_NO_LEVEL = frozenset({"paren"})


def _reduction(method: Callable[[Reducer, list[Any]], Any], adds_level: bool
               ) -> Callable[[list[Any]], Any]:
    def reduce(children: list[Any]) -> Any:
        reducer: Reducer = _local.reducer
        heights = reducer.heights
        height = 0
        for child in children:
            h = None if child is None else heights.get(id(child))
            if h is not None and h > height:
                height = h
        value = method(reducer, children)
        if value is not None:  # (None is one object: an absent optional part has no height)
            heights[id(value)] = height + 1 if adds_level else height
            reducer.measured.append(value)
        return value
    reduce.__name__ = method.__name__
    return reduce


_HELPERS = frozenset({"height", "error", "pos_of", "number", "once"})
RULES: frozenset[str] = frozenset(
    name for name, value in vars(Reducer).items()
    if callable(value) and not name.startswith("_") and name not in _HELPERS)


class _Callbacks:
    """What lark calls at each reduction: one attribute per rule (or alias) name."""


def callbacks() -> _Callbacks:
    """The inline transformer handed to ``Lark(transformer=...)``."""
    out = _Callbacks()
    for name in RULES:
        setattr(out, name, _reduction(getattr(Reducer, name), name not in _NO_LEVEL))
    return out


def _keep_comment(token: Token) -> Token:
    reducer = getattr(_local, "reducer", None)
    if reducer is not None:  # lexing outside a parse (e.g. counting tokens) keeps nothing
        reducer.comments.append(token)
    return token


def _keep_brace(token: Token) -> Token:
    reducer = getattr(_local, "reducer", None)
    if reducer is not None:
        reducer.braces.append(token)
    return token


def lexer_callbacks() -> dict[str, Callable[[Token], Token]]:
    """What the lexer calls for comments (an ignored terminal: not seen by the parser) and
    for ``{``/``}``: they are kept, with their positions, on the active :class:`Reducer` so
    ``fmt`` can put comments back (see :mod:`dsl.formatting`). Nothing else uses them."""
    return {"COMMENT": _keep_comment, "LBRACE": _keep_brace, "RBRACE": _keep_brace}


class active:
    """``with active(reducer):`` makes ``reducer`` the one the callbacks of this thread use."""

    def __init__(self, reducer: Reducer) -> None:
        self.reducer = reducer

    def __enter__(self) -> Reducer:
        self.previous = getattr(_local, "reducer", None)
        _local.reducer = self.reducer
        return self.reducer

    def __exit__(self, *exc: object) -> None:
        _local.reducer = self.previous
