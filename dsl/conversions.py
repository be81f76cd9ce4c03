"""Exact conversions of platform values for mappings: yuan → fen, fen, unix seconds and
milliseconds, ``yyyy-MM-dd HH:mm:ss`` in Asia/Shanghai, whole numbers, ``coalesce``.

This module owns what each conversion accepts and the sentence that says why a value is
refused (raised as :class:`ConversionError`, a ``ValueError``). Money never goes through
float arithmetic: a yuan string is read digit by digit, a float (a JSON number parsed the
usual way) through its shortest ``repr`` — which is the number's JSON text for every amount
with at most 15 significant digits —, a :class:`~decimal.Decimal` (JSON parsed with
``parse_float=Decimal``) exactly. More than two decimals, exponents and absurd magnitudes are
refused, never rounded. ``None``, ``""`` (and ``0`` for platform times, which the platforms
use for "not yet") mean absent and give ``None``.

Asia/Shanghai has kept UTC+8 without daylight saving since 1991; times are read with that fixed
offset (platform order times are all later) and returned as aware UTC datetimes.

It imports nothing from the engine and performs no I/O.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "MAX_FEN",
    "SHANGHAI",
    "ConversionError",
    "coalesce",
    "describe",
    "fen",
    "from_shanghai",
    "from_unix",
    "from_unix_ms",
    "present",
    "whole_number",
    "yuan",
]

#: the largest amount accepted anywhere in a mapping: ¥1,000,000,000.00
MAX_FEN = 100_000_000_000
SHANGHAI = _dt.timezone(_dt.timedelta(hours=8), "Asia/Shanghai")
_UTC = _dt.UTC
# unix seconds accepted: 2000-01-01 .. 2100-01-01 (platform order times; anything else is a
# unit mistake, e.g. milliseconds given to from_unix)
_MIN_UNIX = 946_684_800
_MAX_UNIX = 4_102_444_800
_MIN_INSTANT = _dt.datetime.fromtimestamp(_MIN_UNIX, _dt.UTC)
_MAX_INSTANT = _dt.datetime.fromtimestamp(_MAX_UNIX, _dt.UTC)
_YUAN = re.compile(r"(-?)(\d{1,15})(?:\.(\d{1,2}))?")
_YUAN_MORE_DECIMALS = re.compile(r"-?\d+\.\d{3,}")
_LOCAL_TIME = re.compile(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_EIGHT_HOURS = _dt.timedelta(hours=8)
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_INTEGER = re.compile(r"-?\d{1,18}")


class ConversionError(ValueError):
    """A value a conversion refuses; ``str(e)`` is the sentence shown to the user, e.g.
    ``"abc" is not a yuan amount``."""


def describe(value: Any, limit: int = 40) -> str:
    """A short JSON-like rendering of ``value`` for messages: ``"abc"``, ``12.345``, ``an object``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + "…"
        return '"' + text.replace('"', '\\"') + '"'
    if isinstance(value, (int, float, Decimal)):
        try:
            text = repr(value) if isinstance(value, float) else str(value)
        except ValueError:  # an integer too long to print (Python refuses > 4300 digits)
            return "a number of more than 4300 digits"
        return text if len(text) <= limit else text[:limit] + "…"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _bounded(fen_value: int, value: Any) -> int:
    if -MAX_FEN <= fen_value <= MAX_FEN:
        return fen_value
    raise ConversionError(f"{describe(value)} is too large an amount (more than ¥1,000,000,000)")


def _yuan_text(text: str, value: Any) -> int:
    match = _YUAN.fullmatch(text)
    if match is None:
        if _YUAN_MORE_DECIMALS.fullmatch(text):
            raise ConversionError(f"{describe(value)} has more than 2 decimals; a yuan amount "
                                  "has at most 2 (fen)")
        if re.fullmatch(r"-?\d{16,}(\.\d*)?", text):
            raise ConversionError(f"{describe(value)} is too large an amount (more than "
                                  "¥1,000,000,000)")
        raise ConversionError(f"{describe(value)} is not a yuan amount")
    sign, whole, decimals = match.groups()
    amount = int(whole) * 100 + (int(decimals.ljust(2, "0")) if decimals else 0)
    return _bounded(-amount if sign else amount, value)


def yuan(value: Any) -> int | None:
    """Yuan as text (``"517.60"``) or a JSON number (``89.9``) → integer fen, exactly."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        # seller-centre exports: "¥1,234.50", "1234.50元"
        text = text.lstrip("¥￥").rstrip("元").strip()
        if _THOUSANDS.fullmatch(text):
            text = text.replace(",", "")
        return _yuan_text(text, value)
    if isinstance(value, bool):
        raise ConversionError(f"{describe(value)} is not a yuan amount")
    if isinstance(value, int):
        return _bounded(value * 100, value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ConversionError(f"{describe(value)} is not a yuan amount")
        if abs(value) >= 1e15:
            raise ConversionError(f"{describe(value)} is too large an amount (more than "
                                  "¥1,000,000,000)")
        return _yuan_text(repr(value), value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ConversionError(f"{describe(value)} is not a yuan amount")
        if value.copy_abs() >= Decimal(10) ** 15:
            raise ConversionError(f"{describe(value)} is too large an amount (more than "
                                  "¥1,000,000,000)")
        scaled = value * 100
        if scaled != scaled.to_integral_value():
            raise ConversionError(f"{describe(value)} has more than 2 decimals; a yuan amount "
                                  "has at most 2 (fen)")
        return _bounded(int(scaled), value)
    raise ConversionError(f"{describe(value)} is not a yuan amount")


def whole_number(value: Any, what: str = "a whole number") -> int | None:
    """An integer given as a JSON integer, an integral float or decimal, or digit text."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConversionError(f"{describe(value)} is not {what}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        if _INTEGER.fullmatch(text):
            return int(text)
        raise ConversionError(f"{describe(value)} is not {what}")
    if isinstance(value, (float, Decimal)):
        try:
            if value == int(value):
                return int(value)
        except (ValueError, OverflowError, InvalidOperation):
            pass
    raise ConversionError(f"{describe(value)} is not {what}")


def fen(value: Any) -> int | None:
    """An amount the platform already gives in fen (Doudian, Kuaishou, Xiaohongshu)."""
    amount = whole_number(value, "an amount in fen")
    return None if amount is None else _bounded(amount, value)


def _instant(seconds: int, value: Any, unit: str) -> _dt.datetime:
    if not _MIN_UNIX <= seconds < _MAX_UNIX:
        hint = ""
        if unit == "seconds" and _MIN_UNIX * 1000 <= seconds < _MAX_UNIX * 1000:
            hint = " (milliseconds? use from_unix_ms)"
        elif unit == "milliseconds" and _MIN_UNIX <= seconds * 1000 < _MAX_UNIX:
            hint = " (seconds? use from_unix)"
        raise ConversionError(f"{describe(value)} is not a time in unix {unit} between 2000 and "
                              f"2100{hint}")
    return _dt.datetime.fromtimestamp(seconds, _UTC)


def from_unix(value: Any) -> _dt.datetime | None:
    """Unix seconds (Doudian) → UTC instant; 0 means not yet (e.g. ``ship_time`` before
    shipping) and gives None."""
    seconds = whole_number(value, "a time in unix seconds")
    if not seconds:
        return None
    return _instant(seconds, value, "seconds")


def from_unix_ms(value: Any) -> _dt.datetime | None:
    """Unix milliseconds (Kuaishou, Xiaohongshu) → UTC instant, to the millisecond; 0 → None."""
    ms = whole_number(value, "a time in unix milliseconds")
    if not ms:
        return None
    seconds, rest = divmod(ms, 1000)
    return _instant(seconds, value, "milliseconds").replace(microsecond=rest * 1000)


def from_shanghai(value: Any) -> _dt.datetime | None:
    """``yyyy-MM-dd HH:mm:ss`` (also ``/`` between date parts, no seconds, or a date alone) in
    Asia/Shanghai time (Taobao, PDD, seller-centre exports) → UTC instant. A ``datetime`` read
    from a spreadsheet counts as Shanghai time when it has no zone."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        local = value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)
        return local.astimezone(_UTC)
    if not isinstance(value, str):
        raise ConversionError(f"{describe(value)} is not a time like \"2024-01-01 12:00:00\"")
    if len(value) == 19 and value[10] == " " and value[4] == "-":  # the platforms' own form, fast
        try:
            instant = _dt.datetime.fromisoformat(value).replace(tzinfo=_UTC) - _EIGHT_HOURS
        except ValueError:
            instant = None
        if instant is not None:
            if not _MIN_INSTANT <= instant < _MAX_INSTANT:
                raise ConversionError(f"{describe(value)} is not a time between 2000 and 2100")
            return instant
    text = value.strip()
    if text == "":
        return None
    match = _LOCAL_TIME.fullmatch(text)
    if match is None:
        raise ConversionError(f"{describe(value)} is not a time like \"2024-01-01 12:00:00\"")
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
    try:
        local = _dt.datetime(y, mo, d, h, mi, s, tzinfo=SHANGHAI)
    except ValueError:
        raise ConversionError(f"{describe(value)} is not a valid date and time") from None
    if not _MIN_UNIX <= local.timestamp() < _MAX_UNIX:
        raise ConversionError(f"{describe(value)} is not a time between 2000 and 2100")
    return local.astimezone(_UTC)


def present(value: Any) -> bool:
    """Whether a payload value is there: not None and not empty text (``each orders.order
    where present(refund_id) { … }``)."""
    return value is not None and value != ""


def from_iso(value: Any) -> _dt.datetime | None:
    """ISO 8601 / RFC 3339 (``2024-03-08T22:30:15+08:00``, ``…Z``) → UTC instant; without an
    offset the time counts as Asia/Shanghai."""
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ConversionError(f"{describe(value)} is not an ISO 8601 time") from None
    else:
        raise ConversionError(f"{describe(value)} is not an ISO 8601 time")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)
    instant = parsed.astimezone(_UTC)
    if not _MIN_INSTANT <= instant < _MAX_INSTANT:
        raise ConversionError(f"{describe(value)} is not a time between 2000 and 2100")
    return instant


def coalesce(*values: Any) -> Any:
    """The first value that is present: not None and not empty text (``receiver_city`` may be
    ``""`` and the city sit in ``receiver_district``)."""
    for value in values:
        if value is not None and value != "":
            return value
    return None
