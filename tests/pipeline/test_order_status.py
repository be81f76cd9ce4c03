"""Who owns orders.status: the platform's word merged with ours (pure rules, no I/O)."""

from __future__ import annotations

import pytest

from engine.orders.order_status import merge_platform_status, settled_status


@pytest.mark.parametrize(("current", "incoming", "expected"), [
    ("paid_hold", "awaiting_shipment", "paid_hold"),          # our hold survives a stale platform status
    ("shipped", "awaiting_shipment", "shipped"),              # our shipment is not undone
    ("partially_shipped", "awaiting_shipment", "partially_shipped"),
    ("shipped", "delivered", "delivered"),                    # the platform moving on is taken
    ("awaiting_shipment", "paid_hold", "paid_hold"),          # a platform hold (risk control) is taken
    ("paid_hold", "cancelled", "cancelled"),                  # a cancellation always wins
    ("shipped", "cancelled", "cancelled"),
    ("pending_payment", "awaiting_shipment", "awaiting_shipment"),
    ("awaiting_shipment", "pending_payment", "awaiting_shipment"),
    ("cancelled", "awaiting_shipment", "awaiting_shipment"),  # the platform revived it
])
def test_a_newer_platform_version_changes_the_status_only_when_it_is_not_behind_ours(
        current: str, incoming: str, expected: str) -> None:
    assert merge_platform_status(current, incoming) == expected


@pytest.mark.parametrize("incoming", ["awaiting_shipment", "paid_hold", "shipped", "cancelled"])
def test_a_cancellation_made_by_a_person_of_ours_is_not_revived_by_the_platform(incoming: str) -> None:
    assert merge_platform_status("cancelled", incoming, cancelled_here=True) == "cancelled"


def test_the_pipeline_settles_a_paid_unshipped_order_by_whether_anyone_holds_it() -> None:
    assert settled_status("paid_hold", "awaiting_shipment", held=False) == "awaiting_shipment"
    assert settled_status("paid_hold", "paid_hold", held=False) == "paid_hold"  # the platform still holds it
    assert settled_status("awaiting_shipment", "awaiting_shipment", held=True) == "paid_hold"
    assert settled_status("shipped", "awaiting_shipment", held=True) == "shipped"
    assert settled_status("pending_payment", "pending_payment", held=False) == "pending_payment"
