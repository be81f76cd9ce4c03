"""The two decisions of the price check, without I/O: when an order charged less than the
promotion allows is a price anomaly (the declared tolerance, the larger of an amount and a
percent), and what each line of a PDD order paid (the discount split by amount, largest
remainder, ties to the larger line then the earlier one, the shares summing to the figure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from engine.pricing.price_check import check_price, paid_shares, tolerance_of


def test_the_tolerance_is_the_larger_of_the_amount_and_the_percent_half_up() -> None:
    assert tolerance_of((1000, 500), 17980) == 1000  # 5% of 17980 = 899
    assert tolerance_of((1000, 500), 64390) == 3220  # 5% of 64390 = 3219.5 → 3220
    assert tolerance_of((None, 250), 1990) == 50  # 2.5% of 1990 = 49.75 → 50
    assert tolerance_of((500, None), 100000) == 500
    assert tolerance_of(None, 100000) == 0  # nothing declared: nothing tolerated


def test_charged_less_beyond_the_tolerance_is_an_anomaly_and_at_the_tolerance_it_is_not() -> None:
    short = check_price(12980, 17980, (1000, 500))
    assert (short.charged, short.allowed, short.difference, short.tolerance, short.declared) == (
        12980, 17980, 5000, 1000, True)
    assert short.anomaly
    assert not check_price(16980, 17980, (1000, 500)).anomaly  # ¥10 short: exactly the tolerance
    assert check_price(16979, 17980, (1000, 500)).anomaly  # one fen more
    assert not check_price(20000, 17980, (1000, 500)).anomaly  # charged more
    assert check_price(17979, 17980, None).anomaly  # no declaration: any shortfall counts


def test_a_pdd_discount_splits_by_amount_with_the_leftover_fen_to_the_largest_remainder() -> None:
    # 2500 over 33600 : 31700 → 1286.37 / 1213.63 → 1286 / 1214
    assert paid_shares([33600, 31700], 62800) == [32314, 30486]
    # 1 fen over three equal lines: equal remainders, equal amounts → the earliest line
    assert paid_shares([100, 100, 100], 299) == [99, 100, 100]
    # 3 over 100 : 200 : 100 → 0.75 / 1.5 / 0.75: the two .75 remainders take the leftover 2
    assert paid_shares([100, 200, 100], 397) == [99, 199, 99]
    # a tie in remainders goes to the larger line: 2 over 100 : 300 → 0.5 / 1.5 → 0 / 2
    assert paid_shares([100, 300], 398) == [100, 298]
    assert paid_shares([5000], 4200) == [4200]
    assert paid_shares([3000, 2000], 5000) == [3000, 2000]
    # charged more than the goods (a service fee): the paid figure itself is split
    assert paid_shares([3000, 1000], 4100) == [3075, 1025]


@given(st.lists(st.integers(min_value=0, max_value=10**7), min_size=1, max_size=8), st.data())
def test_paid_shares_sum_to_the_goods_paid_and_no_line_pays_below_zero_or_above_its_amount(
        amounts: list[int], data: st.DataObject) -> None:
    total = sum(amounts)
    goods_paid = data.draw(st.integers(min_value=0, max_value=max(total, 0)))
    shares = paid_shares(amounts, goods_paid)
    assert sum(shares) == goods_paid
    if total > 0:
        assert all(0 <= s <= a for s, a in zip(shares, amounts))
