"""Reserving and releasing an order's stock inside a caller's transaction (the order pipeline's).

The rules are those of :mod:`engine.inventory.sql_store` and :mod:`engine.inventory.hotpath`:
the idempotency key is claimed in ``inventory_requests`` (its partial unique index allows one
reservation per order, whatever the key), each SKU changes with one conditional ``UPDATE … WHERE
total - reserved - safety >= :qty`` in sorted SKU order, and the reservation lines, ledger rows,
push markers and the stored answer are written in the same transaction. Here that transaction
is the caller's: everything commits or rolls back with the caller's own rows (the pipeline's
step), so a crash can never leave a reservation without the step that made it, or the other
way round. All lines or none: a short SKU rolls back to a savepoint and raises
:class:`InsufficientStock` naming each short SKU.

The reservation runs the hot path's own statements (``ReservePath.reserve_in_transaction``:
the server-side function on PostgreSQL, the prepared SQLite statements) on the caller's
connection. Never commits, never calls Redis. What changed is collected on the session
(:func:`committed_changes`) so the caller mirrors it to the Redis gate after its commit
(:func:`mirror_to_gate`); a mirror that fails is repaired by the reconciler.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.errors import Conflict
from engine.inventory.domain import OrderLine, Outcome, merge_lines, next_line_status
from engine.inventory.hotpath import ReservePath
from engine.inventory.models import InventoryRequest, LedgerEntry, ReservationLine, StockItem
from engine.inventory.push import mark_changed
from engine.inventory.push_wake import PUSH_FLAG
from engine.outbox.wake import mark_written

if TYPE_CHECKING:
    from engine.inventory.service import InventoryService

__all__ = [
    "GateChange",
    "ReservedLine",
    "committed_changes",
    "mirror_to_gate",
    "release_in",
    "reservation_lines",
    "reserve_in",
    "ship_in",
]

_S: Table = StockItem.__table__  # type: ignore[assignment]
_REQ: Table = InventoryRequest.__table__  # type: ignore[assignment]
_LINES: Table = ReservationLine.__table__  # type: ignore[assignment]
_LEDGER: Table = LedgerEntry.__table__  # type: ignore[assignment]
_CHANGES = "inventory_gate_changes"
_RETURNING = (_S.c.total_stock, _S.c.reserved_stock, _S.c.safety_stock, _S.c.version)
_RESERVATION = (select(_LINES.c.sku_id, _LINES.c.qty, _LINES.c.qty_shipped, _LINES.c.qty_released, _LINES.c.status)
                .where(_LINES.c.order_id == bindparam("order_id")).order_by(_LINES.c.sku_id))
_STORED_ANSWER = select(_REQ.c.answer).where(_REQ.c.operation == bindparam("operation"), _REQ.c.key == bindparam("key"))


@dataclass(frozen=True)
class GateChange:
    """A committed change the Redis gate must mirror: ``op_key`` applied once, ``deltas`` in
    available units per SKU, ``seen_key`` an accepted reservation key."""

    op_key: str
    deltas: dict[str, int]
    seen_key: str = ""


@dataclass(frozen=True)
class ReservedLine:
    """One SKU of an order's reservation: reserved, shipped and released quantities."""

    sku_id: str
    qty: int
    qty_shipped: int
    qty_released: int
    status: str

    @property
    def open_qty(self) -> int:
        return self.qty - self.qty_shipped - self.qty_released


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _note_change(session: Session, change: GateChange) -> None:
    session.info.setdefault(_CHANGES, []).append(change)


def committed_changes(session: Session) -> list[GateChange]:
    """The gate changes made through ``session`` (call after its commit; clears the list)."""
    return list(session.info.pop(_CHANGES, []))


def forget_changes(session: Session, since: int) -> None:
    """Drop the changes noted after the first ``since`` ones (their savepoint rolled back)."""
    found = session.info.get(_CHANGES)
    if found is not None:
        del found[since:]


def change_count(session: Session) -> int:
    return len(session.info.get(_CHANGES, ()))


def mirror_to_gate(inventory: InventoryService, changes: Iterable[GateChange]) -> None:
    """Apply committed changes to the Redis gate (nothing when no gate is configured)."""
    gate = inventory.gate
    if gate is None:
        return
    for change in changes:
        gate.apply_delta(change.op_key, change.deltas, seen_key=change.seen_key)


def reservation_lines(session: Session, order_id: str) -> list[ReservedLine]:
    """The reservation lines of ``order_id`` (sorted by SKU); empty when it has none."""
    rows = session.execute(_RESERVATION, {"order_id": order_id}).all()
    return [ReservedLine(r.sku_id, r.qty, r.qty_shipped, r.qty_released, r.status) for r in rows]


def _stored_answer(session: Session, operation: str, key: str) -> dict[str, Any] | None:
    row = session.execute(_STORED_ANSWER, {"operation": operation, "key": key}).first()
    return None if row is None else dict(row[0])


def reserve_in(session: Session, hot: ReservePath, order_id: str, lines: Iterable[OrderLine | Mapping[str, Any]], *,
               key: str, now: datetime, channel: str = "", actor: str = "") -> Outcome:
    """Reserve every line of ``order_id`` or none, in ``session``'s transaction (the hot path's
    statements under a savepoint, :meth:`ReservePath.reserve_in_transaction`). The same key
    again answers the first reservation (``replayed``); another key for an order already
    reserved is a :class:`Conflict`; a short SKU raises :class:`InsufficientStock`."""
    merged = merge_lines(lines)
    conn = session.connection().connection.driver_connection
    outcome = hot.reserve_in_transaction(conn, order_id, merged, key=key, channel=channel, actor=actor[:64], now=now)
    if not outcome.replayed:
        _note_change(session, GateChange(f"reserve:{key}", {ln.sku_id: -ln.qty for ln in merged}, seen_key=key))
        # its push markers were written on the driver connection, past the commit hooks: the
        # stock push relay is woken when the caller's transaction commits
        mark_written(session, PUSH_FLAG)
    return outcome


def release_in(session: Session, order_id: str, wanted: Mapping[str, int] | None, *, key: str, now: datetime,
               actor: str = "", reason: str = "") -> Outcome | None:
    """Release what is still reserved of ``order_id`` (``wanted``: at most so many units per
    SKU; None: everything open), in ``session``'s transaction. None when nothing was open;
    the same key again answers the first release."""
    return _settle_in(session, "release", order_id, wanted, key=key, now=now, actor=actor, reason=reason)


def ship_in(session: Session, order_id: str, *, key: str, now: datetime, actor: str = "",
            reason: str = "") -> Outcome | None:
    """Ship everything still reserved of ``order_id`` (the goods left the warehouse by another
    way than our ship use case: the platform says the order shipped), in ``session``'s
    transaction: reserved and total go down together, availability is unchanged. None when
    nothing was open; the same key again answers the first shipment."""
    return _settle_in(session, "ship", order_id, None, key=key, now=now, actor=actor, reason=reason)


def _settle_in(session: Session, operation: str, order_id: str, wanted: Mapping[str, int] | None, *, key: str,
               now: datetime, actor: str, reason: str) -> Outcome | None:
    prior = _stored_answer(session, operation, key)
    if prior is not None:
        return Outcome(operation, key, prior, replayed=True)
    ship = operation == "ship"
    stmt = select(_LINES).where(_LINES.c.order_id == order_id).order_by(_LINES.c.sku_id)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    moved: list[dict[str, Any]] = []
    changed: list[tuple[str, int]] = []
    for line in session.execute(stmt).all():
        open_qty = line.qty - line.qty_shipped - line.qty_released
        qty = open_qty if wanted is None else min(open_qty, int(wanted.get(line.sku_id, 0)))
        if qty <= 0:
            continue
        d_total = -qty if ship else 0
        row = session.execute(
            update(_S).where(_S.c.sku_id == line.sku_id, _S.c.reserved_stock >= qty, _S.c.total_stock + d_total >= 0)
            .values(reserved_stock=_S.c.reserved_stock - qty, total_stock=_S.c.total_stock + d_total,
                    version=_S.c.version + 1, sync_timestamp=now)
            .returning(*_RETURNING)).first()
        if row is None:  # I2 makes this unreachable; refuse rather than corrupt
            raise Conflict(f"stock of {line.sku_id} does not cover the order's reservation", code="stock_mismatch")
        shipped = line.qty_shipped + (qty if ship else 0)
        released = line.qty_released + (0 if ship else qty)
        session.execute(update(_LINES).where(_LINES.c.id == line.id).values(
            qty_shipped=shipped, qty_released=released, status=next_line_status(line.qty, shipped, released),
            updated_at=now))
        session.execute(insert(_LEDGER).values(
            operation=operation, sku_id=line.sku_id, delta_total=d_total, delta_reserved=-qty,
            total_after=row.total_stock, reserved_after=row.reserved_stock, safety_after=row.safety_stock,
            version=row.version, order_id=order_id, channel=line.channel, actor=actor[:64], reason=reason[:200],
            key=key, at=now))
        changed.append((line.sku_id, row.version))
        moved.append({"sku_id": line.sku_id, "qty": qty})
    if not moved:
        return None
    mark_changed(session, changed, now)
    word = "shipped" if ship else "released"
    body = {"order_id": order_id, "status": word, "key": key, word: moved}
    session.execute(insert(_REQ).values(operation=operation, key=key, order_id=order_id, answer=body,
                                        created_at=now))
    if not ship:  # shipping leaves availability unchanged: nothing for the gate
        _note_change(session, GateChange(f"release:{key}", {r["sku_id"]: r["qty"] for r in moved}))
    return Outcome(operation, key, body)
