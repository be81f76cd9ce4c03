"""Exact money arithmetic for pricing: integer fen only, never a float.

This module owns the two rounding rules of the pricing contract and nothing else:

- a percent discount on one line rounds half up to the fen (:func:`percent_of`);
- an order-level amount is split over lines in proportion to weights with the largest-remainder
  method, so the shares sum exactly to the amount; leftover fen go to the largest remainders,
  ties to the larger line amount, then to the earlier line (:func:`split_proportional`), and a
  line never takes more than its capacity — what it cannot take moves to the other lines
  (:func:`split_capped`).

It also formats fen for people (:func:`yuan`). It knows nothing about rules or orders.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["BASIS_POINTS", "percent_of", "split_capped", "split_proportional", "yuan"]

BASIS_POINTS = 10_000


def percent_of(amount: int, basis_points: int) -> int:
    """``amount × basis_points / 10000`` rounded half up to the fen (both non-negative).

    >>> percent_of(39900, 500)   # 5% of ¥399.00 = ¥19.95
    1995
    >>> percent_of(1990, 250)    # 2.5% of ¥19.90 = 49.75 fen → 50
    50
    """
    return (amount * basis_points * 2 + BASIS_POINTS) // (2 * BASIS_POINTS)


def split_proportional(total: int, idxs: Sequence[int], weights: Sequence[int],
                       tiebreak: Sequence[int]) -> dict[int, int]:
    """Split ``total`` fen over the lines ``idxs`` in proportion to ``weights[i]``.

    Each line first gets ``floor(total × w_i / W)``; the ``total − Σ floors`` leftover fen (fewer
    than ``len(idxs)``) go one each to the largest remainders, ties to the larger
    ``tiebreak[i]`` (the line amount), then to the earlier line (smaller position in ``idxs``).
    Shares sum exactly to ``total``. Weights must be non-negative with a positive sum.
    When ``total ≤ W`` no share exceeds its weight.
    """
    weight_sum = 0
    for i in idxs:
        weight_sum += weights[i]
    shares: dict[int, int] = {}
    if len(idxs) == 1:
        shares[idxs[0]] = total
        return shares
    assigned = 0
    ranking = []
    for pos, i in enumerate(idxs):
        q, r = divmod(total * weights[i], weight_sum)
        shares[i] = q
        assigned += q
        ranking.append((-r, -tiebreak[i], pos, i))
    left = total - assigned
    if left:
        ranking.sort()
        for k in range(left):
            shares[ranking[k][3]] += 1
    return shares


def split_capped(total: int, idxs: Sequence[int], weights: Sequence[int],
                 tiebreak: Sequence[int], capacity: Sequence[int]) -> tuple[dict[int, int], list[tuple[int, int]]]:
    """Like :func:`split_proportional`, but no line takes more than ``capacity[i]``.

    ``total`` must not exceed the summed capacity of ``idxs`` (callers cap it first). A line
    whose proportional share exceeds its capacity is filled to capacity and the excess is split
    again over the remaining lines, by the same rule, until everything is placed. Returns the
    shares and the list of ``(line index, excess fen moved away)`` for the audit log.
    """
    shares = split_proportional(total, idxs, weights, tiebreak)
    moved: list[tuple[int, int]] = []
    while True:
        excess = 0
        for i in idxs:
            over = shares[i] - capacity[i]
            if over > 0:
                shares[i] = capacity[i]
                excess += over
                moved.append((i, over))
        if not excess:
            return shares, moved
        rest = [i for i in idxs if shares[i] < capacity[i]]
        if not rest:
            raise ValueError("split_capped: total exceeds the lines' capacity")
        extra = split_proportional(excess, rest, weights, tiebreak)
        for i, amount in extra.items():
            shares[i] += amount
        idxs = rest


def yuan(fen: int) -> str:
    """1995 → ``¥19.95``; 39900 → ``¥399.00``; −50 → ``-¥0.50`` (always two decimals)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole}.{cents:02d}"
