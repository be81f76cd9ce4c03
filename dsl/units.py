"""Literal units: decoding ``¥12.50`` / ``300元`` / ``15%`` / ``2m`` and printing them back.

This module owns the exact integer representations (money in fen, percents in basis points,
durations in seconds) and the canonical spelling of each. It never uses floats.
"""

from __future__ import annotations

from .model import COUNT, DURATION, MONEY, PERCENT

__all__ = ["UnitError", "decode_number", "money_text", "percent_text", "duration_text",
           "literal_number_text", "MAX_DIGITS", "DURATION_SECONDS", "PERIODS"]

MAX_DIGITS = 15
DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
PERIODS = {"hour": 3600, "day": 86400, "week": 604800, "month": 2592000}


class UnitError(ValueError):
    """A numeric literal that has no exact integer form (too many decimals, too long)."""


def _scaled(number: str, scale_digits: int, what: str) -> int:
    whole, _, frac = number.partition(".")
    if len(whole) > MAX_DIGITS:
        raise UnitError(f"number {number} is too large (at most {MAX_DIGITS} digits)")
    if len(frac) > scale_digits:
        if scale_digits == 0:
            raise UnitError(f"{what} must be a whole number, got {number}")
        raise UnitError(f"{what} has at most {scale_digits} decimal places, got {number}")
    scale: int = 10**scale_digits
    return int(whole) * scale + int((frac + "0" * scale_digits)[:scale_digits] or "0")


def decode_number(text: str) -> tuple[int, str]:
    """``"¥12.50"`` → (1250, money); ``"300元"`` → (30000, money); ``"15%"`` → (1500, percent);
    ``"2m"`` → (120, duration); ``"5"`` → (5, count). Raises :class:`UnitError`."""
    if text[:1] in ("¥", "￥"):
        return _scaled(text[1:], 2, "money"), MONEY
    if text.endswith("元"):
        return _scaled(text[:-1], 2, "money"), MONEY
    if text.endswith("%"):
        return _scaled(text[:-1], 2, "percent"), PERCENT
    suffix = text[-1:]
    if suffix in DURATION_SECONDS:
        return _scaled(text[:-1], 0, "a duration") * DURATION_SECONDS[suffix], DURATION
    if "." in text:
        raise UnitError(f"plain number {text} must be whole; write money as ¥{text}, "
                        f"a percent as {text}%")
    return _scaled(text, 0, "a count"), COUNT


def money_text(fen: int) -> str:
    """1250 → ``¥12.50``; 30000 → ``¥300``."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}¥{yuan}" if cents == 0 else f"{sign}¥{yuan}.{cents:02d}"


def percent_text(basis_points: int) -> str:
    """1500 → ``15%``; 250 → ``2.5%``; 5 → ``0.05%``."""
    whole, frac = divmod(basis_points, 100)
    if frac == 0:
        return f"{whole}%"
    return f"{whole}.{frac:02d}".rstrip("0") + "%"


WEEK_SECONDS = 7 * DURATION_SECONDS["d"]


def duration_text(seconds: int) -> str:
    """The canonical spelling of a duration, as people write deadlines and windows:

    - days only for a whole number of days of at least 7 days: ``7d``, ``30d``;
    - otherwise hours for a whole number of hours: ``1h``, ``24h``, ``48h``, ``72h``, ``170h``;
    - otherwise minutes for a whole number of minutes: ``5m``, ``90m``;
    - otherwise seconds: ``30s``, ``0s``.
    """
    day, hour, minute = DURATION_SECONDS["d"], DURATION_SECONDS["h"], DURATION_SECONDS["m"]
    if seconds >= WEEK_SECONDS and seconds % day == 0:
        return f"{seconds // day}d"
    for suffix, size in (("h", hour), ("m", minute)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"


def literal_number_text(value: int, unit: str) -> str:
    if unit == MONEY:
        return money_text(value)
    if unit == PERCENT:
        return percent_text(value)
    if unit == DURATION:
        return duration_text(value)
    return str(value)
