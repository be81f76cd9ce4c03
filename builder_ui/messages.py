"""The checker's problems as the builder shows them: a Chinese location (第 3 行第 5 列) and the
message in Chinese (:func:`builder_ui.message_catalog.message_zh`), the checker's own words
kept as ``original``.

Presentation only: the problems themselves come from :mod:`engine.rulesets.validation`.
"""

from __future__ import annotations

from typing import Any

from builder_ui.message_catalog import message_zh
from engine.rulesets.validation import Problem

__all__ = ["message_zh", "problem_view"]


def problem_view(p: Problem) -> dict[str, Any]:
    """One problem as the page and its script show it."""
    where = f"第 {p.line} 行第 {p.col} 列" if p.line else (p.pointer or "整个文件")
    return {
        "line": p.line, "col": p.col, "severity": p.severity,
        "where": where, "message": message_zh(p.message), "original": p.message,
        "level": "错误" if p.is_error else "提示",
    }
