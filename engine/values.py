"""The shapes and bounds of the values every area accepts from outside: identifiers (SKU codes,
order ids, names, keys), money in integer fen, quantities and other bounded integers.

One rule per kind of value, so an API schema, a service and a pricing or workflow check all
refuse the same inputs with the same words. Each ``*_problem`` function returns None for a
good value or the sentence saying what is wrong; :func:`require` turns problems into the
API's 422 with field paths. Pure: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterable
from typing import Any

from engine.errors import Unprocessable

# Money is integer fen, never negative, at most ¥10,000,000,000 (10^12 fen) per amount:
# far above any real order, far below 64-bit sums of many amounts.
MONEY_MAX_FEN = 10**12
# Quantities of one SKU in one order line, and stock counters (BIGINT columns).
MAX_QTY = 1_000_000
MAX_STOCK = 10**12
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
IDENTIFIER_MAX = 128


def _forbidden_ranges() -> list[tuple[int, int]]:
    """Code point ranges no identifier may hold: control (Cc), format (Cf: bidi overrides,
    zero-width characters, BOM), surrogates (Cs), and the line and paragraph separators."""
    ranges: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Cs", "Zl", "Zp") or cp == 0x2F:
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1] = (ranges[-1][0], cp)
            else:
                ranges.append((cp, cp))
    return ranges


_FORBIDDEN = _forbidden_ranges()
_FORBIDDEN_SET = frozenset(cp for lo, hi in _FORBIDDEN for cp in range(lo, hi + 1))


def _class(ranges: Iterable[tuple[int, int]]) -> str:
    def esc(cp: int) -> str:
        return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"

    return "".join(esc(lo) if lo == hi else f"{esc(lo)}-{esc(hi)}" for lo, hi in ranges)


# The same rule as a regular expression, for the OpenAPI document: no forbidden character,
# and no white space at either end.
IDENTIFIER_PATTERN = f"^[^{_class(_FORBIDDEN)}\\s](?:[^{_class(_FORBIDDEN)}]*[^{_class(_FORBIDDEN)}\\s])?$"


def identifier_problem(value: Any, max_length: int = IDENTIFIER_MAX) -> str | None:
    """Why ``value`` is not an identifier (SKU code, order id, name, key), or None."""
    if not isinstance(value, str):
        return f"must be text, got {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > max_length:
        return f"must be at most {max_length} characters, got {len(value)}"
    if value != value.strip() or value[0].isspace() or value[-1].isspace():
        return "must not start or end with white space"
    for ch in value:
        if ord(ch) in _FORBIDDEN_SET:
            what = "'/'" if ch == "/" else f"U+{ord(ch):04X} ({unicodedata.name(ch, 'control character')})"
            return f"must not contain {what}"
    return None


def money_problem(value: Any) -> str | None:
    """Why ``value`` is not an amount of money (integer fen, 0 ≤ fen ≤ 10^12), or None."""
    if type(value) is int:
        if value < 0:
            return f"must not be negative, got {value}"
        if value > MONEY_MAX_FEN:
            return f"must be at most {MONEY_MAX_FEN} fen (¥{MONEY_MAX_FEN // 100:,}), got {_short(value)}"
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be money in integer fen, got {type(value).__name__}"
    return f"must be money in integer fen (no decimals), got {_short(value)}"


def int_problem(value: Any, minimum: int, maximum: int) -> str | None:
    """Why ``value`` is not a whole number in [minimum, maximum], or None."""
    if type(value) is not int:
        return f"must be a whole number, got {type(value).__name__}"
    if not minimum <= value <= maximum:
        return f"must be from {minimum} to {maximum}, got {_short(value)}"
    return None


def require(problems: Iterable[tuple[str, str | None]], what: str = "request") -> None:
    """Raise 422 listing every ``(json_pointer, problem)`` whose problem is not None."""
    found = [{"path": path, "message": problem} for path, problem in problems if problem is not None]
    if found:
        raise Unprocessable(f"{what} is invalid: " + "; ".join(f"{p['path']}: {p['message']}" for p in found[:5]),
                            code="invalid", details=found)


def _short(value: Any) -> str:
    text = str(value) if not isinstance(value, int) or abs(value) < 10**30 else f"a {len(str(abs(value)))}-digit number"
    return text[:40]
