"""The order pipeline's composition: which stages run, in which order, and which follow-ups a
newer platform version of an order gets.

:data:`STAGES` runs once per order, in order (the driver in :mod:`engine.orders.pipeline`
keeps where each order stands). :data:`FOLLOW_UPS` run when a newer revision of an order
arrives, each only once the stage it follows has run (before that, the stage itself sees the
new state): the reservation releases stock for a cancellation or a refund before shipment, and
reserves it for a payment; the order ticket follows the platform's status change (the ticket
stage's ``follow_platform``, wired here).

Adding a stage is one line here, e.g. ``("price", price_stage)`` before ``reserve`` and
``("ticket", ticket_stage)`` after it; stage names are stored in ``order_pipeline.next_stage``
(at most 16 characters), so a name, once used, keeps its meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.orders.order_reservation import follow_reservation, reserve_stage
from engine.orders.order_risk import risk_stage
from engine.orders.stages import OrderRef, Stage, StageNote

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["FOLLOW_UPS", "STAGES", "STOCK_RETRY", "STOCK_STAGE", "FollowUp"]

# (session, services, order, previous_doc, now): previous_doc is the order as the pipeline last
# acted on it (None when unknown)
FollowUp = Callable[[Session, "Services", OrderRef, "dict[str, Any] | None", datetime], list[StageNote]]

STAGES: list[tuple[str, Stage]] = [
    ("risk", risk_stage),
    ("reserve", reserve_stage),
]

# (the stage it follows, the follow-up)
FOLLOW_UPS: list[tuple[str, FollowUp]] = [
    ("reserve", follow_reservation),
]

# The stage that reserves stock, and what runs again when stock arrives for an order held as
# 缺货 (or when a person releases it).
STOCK_STAGE = "reserve"
STOCK_RETRY: FollowUp = follow_reservation
