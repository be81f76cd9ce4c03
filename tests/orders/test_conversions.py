"""Platform values become exact fen and UTC instants, and a value that is not what it claims
is refused with a sentence, never rounded or guessed (dsl.conversions)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dsl.conversions import (
    ConversionError,
    fen,
    from_shanghai,
    from_unix,
    from_unix_ms,
    yuan,
)

UTC = dt.UTC


@pytest.mark.parametrize(("value", "expected"), [
    ("517.60", 51760), ("517.6", 51760), ("0.00", 0), ("0.01", 1), ("200.07", 20007), ("-5.00", -500),
    ("89.9", 8990), (89.9, 8990), (0.1, 10), (0.29, 29), (19999999.99, 1999999999),
    (Decimal("89.90"), 8990), (Decimal("0.07"), 7), (128, 12800), ("¥1,234.50", 123450), ("99元", 9900),
    ("", None), (None, None),
])
def test_yuan_reads_text_and_json_numbers_to_exact_fen(value: object, expected: int | None) -> None:
    assert yuan(value) == expected


def test_float_arithmetic_traps_do_not_leak_into_fen() -> None:
    # 0.29 * 100 == 28.999999999999996 and 1.1 * 100 == 110.00000000000001 in floats
    assert yuan(0.29) == 29 and yuan(1.1) == 110 and yuan(4.35) == 435 and yuan(json.loads("517.60")) == 51760


@pytest.mark.parametrize(("value", "message"), [
    ("abc", '"abc" is not a yuan amount'),
    ("12.345", '"12.345" has more than 2 decimals; a yuan amount has at most 2 (fen)'),
    (12.345, "12.345 has more than 2 decimals; a yuan amount has at most 2 (fen)"),
    (Decimal("0.001"), "0.001 has more than 2 decimals; a yuan amount has at most 2 (fen)"),
    ("1e5", '"1e5" is not a yuan amount'),
    ("NaN", '"NaN" is not a yuan amount'),
    (float("inf"), "inf is not a yuan amount"),
    (True, "true is not a yuan amount"),
    ({"v": 1}, "an object is not a yuan amount"),
    ("10000000000000000000000", '"10000000000000000000000" is too large an amount (more than ¥1,000,000,000)'),
    (1e300, "1e+300 is too large an amount (more than ¥1,000,000,000)"),
    ("1000000000.01", '"1000000000.01" is too large an amount (more than ¥1,000,000,000)'),
])
def test_yuan_refuses_what_is_not_an_amount(value: object, message: str) -> None:
    with pytest.raises(ConversionError) as exc:
        yuan(value)
    assert str(exc.value) == message


@given(st.integers(min_value=-10**11, max_value=10**11))
def test_every_fen_amount_written_in_yuan_reads_back_exactly(amount: int) -> None:
    sign = "-" if amount < 0 else ""
    text = f"{sign}{abs(amount) // 100}.{abs(amount) % 100:02d}"
    assert yuan(text) == amount
    assert yuan(json.loads(text)) == amount  # as a JSON number parsed to float
    assert yuan(json.loads(text, parse_float=Decimal)) == amount


def test_fen_takes_whole_numbers_only() -> None:
    assert fen(31700) == 31700 and fen("1990") == 1990 and fen(Decimal(100)) == 100 and fen(None) is None
    for bad, message in [("19.9", '"19.9" is not an amount in fen'), (19.5, "19.5 is not an amount in fen"),
                         (False, "false is not an amount in fen"),
                         (10**12, "1000000000000 is too large an amount (more than ¥1,000,000,000)")]:
        with pytest.raises(ConversionError) as exc:
            fen(bad)
        assert str(exc.value) == message


def test_shanghai_local_times_become_utc_instants() -> None:
    assert from_shanghai("2024-03-08 20:16:05") == dt.datetime(2024, 3, 8, 12, 16, 5, tzinfo=UTC)
    assert from_shanghai("2024/3/8 0:05") == dt.datetime(2024, 3, 7, 16, 5, tzinfo=UTC)
    assert from_shanghai(dt.datetime(2024, 3, 8, 8, 0)) == dt.datetime(2024, 3, 8, 0, 0, tzinfo=UTC)
    assert from_shanghai("") is None
    for bad, message in [("2024-02-30 10:00:00", '"2024-02-30 10:00:00" is not a valid date and time'),
                         ("yesterday", '"yesterday" is not a time like "2024-01-01 12:00:00"'),
                         (1709901000, '1709901000 is not a time like "2024-01-01 12:00:00"')]:
        with pytest.raises(ConversionError) as exc:
            from_shanghai(bad)
        assert str(exc.value) == message


def test_unix_seconds_and_milliseconds_are_told_apart() -> None:
    assert from_unix(1709901000) == dt.datetime(2024, 3, 8, 12, 30, tzinfo=UTC)
    assert from_unix("1709901000") == dt.datetime(2024, 3, 8, 12, 30, tzinfo=UTC)
    assert from_unix_ms(1709905215456) == dt.datetime(2024, 3, 8, 13, 40, 15, 456000, tzinfo=UTC)
    assert from_unix(0) is None and from_unix_ms(0) is None  # the platforms' "not yet"
    with pytest.raises(ConversionError) as exc:
        from_unix(1709905215456)
    assert str(exc.value) == ("1709905215456 is not a time in unix seconds between 2000 and 2100 "
                              "(milliseconds? use from_unix_ms)")
    with pytest.raises(ConversionError) as exc:
        from_unix_ms(1709901000)
    assert str(exc.value) == ("1709901000 is not a time in unix milliseconds between 2000 and 2100 "
                              "(seconds? use from_unix)")


def test_iso_times_with_or_without_offset() -> None:
    from dsl.conversions import from_iso

    assert from_iso("2024-03-08T22:30:15+08:00") == dt.datetime(2024, 3, 8, 14, 30, 15, tzinfo=UTC)
    assert from_iso("2024-03-08T14:30:15Z") == dt.datetime(2024, 3, 8, 14, 30, 15, tzinfo=UTC)
    assert from_iso("2024-03-08 22:30:15") == dt.datetime(2024, 3, 8, 14, 30, 15, tzinfo=UTC)  # Shanghai
    with pytest.raises(ConversionError) as exc:
        from_iso("March 8")
    assert str(exc.value) == '"March 8" is not an ISO 8601 time'
