"""The price check: what an order was charged against what the published promotion allows.

Pure (no I/O). This module owns two decisions of the order pipeline's price stage:

- :func:`check_price`: the buyer paid ``charged`` fen for the goods; the promotion's quote says
  the goods cost at least ``allowed`` fen. The order is a price anomaly (价格异常) when it was
  charged less than that by more than the declared tolerance (``price_check tolerance ¥5 or
  2%``: the larger of the amount and the percent of ``allowed``, half up to the fen; no
  declaration tolerates nothing). Charged more, or less within the tolerance, is not.
- :func:`paid_shares`: what each line paid of ``goods_paid`` when the platform gives no
  per-line figure (PDD): the discount (goods amount − goods paid) split over the lines in
  proportion to their amounts by the pricing contract's largest-remainder rule (ties to the
  larger line, then the earlier one; no line below zero), each line paying its amount less its
  share — the shares sum exactly to the order's figure.

It knows nothing of platforms, tables or timelines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .money import percent_of, split_capped, split_proportional

__all__ = ["PriceCheck", "charged_goods", "check_price", "paid_shares", "tolerance_of"]


@dataclass(frozen=True, slots=True)
class PriceCheck:
    """The outcome of one check; all money in fen. ``difference`` is ``allowed − charged``
    (positive: charged less than the promotion allows)."""

    charged: int
    allowed: int
    difference: int
    tolerance: int
    declared: bool

    @property
    def anomaly(self) -> bool:
        return self.difference > self.tolerance


def tolerance_of(declared: tuple[int | None, int | None] | None, allowed: int) -> int:
    """The tolerated shortfall in fen: the larger of the declared amount and the declared
    percent of ``allowed`` (half up); 0 when nothing is declared."""
    if declared is None:
        return 0
    amount, basis_points = declared
    by_amount = amount or 0
    by_percent = percent_of(max(allowed, 0), basis_points) if basis_points is not None else 0
    return max(by_amount, by_percent)


def charged_goods(doc: Mapping[str, Any]) -> int | None:
    """What the buyer was charged for the goods: paid total less freight (None if unknown)."""
    payment = doc.get("payment")
    paid = payment.get("paid_amount") if isinstance(payment, Mapping) else None
    if type(paid) is not int:
        return None
    freight = doc.get("freight")
    return paid - (freight if type(freight) is int else 0)


def check_price(charged: int, allowed: int, declared: tuple[int | None, int | None] | None) -> PriceCheck:
    """Compare what the goods were charged with what the promotion allows (see the module)."""
    return PriceCheck(charged, allowed, allowed - charged, tolerance_of(declared, allowed), declared is not None)


def paid_shares(amounts: Sequence[int], goods_paid: int) -> list[int]:
    """Each line's paid share of ``goods_paid`` (see the module); sums exactly to ``goods_paid``.

    A platform that charged more than the goods amount (service fees) has no discount to split:
    then ``goods_paid`` itself is split in proportion to the amounts."""
    idxs = list(range(len(amounts)))
    total = sum(amounts)
    if not idxs:
        return []
    if total <= 0:
        shares = [0] * len(amounts)
        shares[0] = goods_paid
        return shares
    discount = total - goods_paid
    if discount < 0:
        split = split_proportional(goods_paid, idxs, amounts, amounts)
        return [split[i] for i in idxs]
    if discount == 0:
        return list(amounts)
    weights = list(amounts)
    cut, _ = split_capped(min(discount, total), [i for i in idxs if weights[i] > 0], weights, weights, weights)
    return [amounts[i] - cut.get(i, 0) for i in idxs]
