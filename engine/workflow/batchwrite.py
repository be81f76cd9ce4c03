"""Many new tickets opened and moved in one transaction, their rows written together.

Owns the batched form of two use cases of :mod:`engine.workflow.service` for tickets opened in
the same transaction (the order pipeline opens one per order of a batch):

- :meth:`TicketBatch.open` inserts the ticket's row at once (its id is needed by what follows)
  and keeps its first history row and first deadline;
- :meth:`TicketBatch.fire` decides an action exactly as ``fire_in`` does
  (:func:`engine.workflow.service.plan_fire`: the same checks, effects, history row, answer)
  and keeps its rows; the ticket's pending deadline kept here is cancelled here, the ticket's
  new values replace the ones to write.

:meth:`TicketBatch.write` then sends them in a few statements (the tickets' final values, the
history rows, the deadlines, the outbox rows and vouchers, and the rows a caller adds with
:meth:`TicketBatch.add_row`, each table in one ``executemany``, rows in the order they were kept).
The end state equals the one-by-one path's: a deadline opened and cancelled in the batch is
written once, already cancelled with its outcome. A ticket not opened by the batch is refused
(``fire_in`` is its path: its deadlines and version live in the database).

:meth:`TicketBatch.mark` and :meth:`TicketBatch.rollback` follow the caller's savepoints: a unit
of work rolled back forgets what it kept. A failure in :meth:`TicketBatch.write` leaves the
transaction unusable: the caller rolls it back and does the work one by one.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, update
from sqlalchemy.orm import Session

from engine.storage.models import OutboxMessage
from engine.workflow.machine import CompiledMachine
from engine.workflow.models import FinanceVoucher, WorkflowDeadline, WorkflowInstance, WorkflowTransition
from engine.workflow.service import TicketRow, plan_fire, sync_instance
from engine.workflow.stepwrite import ADVANCE_COLUMNS, Prepared
from engine.workflow.tickets import creation_history, first_deadline, new_instance_values

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["TicketBatch"]

_INSTANCES = cast(Table, WorkflowInstance.__table__)
_OPEN = Prepared(insert(_INSTANCES).returning(_INSTANCES.c.id))
_FINAL = Prepared(update(_INSTANCES).where(_INSTANCES.c.id == bindparam("b_id"))
                  .values({c: bindparam(c) for c in ADVANCE_COLUMNS}))
_INSERTS: dict[Table, Prepared] = {}


def _insert(table: Table) -> Prepared:
    found = _INSERTS.get(table)
    if found is None:
        found = _INSERTS.setdefault(table, Prepared(insert(table)))
    return found


_TRANSITIONS = cast(Table, WorkflowTransition.__table__)
_DEADLINES = cast(Table, WorkflowDeadline.__table__)
_OUTBOX = cast(Table, OutboxMessage.__table__)
_VOUCHERS = cast(Table, FinanceVoucher.__table__)


class TicketBatch:
    """Rows of the tickets opened and moved in one transaction, kept until :meth:`write`."""

    def __init__(self) -> None:
        self._finals: list[tuple[int, dict[str, Any]]] = []
        self._rows: list[tuple[Table, dict[str, Any]]] = []
        self._opened: dict[int, list[dict[str, Any]]] = {}  # ticket id → its deadline rows kept here
        self._opened_order: list[int] = []

    # ------------------------------------------------------------------ savepoints

    def mark(self) -> tuple[int, int, int]:
        return len(self._finals), len(self._rows), len(self._opened_order)

    def rollback(self, mark: tuple[int, int, int]) -> None:
        finals, rows, opened = mark
        del self._finals[finals:]
        del self._rows[rows:]
        for ticket in self._opened_order[opened:]:
            self._opened.pop(ticket, None)
        del self._opened_order[opened:]

    def __len__(self) -> int:
        return len(self._rows) + len(self._finals)

    # ------------------------------------------------------------------ use cases

    def open(self, session: Session, compiled: CompiledMachine, data: dict[str, Any], *, actor: str, now: datetime,
             role: str | None = None) -> TicketRow:
        """``create_instance_in`` for this batch: the ticket (a :class:`TicketRow`) in its
        initial state; raises :class:`engine.errors.Unprocessable` as it does."""
        values = new_instance_values(compiled, data, actor=actor, now=now)
        ticket_id = int(_OPEN.execute(session.connection(), values).scalar_one())
        self._rows.append((_TRANSITIONS, creation_history(compiled, ticket_id, values, role=role)))
        deadline = first_deadline(compiled, ticket_id, values["state"], now)
        kept: list[dict[str, Any]] = []
        if deadline is not None:
            self._rows.append((_DEADLINES, deadline))
            kept.append(deadline)
        self._opened[ticket_id] = kept
        self._opened_order.append(ticket_id)
        return TicketRow(id=ticket_id, **values)

    def fire(self, session: Session, services: Services, compiled: CompiledMachine, inst: Any, action: str,
             payload: dict[str, Any], *, actor: str, role: str | None, via: str, idempotency_key: str | None,
             now: datetime) -> dict[str, Any]:
        """``fire_in`` for a ticket this batch opened: the same checks, refusals and answer."""
        deadlines = self._opened.get(inst.id)
        if deadlines is None:
            raise LookupError(f"ticket {inst.id} was not opened by this batch")
        step = plan_fire(session, services, compiled, inst, action, payload, actor=actor, role=role, via=via,
                         idempotency_key=idempotency_key, now=now)
        if step.cancel_outcome is not None:
            for row in deadlines:
                if row["status"] == "pending":
                    row["status"], row["outcome"] = "cancelled", step.cancel_outcome
        self._finals.append((inst.id, step.values))
        self._rows.append((_TRANSITIONS, {"instance_id": inst.id, **step.history}))
        if step.deadline is not None:
            deadline = {"instance_id": inst.id, **step.deadline}
            self._rows.append((_DEADLINES, deadline))
            deadlines.append(deadline)
        self._rows.extend((_OUTBOX, row) for row in step.rows.outbox)
        self._rows.extend((_VOUCHERS, row) for row in step.rows.vouchers)
        sync_instance(inst, step.values)
        return step.body

    def add_row(self, table: Table, row: dict[str, Any]) -> None:
        """A row of the caller's own (e.g. the link of a ticket to an order), written with the rest."""
        self._rows.append((table, row))

    # ------------------------------------------------------------------ writing

    def write(self, conn: Connection) -> None:
        """Everything kept, a statement per table and per set of columns; then nothing is kept."""
        if self._finals:
            last = {ticket: values for ticket, values in self._finals}
            _FINAL.execute(conn, [{"b_id": ticket, **values} for ticket, values in last.items()])
        groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
        for table, row in self._rows:
            groups.setdefault((table, tuple(row)), []).append(row)
        for (table, _), rows in groups.items():
            _insert(table).execute(conn, rows if len(rows) > 1 else rows[0])
        self._finals.clear()
        self._rows.clear()
        self._opened.clear()
        self._opened_order.clear()
