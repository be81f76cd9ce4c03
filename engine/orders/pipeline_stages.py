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
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from engine.orders import order_risk
from engine.orders.order_pricing import price_stage
from engine.orders.order_reservation import follow_reservation, reserve_stage
from engine.orders.order_tickets import follow_platform, ticket_stage
from engine.orders.stages import OrderRef, Stage, StageNote
from engine.orders.ticket_batch import TicketScope
from engine.risk import stage as risk_rules
from engine.rulesets import published

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["BATCH_SCOPES", "FOLLOW_UPS", "STAGES", "STOCK_RETRY", "STOCK_STAGE", "BatchScope", "FollowUp"]

# (session, services, order, previous_doc, now): previous_doc is the order as the pipeline last
# acted on it (None when unknown)
FollowUp = Callable[[Session, "Services", OrderRef, "dict[str, Any] | None", datetime], list[StageNote]]


class BatchScope(Protocol):
    """What stages of one batch keep together (begun on the batch's session after the claim):
    marked and rolled back with each order's savepoint, written once before the batch's
    timeline entries, closed at the end. A failure in ``write`` makes the driver run the batch
    again without scopes (one order at a time)."""

    def mark(self) -> Any: ...
    def rollback(self, mark: Any) -> None: ...
    def write(self, session: Session) -> None: ...
    def close(self, session: Session) -> None: ...


BatchScopeFactory = Callable[[Session, "Services", list[int]], BatchScope]


class PublishedPin:
    """One read of what is published for the whole batch (every stage asks for the latest
    published versions; one snapshot serves all the batch's orders)."""

    @classmethod
    def begin(cls, session: Session, services: Services, order_pks: list[int]) -> PublishedPin:
        published.pin_latest_versions(session)
        return cls()

    def mark(self) -> None:
        return None

    def rollback(self, mark: Any) -> None:
        return None

    def write(self, session: Session) -> None:
        return None

    def close(self, session: Session) -> None:
        published.unpin_latest_versions(session)


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

# What a batch's stages share and write together: the ticket stage's new tickets (their rows in
# a few statements for the batch instead of a few per order).
BATCH_SCOPES: list[BatchScopeFactory] = [PublishedPin.begin, TicketScope.begin]
