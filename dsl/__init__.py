"""OrderPulse rules language: one declaration model, a DSL and a JSON form, a checker and an
expression compiler.

This package owns the language alone and imports nothing from ``engine``. Its public surface:

- :func:`parse_text`, :func:`load_file`, :func:`load_json` — text / files / JSON → :class:`Ruleset`
- :func:`print_dsl`, :func:`to_json` — model → canonical DSL text / JSON-ready dict
- :func:`format_source` — ``.op`` text → canonical text with its comments kept (``fmt``)
- :func:`check` — every :class:`Diagnostic` in a ruleset (empty list when clean)
- :func:`compile_condition`, :func:`compile_expression` — checked expression → Python function
- :class:`RuleError` — the only exception raised for bad input
"""

from __future__ import annotations

import json
from pathlib import Path

from . import model
from .checker import check
from .compiler import compile_condition, compile_expression
from .errors import Diagnostic, RuleError
from .formatting import format_source
from .json_io import load_json, to_json
from .model import *  # noqa: F401,F403 - the model classes are part of the public API
from .parser import parse_expression, parse_text
from .printer import print_dsl, print_expr

__all__ = ["parse_text", "parse_expression", "load_file", "load_json", "load_checked", "to_json", "to_json_text",
           "print_dsl", "print_expr", "format_source", "read_source", "check", "check_file", "compile_condition",
           "compile_expression", "Diagnostic", "RuleError", "model", *model.__all__]


def _read_bytes(path: str | Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise RuleError(Diagnostic(str(path), 0, 0, f"cannot read file: {exc.strerror}",
                                   code="io")) from None


def _decode(data: bytes, path: str | Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuleError(Diagnostic(str(path), 0, 0, f"file is not UTF-8 ({exc.reason})",
                                   code="io")) from None


def read_source(path: str | Path) -> str:
    """The text of a ``.op`` file; raises :class:`RuleError` when it cannot be read or is not
    UTF-8."""
    return _decode(_read_bytes(path), path)


def load_file(path: str | Path) -> model.Ruleset:
    """Load a ``.op`` (DSL) or ``.json`` ruleset file; raises :class:`RuleError`."""
    data = _read_bytes(path)
    if Path(path).suffix.lower() == ".json":
        return load_json(data, str(path))
    return parse_text(_decode(data, path), str(path))


def check_file(path: str | Path) -> list[Diagnostic]:
    """Parse/load and check one file: syntax errors and check errors alike, as diagnostics."""
    try:
        ruleset = load_file(path)
    except RuleError as exc:
        return list(exc.diagnostics)
    return check(ruleset)


def load_checked(content: str, filename: str, fmt: str = "dsl") -> model.Ruleset:
    """Parse (``fmt`` dsl or json) and check ruleset text; raises :class:`RuleError` with the
    syntax errors, or with every check error (warnings are not errors)."""
    ruleset = load_json(content, filename) if fmt == "json" else parse_text(content, filename)
    errors = [d for d in check(ruleset) if d.severity == "error"]
    if errors:
        raise RuleError(errors)
    return ruleset


def to_json_text(ruleset: model.Ruleset) -> str:
    """The JSON form as pretty-printed UTF-8 text (Chinese kept readable)."""
    return json.dumps(to_json(ruleset), ensure_ascii=False, indent=2) + "\n"
