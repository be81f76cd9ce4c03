"""DSL text → :class:`dsl.model.Ruleset`.

This module owns reading ``.op`` text: size and nesting guards that run before lark sees the
input, the LALR parsers built from ``grammar.lark`` (contextual lexer; model nodes are built at
each reduction by :mod:`dsl.reductions`, so no parse tree is made), and turning lark's
exceptions into :class:`dsl.errors.RuleError` with a position and a human sentence. It does
not check names or types (see :mod:`dsl.checker`).

Each parser (one for files, one for single expressions) is built once per process, on first
use, and shared by all threads. An input whose parse tree would nest deeper than
:data:`MAX_TREE_DEPTH` is read again by a tree-building parser (built only then), so the error
points at exactly the node a tree walk finds.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from . import model as m
from .errors import Diagnostic, RuleError, source_line_at
from .reductions import Reducer, active, callbacks, lexer_callbacks

__all__ = ["MAX_NESTING", "MAX_TEXT_LENGTH", "MAX_TREE_DEPTH", "SourceLayout", "parse_expression",
           "parse_layout", "parse_text"]

MAX_TEXT_LENGTH = 2_000_000
MAX_NESTING = 64
MAX_TREE_DEPTH = 150
MAX_OPERATORS = 2000
# below this tree height no input can fail the nesting check (a few levels of slack for the
# heights of shared small values, see dsl.reductions)
_DEPTH_SLACK = 4
_OPERATOR_SCAN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|[{}]|\band\b|\bor\b|[-+*/<>=!,]')
# strings (ending at their quote or at the end of the line), comments, and brackets
_BRACKET_SCAN = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"?|#[^\n]*|[()\[\]{}]')

_GRAMMAR = Path(__file__).with_name("grammar.lark")
_build_lock = threading.Lock()
_parsers: dict[tuple[str, str], Lark] = {}


def _build(start: str, kind: str) -> Lark:
    grammar = _GRAMMAR.read_text(encoding="utf-8")
    if kind == "tree":
        return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True,
                    maybe_placeholders=True, start=start)
    return Lark(grammar, parser="lalr", lexer="contextual", maybe_placeholders=True,
                start=start, transformer=callbacks(), lexer_callbacks=lexer_callbacks())


def _parser(start: str, kind: str = "model") -> Lark:
    """The shared parser for ``start`` ("start": a file, "expr": one expression); one LALR
    table per start symbol, as a table with both would merge their lookaheads. ``"model"``
    builds model nodes as it parses; ``"tree"`` builds a lark tree with positions (only for
    the exact nesting check)."""
    parser = _parsers.get((start, kind))
    if parser is None:
        with _build_lock:
            parser = _parsers.get((start, kind))
            if parser is None:
                parser = _parsers[(start, kind)] = _build(start, kind)
    return parser


# --------------------------------------------------------------------------- guards


def _line_col(text: str, pos: int) -> tuple[int, int]:
    return text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _guard(text: str, filename: str) -> None:
    """Refuse input that could make the parser or later passes work unboundedly."""
    if len(text) > MAX_TEXT_LENGTH:
        raise RuleError.at(filename, text, 1, 1,
                           f"file is too large ({len(text)} characters, at most "
                           f"{MAX_TEXT_LENGTH})", code="limit")
    depth = 0
    for match in _BRACKET_SCAN.finditer(text):
        ch = match.group()
        if ch in "([{":
            depth += 1
            if depth > MAX_NESTING:
                line, col = _line_col(text, match.start())
                raise RuleError.at(filename, text, line, col,
                                   f"brackets nest deeper than {MAX_NESTING} levels",
                                   code="limit")
        elif ch in ")]}" and depth:
            depth -= 1
    operators = 0
    for match in _OPERATOR_SCAN.finditer(text):
        token = match.group()
        if token in "{}":
            operators = 0
        elif token[0] not in '"#':
            operators += 1
            if operators > MAX_OPERATORS:
                line, col = _line_col(text, match.start())
                raise RuleError.at(filename, text, line, col,
                                   f"expression is too long (more than {MAX_OPERATORS} "
                                   "operators)", code="limit")


def _exact_depth_check(text: str, filename: str, start: str) -> None:
    """Raise when the parse tree nests deeper than MAX_TREE_DEPTH, at the first such node in
    a right-to-left depth-first walk. ``paren`` nodes are folded into their expression, as
    lark folds ``"(" expr ")"``."""
    tree = _parser(start, "tree").parse(text)
    stack: list[tuple[Any, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            continue
        while node.data == "paren":
            node = node.children[1]
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
        pos = exc.pos_in_stream or 0
        ch = text[pos] if pos < len(text) else ""
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


# --------------------------------------------------------------------------- entry points


def _run(text: str, filename: str, start: str) -> tuple[Any, Reducer]:
    if not isinstance(text, str):
        raise RuleError(Diagnostic(filename, 0, 0, "input must be text", code="input"))
    _guard(text, filename)
    parser = _parser(start)
    with active(Reducer(filename, text)) as reducer:
        try:
            result = parser.parse(text)
        except UnexpectedInput as exc:
            raise _syntax_error(exc, parser, filename, text) from None
    if reducer.height(result) > MAX_TREE_DEPTH - _DEPTH_SLACK:
        _exact_depth_check(text, filename, start)
    if reducer.errors:
        raise RuleError(reducer.errors)
    return result, reducer


@dataclass(frozen=True)
class SourceLayout:
    """What of a file's text is not in its model: its comments and braces, as lexer tokens
    (``value``, ``line``, ``column``) in source order. Used by :mod:`dsl.formatting`."""

    ruleset: m.Ruleset
    comments: tuple[Token, ...]
    braces: tuple[Token, ...]


def parse_text(text: str, filename: str = "<input>") -> m.Ruleset:
    """Parse a whole ``.op`` file into a :class:`~dsl.model.Ruleset`; raises RuleError."""
    declarations, _ = _run(text, filename, "start")
    return m.Ruleset(declarations, filename=filename, text=text)


def parse_layout(text: str, filename: str = "<input>") -> SourceLayout:
    """Like :func:`parse_text`, also returning the comments and braces of the text."""
    declarations, reducer = _run(text, filename, "start")
    return SourceLayout(m.Ruleset(declarations, filename=filename, text=text),
                        tuple(reducer.comments), tuple(reducer.braces))


def parse_expression(text: str, filename: str = "<expr>") -> m.Expr:
    """Parse a single expression, e.g. ``current_total >= ¥300 and "秒杀" not in tags``."""
    result, _ = _run(text, filename, "expr")
    return result  # type: ignore[no-any-return]
