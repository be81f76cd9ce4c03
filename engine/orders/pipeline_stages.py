"""The order pipeline's composition: which stages run, in which order, and which follow-ups a
newer platform version of an order gets.

:data:`STAGES` runs once per order, in order (the driver in :mod:`engine.orders.pipeline`
keeps where each order stands). :data:`FOLLOW_UPS` run when a newer revision of an order
arrives, each only once the stage it follows has run (before that, the stage itself sees the
new state): the reservation releases stock for a cancellation or a refund before shipment, and
reserves it for a payment; the order ticket follows the platform's status change (the ticket
stage's ``follow_platform``, wired here).

The stages: risk (the holds an order's tags declare, then the published ``risk`` rules of
:mod:`engine.risk`), price (:mod:`engine.orders.order_pricing`), reserve
(:mod:`engine.orders.order_reservation`), ticket (:mod:`engine.orders.order_tickets`).
Adding a stage is one line here; stage names are stored in ``order_pipeline.next_stage`` (at
most 16 characters), so a name, once used, keeps its meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.orders import order_risk
from engine.orders.order_pricing import price_stage
from engine.orders.order_reservation import follow_reservation, reserve_stage
from engine.orders.order_tickets import follow_platform, ticket_stage
from engine.orders.stages import OrderRef, Stage, StageNote
from engine.risk import stage as risk_rules

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["FOLLOW_UPS", "STAGES", "STOCK_RETRY", "STOCK_STAGE", "FollowUp"]

# (session, services, order, previous_doc, now): previous_doc is the order as the pipeline last
# acted on it (None when unknown)
FollowUp = Callable[[Session, "Services", OrderRef, "dict[str, Any] | None", datetime], list[StageNote]]



def risk_stage(session: Session, services: Services, order: OrderRef, now: datetime) -> list[StageNote]:
    """The holds the order's tags declare, then every published ``risk`` rule; one
    ``risk_passed`` entry when there is neither."""
    declared = order_risk.risk_stage(session, services, order, now)
    ruled = risk_rules.risk_stage(session, services, order, now)
    if ruled and all(n.hold is None for n in declared):
        return ruled
    return declared + ruled


STAGES: list[tuple[str, Stage]] = [
    ("risk", risk_stage),
    ("price", price_stage),
    ("reserve", reserve_stage),
    ("ticket", ticket_stage),
]

# (the stage it follows, the follow-up)
FOLLOW_UPS: list[tuple[str, FollowUp]] = [
    ("reserve", follow_reservation),
    ("ticket", follow_platform),
]

# The stage that reserves stock, and what runs again when stock arrives for an order held as
# 缺货 (or when a person releases it).
STOCK_STAGE = "reserve"
STOCK_RETRY: FollowUp = follow_reservation
