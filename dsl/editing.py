"""Targeted edits of ``.op`` text: replace one declaration by a new model of it while leaving
every other character of the file alone.

This module owns :func:`replace_declaration`, what the web builder's forms use: a form edits
the model of one declaration, and the change is written back into the user's text as the
smallest line-level change, not as a reprint of the file. The canonical lines of the old and
the new declaration (:func:`dsl.printer.layout_declaration`) are compared; lines whose
canonical text is unchanged keep their source text exactly (spacing, comments, line breaks);
a changed statement replaces only the source lines it was written on, keeping the comments
written on those lines (a comment after code stays at the end of the new line, a comment on
its own line stays above it). Text outside the declaration is never touched.

Pure: no I/O; raises :class:`dsl.errors.RuleError` when the text does not parse.
"""

from __future__ import annotations

import difflib
from bisect import bisect_right
from dataclasses import dataclass

from lark import Token

from . import model as m
from .errors import Diagnostic, RuleError
from .parser import parse_layout
from .printer import PrintedLine, layout_declaration

__all__ = ["replace_declaration"]

_INDENT = "    "


@dataclass
class _Span:
    """A canonical line of the old declaration and the source lines (1-based, inclusive) it
    was written on."""

    printed: PrintedLine
    first: int
    last: int


def _closing_lines(braces: tuple[Token, ...]) -> dict[tuple[int, int], int]:
    """For each ``{`` position, the source line of the ``}`` that closes it."""
    stack: list[tuple[int, int]] = []
    out: dict[tuple[int, int], int] = {}
    for token in braces:
        pos = (token.line or 0, token.column or 0)
        if token.value == "{":
            stack.append(pos)
        elif stack:
            out[stack.pop()] = pos[0]
    return out


def _header_brace(braces: tuple[Token, ...], at: tuple[int, int]) -> tuple[int, int] | None:
    """The first ``{`` at or after source position ``at`` (the brace of a block header)."""
    for token in braces:
        pos = (token.line or 0, token.column or 0)
        if token.value == "{" and pos >= at:
            return pos
    return None


def _spans(old: m.Declaration, lines: list[str], braces: tuple[Token, ...],
           comment_lines: set[int]) -> list[_Span]:
    printed = layout_declaration(old)
    closing = _closing_lines(braces)
    starts: list[int] = []
    for p in printed:
        if p.closes is not None:
            brace = _header_brace(braces, p.closes)
            starts.append(closing.get(brace, 0) if brace else 0)
        else:
            starts.append(p.at[0])
    if any(s <= 0 for s in starts):
        raise RuleError(Diagnostic("<input>", 0, 0, "declaration positions unknown", code="layout"))
    ordered = sorted(set(starts))
    spans: list[_Span] = []
    for first, p in zip(starts, printed):
        i = bisect_right(ordered, first)
        last = ordered[i] - 1 if i < len(ordered) else first
        # Comment-only and blank lines before the next statement belong to that statement.
        while last > first and (not lines[last - 1].strip() or last in comment_lines):
            last -= 1
        spans.append(_Span(p, first, last))
    return spans


def replace_declaration(text: str, old_name: str, kind: str, new: m.Declaration,
                        filename: str = "<input>") -> str:
    """``text`` with declaration ``kind`` ``old_name`` replaced by ``new``, changed only on the
    lines whose statements changed (see the module docstring). Raises :class:`RuleError` when
    the text does not parse or has no such declaration."""
    layout = parse_layout(text, filename)
    old = next((d for d in layout.ruleset.declarations if d.kind == kind and d.name == old_name), None)
    if old is None:
        raise RuleError(Diagnostic(filename, 0, 0, f"no {kind} named {old_name} in the text", code="not-found"))
    lines = text.split("\n")
    comments_by_line: dict[int, list[Token]] = {}
    for c in layout.comments:
        comments_by_line.setdefault(c.line or 0, []).append(c)
    comment_lines = {n for n, cs in comments_by_line.items()
                     if not lines[n - 1][:(cs[0].column or 1) - 1].strip()}
    spans = _spans(old, lines, layout.braces, comment_lines)
    new_printed = layout_declaration(new)
    old_texts = [(s.printed.depth, s.printed.text) for s in spans]
    new_texts = [(p.depth, p.text) for p in new_printed]

    def render(p: PrintedLine) -> str:
        return _INDENT * p.depth + p.text

    def rewritten(group: list[_Span], replacement: list[PrintedLine]) -> list[str]:
        """The new lines for old statements ``group``: their own comments kept."""
        above: list[str] = []
        trailing: list[str] = []
        for span in group:
            for n in range(span.first, span.last + 1):
                for c in comments_by_line.get(n, []):
                    value = c.value.rstrip()
                    if n in comment_lines and n != span.first:
                        above.append(lines[n - 1].rstrip())
                    elif n not in comment_lines:
                        trailing.append(value)
        out = list(above)
        rendered = [render(p) for p in replacement]
        if rendered and trailing:
            out += [_INDENT * replacement[0].depth + t for t in trailing[1:]]
            rendered[0] = f"{rendered[0]}  {trailing[0]}"
        elif trailing:
            depth = group[0].printed.depth if group else 0
            out += [_INDENT * depth + t for t in trailing]
        return out + rendered

    # (first_line, last_line, new_lines) edits in source order
    edits: list[tuple[int, int, list[str]]] = []
    matcher = difflib.SequenceMatcher(a=old_texts, b=new_texts, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        replacement = new_printed[b0:b1]
        if a0 == a1:  # pure insertion after old statement a0 - 1
            after = spans[a0 - 1].last if a0 > 0 else spans[0].first - 1
            edits.append((after + 1, after, [render(p) for p in replacement]))
        else:
            group = spans[a0:a1]
            edits.append((group[0].first, group[-1].last, rewritten(group, replacement)))
    for first, last, new_lines in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[first - 1:last] = new_lines
    return "\n".join(lines)
