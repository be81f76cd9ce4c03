"""The drill's fulfillment deviation: which late orders OrderPulse made late and which the
warehouse did, counted from the warehouse's own record of each order (placed, packed, posted,
answered, refused), shipped or not by the end."""

from __future__ import annotations

from typing import Any

from engine.drill.actors import DrillOrder
from engine.drill.measures import late_shipments
from engine.drill.scenario import PlannedOrder

PROMISE = 100.0  # seconds after placement
NOW = 1_000.0


def order(n: int, *, due: float = 20.0, posted: float | None = None, answered: float | None = None,
          refusals: int = 0, refusal: str = "", presale: bool = False, placed: float = 0.0) -> DrillOrder:
    planned = PlannedOrder(n, 0.0, "douyin", (("TEA", 1),), presale, None, None, False, False)
    return DrillOrder(planned, "douyin", f"D{n}", n, placed, pk=n, ship_due=placed + due, ship_posted=posted,
                      ship_answered=answered, ship_refusals=refusals, last_refusal=refusal)


def causes(orders: list[DrillOrder], held: set[tuple[str, str]] = frozenset(), now: float = NOW) -> dict[str, Any]:
    return {k: v for k, v in late_shipments(orders, PROMISE, now, set(held)).items() if v}


def test_an_order_shipped_by_its_promise_is_not_late_whoever_was_slow() -> None:
    assert causes([order(1, posted=30, answered=99.9), order(2, posted=20, answered=100, refusals=3)]) == {}


def test_packed_after_the_promise_is_the_warehouse() -> None:
    assert causes([order(1, due=120, posted=120, answered=121)]) == {"warehouse": 1}


def test_packed_in_time_and_late_is_the_system_by_how_it_made_the_order_wait() -> None:
    orders = [
        order(1, posted=150, answered=151, refusals=2, refusal="not_reserved"),  # refused, shipped later
        order(2, posted=90, answered=130),  # posted in time, answered after the promise
        order(3, posted=160, answered=161),  # never refused, posted late: waited for a scanner
    ]
    assert causes(orders) == {"not_ready": 1, "slow_answer": 1, "waited_for_answers": 1}


def test_an_order_not_shipped_by_the_end_is_late_once_its_promise_passed() -> None:
    orders = [
        order(1, refusals=5, refusal="not_arrived"),  # never arrived in OrderPulse
        order(2),  # still queued for a scanner
        order(3, refusals=9, refusal="not_reserved"),  # held by a rule: not a question of speed
        order(4, placed=950),  # its promise (1,050) has not passed at 1,000
    ]
    assert causes(orders, held={("douyin", "D3")}) == {"not_ready": 1, "waited_for_answers": 1, "held": 1}
    assert causes(orders, held={("douyin", "D3")}, now=1_100) == {"not_ready": 1, "waited_for_answers": 2,
                                                                   "held": 1}


def test_presale_orders_and_orders_the_warehouse_never_received_are_left_out() -> None:
    never = order(2, posted=None)
    never.ship_due = 0.0
    assert causes([order(1, presale=True), never]) == {}
