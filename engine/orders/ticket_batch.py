"""The ticket stage's batch scope: a pipeline batch's new tickets written together.

Owns what the ticket stage (:mod:`engine.orders.order_tickets`) shares across the orders of one
pipeline batch, and nothing it decides:

- which of the batch's orders have no ticket yet (one query for the batch, instead of one per
  order): only those take the batched path; an order with tickets takes the one-by-one path;
- the new tickets' rows (:class:`engine.workflow.batchwrite.TicketBatch`) and their links to
  the orders (``order_tickets``), written by :meth:`TicketScope.write` in a few statements;
- the ``follow`` declarations of the published versions, read once per batch;
- the return-reason counters of the refund tickets it opened, moved when it writes them
  (:mod:`engine.analytics.return_reason_counts`).

The driver (:mod:`engine.orders.pipeline`) begins the scope after its claim, marks and rolls it
back with each order's savepoint, writes it before the batch's timeline entries and closes it;
a failure while writing makes it run the batch again without scopes (one order at a time,
each in its savepoint). Outside a batch (no scope on the session) the stage works one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from engine.analytics.return_reason_counts import refresh_order_tickets
from engine.orders.pipeline_model import OrderTicket
from engine.workflow.batchwrite import TicketBatch

if TYPE_CHECKING:
    from engine.orders.ticket_bindings import CompiledFollow
    from engine.services import Services

__all__ = ["ORDER_TICKETS", "TicketScope", "ticket_scope"]

SCOPE_KEY = "orderpulse.orders.ticket_scope"
ORDER_TICKETS = cast(Table, OrderTicket.__table__)


class TicketScope:
    """One pipeline batch's shared state for the ticket stage (see the module docstring)."""

    def __init__(self, session: Session, order_pks: Sequence[int]) -> None:
        self.tickets = TicketBatch()
        self._ticketed = set(session.scalars(
            select(ORDER_TICKETS.c.order_pk).where(ORDER_TICKETS.c.order_pk.in_(list(order_pks))).distinct()))
        self._fresh = [pk for pk in order_pks if pk not in self._ticketed]
        self._follows: dict[str, list[CompiledFollow]] = {}

    @classmethod
    def begin(cls, session: Session, services: Services, order_pks: Sequence[int]) -> TicketScope:
        scope = cls(session, order_pks)
        session.info[SCOPE_KEY] = scope
        return scope

    def fresh(self, order_pk: int) -> bool:
        """Whether order ``order_pk`` had no ticket when the batch began (its tickets, if any,
        are opened in this batch, by this scope)."""
        return order_pk not in self._ticketed

    def follows(self, subject: str, load: Callable[[], list[CompiledFollow]]) -> list[CompiledFollow]:
        found = self._follows.get(subject)
        if found is None:
            found = self._follows[subject] = load()
        return found

    def mark(self) -> Any:
        return self.tickets.mark()

    def rollback(self, mark: Any) -> None:
        self.tickets.rollback(mark)

    def write(self, session: Session) -> None:
        if len(self.tickets):
            conn = session.connection()
            self.tickets.write(conn)
            refresh_order_tickets(conn, self._fresh)  # with the reasons the batch's steps left

    def close(self, session: Session) -> None:
        if session.info.get(SCOPE_KEY) is self:
            del session.info[SCOPE_KEY]


def ticket_scope(session: Session) -> TicketScope | None:
    """The batch scope the pipeline opened on ``session``, or None (one by one)."""
    return cast("TicketScope | None", session.info.get(SCOPE_KEY))
