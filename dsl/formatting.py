"""Canonical ``.op`` text that keeps the writer's comments: what ``orderpulse fmt`` writes.

This module owns :func:`format_source`. Comments are not part of the model (two files that
differ only in comments are equal models, and :func:`dsl.printer.print_dsl` prints none); the
lexer hands them over with their positions (see :func:`dsl.parser.parse_layout`), and each is
attached to one line of the canonical text (:func:`dsl.printer.layout_declaration`), found
through the source position of the word that line starts with.

Where a comment goes:

- A comment alone on its line goes directly above the line that starts with the next code
  after it, at that line's indentation: above the statement or declaration that follows it,
  or, when nothing follows inside its block, above the block's closing brace (indented like
  the block's body). Comments after the last code of the file stay at the end, after a blank
  line. A comment with code after it in the same statement (inside a ``data { … }`` block or
  an expression written over several lines, which ``fmt`` prints on one line) goes above that
  statement's printed line.
- A comment after code on its line stays at the end of the printed line of the statement it
  followed (``}  # …`` stays on the closing brace). When several comments end up on one
  printed line (a rule written over three lines, each with a comment), the first stays at the
  end of the line and the others go directly above that line, in their order.

No comment is ever dropped: every comment of the input is in the output exactly once, with its
trailing spaces removed, and formatting is a fixed point (``format_source`` of its own output
returns it unchanged).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from lark import Token

from .parser import parse_layout
from .printer import PrintedLine, layout_declaration

__all__ = ["format_source"]

_INDENT = "    "
_BLANK = " \t\f\r"
Pos = tuple[int, int]


@dataclass
class _Slot:
    """One printed line and the comments attached to it."""

    line: PrintedLine
    at: Pos
    before: list[str] = field(default_factory=list)
    trailing: str | None = None


def _closing_braces(braces: tuple[Token, ...]) -> tuple[list[Pos], list[Pos]]:
    """Positions of every ``{`` in order, and of the ``}`` that closes each."""
    opens: list[Pos] = []
    closes: list[Pos] = []
    stack: list[int] = []
    for token in braces:
        pos = (token.line or 0, token.column or 0)
        if token.value == "{":
            stack.append(len(opens))
            opens.append(pos)
            closes.append((0, 0))
        elif stack:
            closes[stack.pop()] = pos
    return opens, closes


def _next_code(lines: list[str], comment_at: set[Pos]) -> list[Pos | None]:
    """For each 1-based line number n (index n), where the first code at or after it starts."""
    found: list[Pos | None] = [None] * (len(lines) + 2)
    for n in range(len(lines), 0, -1):
        text = lines[n - 1]
        rest = text.lstrip(_BLANK)
        col = len(text) - len(rest) + 1
        found[n] = found[n + 1] if not rest or (n, col) in comment_at else (n, col)
    return found


def format_source(text: str, filename: str = "<input>") -> str:
    """Canonical text of the ``.op`` file ``text`` with every comment kept (see the module
    docstring for where each goes). Raises :class:`dsl.errors.RuleError` for bad input."""
    layout = parse_layout(text, filename)
    opens, closes = _closing_braces(layout.braces)
    blocks: list[list[_Slot]] = []
    for declaration in layout.ruleset.declarations:
        slots = []
        for printed in layout_declaration(declaration):
            at = printed.at
            if printed.closes is not None:
                i = bisect_left(opens, printed.closes)
                at = closes[i] if i < len(opens) else (0, 0)
            slots.append(_Slot(printed, at))
        blocks.append(slots)
    known = sorted((s for slots in blocks for s in slots if s.at != (0, 0)),
                   key=lambda s: s.at)
    anchors = [s.at for s in known]
    exact: dict[Pos, _Slot] = {}
    for s in known:
        exact.setdefault(s.at, s)

    def last_before(pos: Pos) -> _Slot | None:
        i = bisect_left(anchors, pos)
        return known[i - 1] if i else (known[0] if known else None)

    lines = text.split("\n")
    comment_at = {(c.line or 0, c.column or 0) for c in layout.comments}
    next_code = _next_code(lines, comment_at)
    at_end: list[str] = []
    for comment in layout.comments:
        value = comment.value.rstrip()
        line, col = comment.line or 0, comment.column or 0
        owner: _Slot | None
        if lines[line - 1][:col - 1].strip(_BLANK):
            owner = last_before((line, col))
            if owner is not None and owner.trailing is None:
                owner.trailing = value
                continue
        else:
            follows = next_code[line + 1]
            owner = None if follows is None else exact.get(follows) or last_before(follows)
        if owner is None:
            at_end.append(value)
        else:
            owner.before.append(value)

    out: list[str] = []
    for i, slots in enumerate(blocks):
        if i:
            out.append("")
        for s in slots:
            depth = s.line.depth + (1 if s.line.closes is not None else 0)
            out += [_INDENT * depth + c for c in s.before]
            tail = f"  {s.trailing}" if s.trailing is not None else ""
            out.append(_INDENT * s.line.depth + s.line.text + tail)
    if at_end:
        if out:
            out.append("")
        out += at_end
    return "\n".join(out) + "\n" if out else ""
