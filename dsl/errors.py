"""Diagnostics for rulesets: where a problem is, what it is, and how to show it.

This module owns the :class:`Diagnostic` record (file, line, column, message, the source line
and a caret; or a JSON pointer for JSON input) and :class:`RuleError`, the only exception the
language package raises for bad input. It knows nothing about grammar or checking rules.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

__all__ = ["Diagnostic", "RuleError", "caret_line", "source_line_at"]


def source_line_at(text: str, line: int) -> str:
    """The 1-based ``line`` of ``text`` without its newline ('' when out of range)."""
    if line < 1 or not text:
        return ""
    lines = text.splitlines()
    return lines[line - 1] if line <= len(lines) else ""


def _display_width(text: str) -> int:
    width = 0
    for ch in text:
        if ch == "\t":
            width += 1
        elif unicodedata.east_asian_width(ch) in ("W", "F"):
            width += 2
        else:
            width += 1
    return width


def caret_line(source_line: str, col: int) -> str:
    """Spaces and a ``^`` under the 1-based ``col`` of ``source_line``, counting wide (CJK)
    characters as two cells and keeping tabs so the caret lines up in a terminal."""
    prefix = source_line[: max(col - 1, 0)]
    pad = "".join("\t" if ch == "\t" else " " * _display_width(ch) for ch in prefix)
    return pad + "^"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a ruleset.

    ``line``/``col`` are 1-based (0 when unknown, e.g. for JSON input, which has ``pointer``).
    ``code`` is a stable short identifier (``syntax``, ``unknown-name``, ``unit`` …) for tools.
    """

    file: str
    line: int
    col: int
    message: str
    source_line: str = ""
    pointer: str = ""
    code: str = "error"
    severity: str = "error"

    @property
    def caret(self) -> str:
        return caret_line(self.source_line, self.col) if self.source_line else ""

    @property
    def location(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        if self.pointer:
            return f"{self.file}:{self.pointer}"
        return self.file

    def format(self) -> str:
        """``file:line:col: message`` then the source line and a caret line (when known);
        for JSON input ``file:/json/pointer: message``."""
        head = f"{self.location}: {self.message}"
        if self.line and self.source_line:
            return f"{head}\n{self.source_line}\n{self.caret}"
        return head

    def __str__(self) -> str:
        return self.format()


class RuleError(Exception):
    """Bad ruleset input. Carries every diagnostic found; the first one is also exposed as
    ``file``/``line``/``col``/``message``/``source_line``/``caret``/``pointer``."""

    diagnostics: list[Diagnostic]

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic) -> None:
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        if not diagnostics:
            raise ValueError("RuleError needs at least one diagnostic")
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    @classmethod
    def at(cls, file: str, text: str, line: int, col: int, message: str,
           code: str = "error", pointer: str = "") -> RuleError:
        return cls(Diagnostic(file, line, col, message, source_line_at(text, line),
                              pointer=pointer, code=code))

    @property
    def first(self) -> Diagnostic:
        return self.diagnostics[0]

    @property
    def file(self) -> str:
        return self.first.file

    @property
    def line(self) -> int:
        return self.first.line

    @property
    def col(self) -> int:
        return self.first.col

    @property
    def message(self) -> str:
        return self.first.message

    @property
    def source_line(self) -> str:
        return self.first.source_line

    @property
    def caret(self) -> str:
        return self.first.caret

    @property
    def pointer(self) -> str:
        return self.first.pointer

