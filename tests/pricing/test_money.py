"""The two rounding rules of pricing, in exact fen: percent per line half up, and the
largest-remainder split (ties to the larger line, then the earlier line)."""

from __future__ import annotations

import pytest

from engine.pricing.money import percent_of, split_capped, split_proportional, yuan


@pytest.mark.parametrize(("amount", "bp", "fen"), [
    (39900, 500, 1995),   # 5% of ¥399.00 = ¥19.95 exactly
    (1990, 500, 100),     # 99.5 fen → 100 (half up)
    (1989, 500, 99),      # 99.45 fen → 99
    (1990, 250, 50),      # 2.5% of ¥19.90 = 49.75 → 50
    (1, 5000, 1),         # 0.5 fen → 1
    (1, 4999, 0),         # 0.4999 fen → 0
    (0, 500, 0),
    (12345, 10000, 12345),
])
def test_percent_discount_on_a_line_rounds_half_up_to_the_fen(amount: int, bp: int, fen: int) -> None:
    assert percent_of(amount, bp) == fen


def test_split_4000_over_three_equal_lines_gives_the_odd_fen_to_the_earliest_line() -> None:
    # 4000 × 10000 / 30000 = 1333.33 each; one fen left, all remainders and amounts tie
    weights = [10000, 10000, 10000]
    assert split_proportional(4000, [0, 1, 2], weights, weights) == {0: 1334, 1: 1333, 2: 1333}


def test_split_gives_leftover_fen_to_the_largest_remainder_not_the_largest_line() -> None:
    # 666.67 / 1333.33 / 2000.00: the 0.67 remainder of the smallest line wins the fen
    weights = [5000, 10000, 15000]
    assert split_proportional(4000, [0, 1, 2], weights, weights) == {0: 667, 1: 1333, 2: 2000}


def test_split_ties_on_remainder_go_to_the_larger_line_then_the_earlier() -> None:
    # 1066.67 / 1866.67 / 1066.67: two fen left, three equal remainders →
    # the larger line (L2) first, then the earlier of the two equal lines (L1)
    weights = [8000, 14000, 8000]
    assert split_proportional(4000, [0, 1, 2], weights, weights) == {0: 1067, 1: 1867, 2: 1066}


def test_split_over_a_subset_of_lines_ignores_the_others() -> None:
    weights = [8000, 999999, 14000, 8000]
    shares = split_proportional(4000, [0, 2, 3], weights, weights)
    assert shares == {0: 1067, 2: 1867, 3: 1066}
    assert sum(shares.values()) == 4000


def test_split_of_one_line_takes_everything() -> None:
    assert split_proportional(777, [3], [0, 0, 0, 5], [0, 0, 0, 5]) == {3: 777}


def test_capped_split_moves_what_a_full_line_cannot_take_to_the_others() -> None:
    # proportional 333 / 667, but line 0 has no room left: its 333 fen move to line 1
    shares, moved = split_capped(1000, [0, 1], [1000, 2000], [1000, 2000], [0, 2000])
    assert shares == {0: 0, 1: 1000}
    assert moved == [(0, 333)]


def test_capped_split_keeps_the_total_exact_over_several_rounds() -> None:
    weights = [5000, 3000, 2000]
    room = [100, 3000, 2000]
    shares, moved = split_capped(4000, [0, 1, 2], weights, weights, room)
    assert sum(shares.values()) == 4000
    assert all(shares[i] <= room[i] for i in range(3))
    assert shares[0] == 100 and moved[0] == (0, 1900)


def test_capped_split_refuses_more_than_the_room() -> None:
    with pytest.raises(ValueError):
        split_capped(10, [0], [5], [5], [5])


def test_yuan_always_shows_two_decimals() -> None:
    assert yuan(39900) == "¥399.00"
    assert yuan(1995) == "¥19.95"
    assert yuan(5) == "¥0.05"
    assert yuan(-150) == "-¥1.50"

