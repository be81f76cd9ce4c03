"""Validation of ruleset content: the single place that knows how content is checked.

:func:`validate_content` is the only entry point; the rulesets service (and through it the
API and the builder) call it and nothing else. It hands the text to the language package
(:func:`dsl.load_text`, the language's one reader of both formats, then :func:`dsl.check`) and
turns every diagnostic into a :class:`Problem` with a line and column (DSL) or a JSON
pointer (JSON) and a message. Pure: no I/O, no storage, no HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dsl
from dsl import model as m
from dsl.errors import Diagnostic, RuleError

FORMATS: tuple[str, ...] = dsl.FORMATS


@dataclass(frozen=True)
class Problem:
    """One problem in ruleset content.

    ``line``/``col`` are 1-based positions in DSL text (0 when unknown); ``pointer`` is the
    RFC 6901 pointer of the offending JSON value ("" when not JSON or the whole document).
    ``severity`` "error" blocks publishing; anything else is advice.
    """

    message: str
    line: int = 0
    col: int = 0
    pointer: str = ""
    code: str = "invalid"
    severity: str = "error"
    source_line: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def to_detail(self) -> dict[str, Any]:
        """The problem as an entry of an API error's ``details``: ``path`` is the request field
        holding the content; ``line``/``col`` or ``pointer`` locate the problem inside it."""
        out: dict[str, Any] = {"path": "/content", "message": self.message, "code": self.code,
                               "severity": self.severity}
        if self.line:
            out["line"] = self.line
            out["col"] = self.col
        if self.pointer or not self.line:
            out["pointer"] = self.pointer
        return out


# (content, format, filename) -> the model; raises RuleError
Loader = Callable[[str, str, str], m.Ruleset]


def validate_content(content: str, fmt: str, *, filename: str = "<ruleset>",
                     load: Loader = dsl.load_text) -> list[Problem]:
    """Every problem found in ``content`` written in ``fmt`` ("dsl" or "json"); [] when valid.
    ``load`` reads the content: the language's reader, or (when publishing) the published-rules
    loader, so the version about to be published is parsed once and its model cached."""
    if fmt not in FORMATS:
        return [Problem(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}", code="format")]
    try:
        found = dsl.check(load(content, fmt, filename))
    except RuleError as err:
        found = err.diagnostics
    return sorted((_problem(d) for d in found), key=lambda p: (p.line, p.col, p.pointer, p.message))


def has_errors(problems: list[Problem]) -> bool:
    return any(p.is_error for p in problems)


def _problem(diag: Diagnostic) -> Problem:
    return Problem(
        message=diag.message,
        line=diag.line,
        col=diag.col,
        pointer=diag.pointer,
        code=diag.code,
        severity=diag.severity,
        source_line=diag.source_line,
    )
