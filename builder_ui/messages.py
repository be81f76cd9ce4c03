"""The checker's problems as the builder shows them: a Chinese location (第 3 行第 5 列) and the
message in Chinese for the common cases (unknown names with their "did you mean", syntax,
units, duplicates); anything else keeps the checker's own words.

Presentation only: the problems themselves come from :mod:`engine.rulesets.validation`.
"""

from __future__ import annotations

import re
from typing import Any

from engine.rulesets.validation import Problem

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^unknown field '([^']+)'; did you mean '([^']+)'\?$"), r"未知字段 \1；你是不是想写 \2？"),
    (re.compile(r"^unknown field '([^']+)'$"), r"未知字段 \1"),
    (re.compile(r"^unknown (\w[\w ]*?) '([^']+)'; did you mean '([^']+)'\?$"), r"未知的名称 \2；你是不是想写 \3？"),
    (re.compile(r"^unknown (\w[\w ]*?) '([^']+)'$"), r"未知的名称 \2"),
    (re.compile(r"^unexpected (.+?); expected (.+)$"), r"此处不应出现 \1；应为 \2"),
    (re.compile(r"^unexpected (.+)$"), r"此处不应出现 \1"),
    (re.compile(r"^cannot compare (.+) with (.+)$"), r"不能比较 \1 与 \2"),
    (re.compile(r"^(\w+) '([^']+)' is declared twice$"), r"\2 重复声明"),
    (re.compile(r"^(.+) must be (.+), got (.+)$"), r"\1 应为 \2，实际是 \3"),
]


def message_zh(message: str) -> str:
    for pattern, replacement in _PATTERNS:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return message


def problem_view(p: Problem) -> dict[str, Any]:
    """One problem as the page and its script show it."""
    where = f"第 {p.line} 行第 {p.col} 列" if p.line else (p.pointer or "整个文件")
    return {
        "line": p.line, "col": p.col, "severity": p.severity,
        "where": where, "message": message_zh(p.message), "original": p.message,
        "level": "错误" if p.is_error else "提示",
    }
