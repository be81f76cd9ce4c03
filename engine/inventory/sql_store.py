"""SQL decides: reserve, release, ship, adjust and set_safety as short transactions.

Each operation claims its idempotency key first (``INSERT … ON CONFLICT DO NOTHING``), changes
each SKU with one conditional ``UPDATE`` in sorted SKU order, and writes reservation lines,
ledger rows, the SKU's push marker (see ``engine.inventory.push``) and the stored answer in the
same transaction. A replay — in sequence or racing — returns the first answer. Refusals change
nothing and are not stored, so a refused order may be tried again. No Redis or HTTP call
happens inside a transaction here. ``reserve``, the hot path, runs in
``engine.inventory.hotpath``; the other operations use SQLAlchemy Core through a session.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.errors import Conflict, Unprocessable
from engine.inventory.domain import (
    LINE_TRANSITIONS,
    AdjustRefused,
    OrderLine,
    Outcome,
    ShipRefused,
    UnknownOrder,
    UnknownSku,
    available_of,
    merge_lines,
    next_line_status,
)
from engine.inventory.hotpath import ReservePath
from engine.inventory.models import (
    InventoryRequest,
    LedgerEntry,
    ReservationLine,
    StockItem,
)
from engine.inventory.push import mark_changed
from engine.storage.db import Database
from engine.values import MAX_STOCK

__all__ = ["InventoryStore", "available_of", "stock_view"]

_S = StockItem
_RETURNING = (_S.sku_id, _S.total_stock, _S.reserved_stock, _S.safety_stock, _S.version)
_LEDGER: Table = LedgerEntry.__table__  # type: ignore[assignment]
_REQUESTS: Table = InventoryRequest.__table__  # type: ignore[assignment]


def stock_view(item: StockItem | Any) -> dict[str, Any]:
    return {
        "sku_id": item.sku_id,
        "total_stock": item.total_stock,
        "reserved_stock": item.reserved_stock,
        "safety_stock": item.safety_stock,
        "available": available_of(item.total_stock, item.reserved_stock, item.safety_stock),
        "version": item.version,
        "sync_timestamp": item.sync_timestamp.isoformat() if getattr(item, "sync_timestamp", None) else None,
    }


def _stored_answer(session: Session, operation: str, key: str) -> dict[str, Any] | None:
    row = session.execute(
        select(InventoryRequest.answer).where(InventoryRequest.operation == operation, InventoryRequest.key == key)
    ).first()
    return None if row is None else dict(row[0])


_CLOCK_KEY = "inventory_now"


def _now_of(session: Session) -> datetime:
    return session.info[_CLOCK_KEY]


def _ledger(s: Session, op: str, row: Any, d_total: int, d_reserved: int, *, order_id: str | None,
            channel: str, actor: str, key: str, reason: str = "") -> None:
    s.execute(insert(_LEDGER).values(
        operation=op, sku_id=row.sku_id, delta_total=d_total, delta_reserved=d_reserved,
        total_after=row.total_stock, reserved_after=row.reserved_stock, safety_after=row.safety_stock,
        version=row.version, order_id=order_id, channel=channel, actor=actor, reason=reason, key=key,
        at=_now_of(s),
    ))
    mark_changed(s, [(row.sku_id, row.version)], _now_of(s))


class InventoryStore:
    """The SQL authority over stock. Every public method is one short transaction."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.hot = ReservePath(db)

    def _run(self, operation: str, key: str, work: Callable[[Session], dict[str, Any]]) -> Outcome:
        return _run_claimed(self.db, operation, key, self.clock.now(), work)

    # -- reserve ---------------------------------------------------------------------------
    def reserve(self, order_id: str, lines: Iterable[OrderLine | Mapping[str, Any]], *, key: str | None = None,
                channel: str = "", actor: str = "") -> Outcome:
        """Reserve every line of ``order_id`` or none; raises :class:`InsufficientStock`."""
        if not order_id:
            raise Unprocessable("order_id is required", details=[{"path": "/order_id", "message": "required"}])
        merged = merge_lines(lines)
        return self.hot.reserve(order_id, merged, key=key or order_id, channel=channel, actor=actor,
                                now=self.clock.now())

    # -- release and ship ------------------------------------------------------------------
    def _open_lines(self, s: Session, order_id: str) -> list[ReservationLine]:
        found = list(s.scalars(
            select(ReservationLine).where(ReservationLine.order_id == order_id)
            .order_by(ReservationLine.sku_id).with_for_update()
        ))
        if not found:
            raise UnknownOrder(f"no reservation for order {order_id}")
        return found

    def _move(self, s: Session, op: str, line: ReservationLine, qty: int, *, key: str, actor: str) -> Any:
        """Ship or release ``qty`` of one line and move the stock row with it."""
        d_total = -qty if op == "ship" else 0
        row = s.execute(
            update(_S)
            .where(_S.sku_id == line.sku_id, _S.reserved_stock >= qty, _S.total_stock + d_total >= 0)
            .values(reserved_stock=_S.reserved_stock - qty, total_stock=_S.total_stock + d_total,
                    version=_S.version + 1, sync_timestamp=_now_of(s))
            .returning(*_RETURNING)
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:  # the CHECK and I2 make this unreachable; refuse rather than corrupt
            raise Conflict(f"stock of {line.sku_id} does not cover the order's reservation", code="stock_mismatch")
        if op == "ship":
            line.qty_shipped += qty
        else:
            line.qty_released += qty
        new_status = next_line_status(line.qty, line.qty_shipped, line.qty_released)
        assert new_status in LINE_TRANSITIONS[line.status], (line.status, new_status)
        line.status = new_status
        line.updated_at = _now_of(s)
        _ledger(s, op, row, d_total, -qty, order_id=line.order_id, channel=line.channel, actor=actor, key=key)
        return row

    def release(self, order_id: str, *, key: str | None = None, actor: str = "") -> Outcome:
        """Cancel: release whatever is still reserved on the order (after partial ships too)."""
        key = key or order_id

        def work(s: Session) -> dict[str, Any]:
            released = []
            for line in self._open_lines(s, order_id):
                open_qty = line.qty - line.qty_shipped - line.qty_released
                if open_qty > 0:
                    self._move(s, "release", line, open_qty, key=key, actor=actor)
                    released.append({"sku_id": line.sku_id, "qty": open_qty})
            return {"order_id": order_id, "status": "released", "key": key, "released": released}

        return self._run("release", key, work)

    def ship(self, order_id: str, lines: Iterable[OrderLine | Mapping[str, Any]] | None = None, *,
             key: str | None = None, actor: str = "") -> Outcome:
        """Ship ``lines`` of the order (all still reserved when None): reserved and total go down."""
        merged = merge_lines(lines) if lines is not None else None
        if key is None:
            key = order_id if merged is None else order_id + ":" + ",".join(f"{ln.sku_id}*{ln.qty}" for ln in merged)

        def work(s: Session) -> dict[str, Any]:
            by_sku = {ln.sku_id: ln for ln in self._open_lines(s, order_id)}
            wanted = merged if merged is not None else [
                OrderLine(ln.sku_id, ln.qty - ln.qty_shipped - ln.qty_released) for ln in by_sku.values()
                if ln.qty - ln.qty_shipped - ln.qty_released > 0
            ]
            problems = []
            for want in wanted:
                line = by_sku.get(want.sku_id)
                open_qty = 0 if line is None else line.qty - line.qty_shipped - line.qty_released
                if want.qty > open_qty:
                    problems.append({"path": "/lines", "sku_id": want.sku_id, "requested": want.qty,
                                     "reserved": open_qty})
            if problems:
                raise ShipRefused(f"order {order_id} has less reserved than asked to ship", details=problems)
            for want in wanted:
                self._move(s, "ship", by_sku[want.sku_id], want.qty, key=key, actor=actor)
            return {"order_id": order_id, "status": "shipped", "key": key,
                    "shipped": [{"sku_id": w.sku_id, "qty": w.qty} for w in wanted]}

        return self._run("ship", key, work)

    # -- adjust ----------------------------------------------------------------------------
    def adjust(self, sku_id: str, delta: int, reason: str, *, key: str | None = None, actor: str = "") -> Outcome:
        """Inbound (+) or stocktake (−) change of total; a new SKU is created by a positive delta."""
        if not sku_id:
            raise Unprocessable("sku_id is required", details=[{"path": "/sku_id", "message": "required"}])
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            raise Unprocessable("delta must be a non-zero whole number",
                                details=[{"path": "/delta", "message": "non-zero integer required"}])
        key = key or f"adjust:{uuid.uuid4()}"

        def work(s: Session) -> dict[str, Any]:
            now = _now_of(s)
            row: Any = s.execute(
                update(_S)
                .where(_S.sku_id == sku_id, _S.total_stock + delta >= _S.reserved_stock, _S.total_stock + delta >= 0,
                       _S.total_stock + delta <= MAX_STOCK)
                .values(total_stock=_S.total_stock + delta, version=_S.version + 1, sync_timestamp=now)
                .returning(*_RETURNING)
                .execution_options(synchronize_session=False)
            ).first()
            if row is None:
                current = s.get(StockItem, sku_id)
                if current is not None and current.total_stock + delta > MAX_STOCK:
                    raise Unprocessable(
                        f"adjusting {sku_id} by {delta} would make its total {current.total_stock + delta}, "
                        f"above the most one SKU may hold ({MAX_STOCK})", code="out_of_range",
                        details=[{"path": "/delta", "message": "total stock out of range", "minimum": 0,
                                  "maximum": MAX_STOCK, "total_stock": current.total_stock}])
                if current is not None or delta < 0:
                    have = (current.total_stock, current.reserved_stock) if current else (0, 0)
                    raise AdjustRefused(
                        f"adjusting {sku_id} by {delta} would leave total {have[0] + delta} below reserved {have[1]}",
                        details=[{"path": "/delta", "total_stock": have[0], "reserved_stock": have[1]}])
                item = StockItem(sku_id=sku_id, total_stock=delta, reserved_stock=0, safety_stock=0,
                                 version=1, sync_timestamp=now)
                s.add(item)
                s.flush()  # a racing creation of the same SKU fails here and is retried
                row = item
            _ledger(s, "adjust", row, delta, 0, order_id=None, channel="", actor=actor, key=key, reason=reason)
            return {"sku_id": sku_id, "status": "adjusted", "key": key, "delta": delta, "reason": reason,
                    "stock": {"sku_id": sku_id, "total_stock": row.total_stock, "reserved_stock": row.reserved_stock,
                              "available": available_of(row.total_stock, row.reserved_stock, row.safety_stock),
                              "version": row.version}}

        return self._run("adjust", key, work)

    def set_safety(self, sku_id: str, safety: int, *, key: str | None = None, actor: str = "") -> Outcome:
        """Set the safety buffer held back from every channel (not a stock movement)."""
        if not isinstance(safety, int) or safety < 0:
            raise Unprocessable("safety must be ≥ 0", details=[{"path": "/safety_stock", "message": "≥ 0"}])
        key = key or f"safety:{uuid.uuid4()}"

        def work(s: Session) -> dict[str, Any]:
            before = s.execute(select(_S.safety_stock).where(_S.sku_id == sku_id).with_for_update()).first()
            if before is None:
                raise UnknownSku(f"unknown SKU {sku_id}", details=[{"path": "/sku_id", "sku_id": sku_id}])
            row = s.execute(
                update(_S).where(_S.sku_id == sku_id)
                .values(safety_stock=safety, version=_S.version + 1, sync_timestamp=_now_of(s))
                .returning(*_RETURNING).execution_options(synchronize_session=False)
            ).first()
            _ledger(s, "safety", row, 0, 0, order_id=None, channel="", actor=actor, key=key)
            return {"sku_id": sku_id, "status": "safety_set", "key": key, "safety_stock": safety,
                    "previous_safety_stock": before[0]}

        return self._run("safety", key, work)

    # -- reads -----------------------------------------------------------------------------
    def get(self, sku_id: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            item = s.get(StockItem, sku_id)
            return None if item is None else stock_view(item)

    def all_available(self) -> dict[str, int]:
        with self.db.session() as s:
            rows = s.execute(select(*_RETURNING)).all()
        return {r[0]: available_of(r[1], r[2], r[3]) for r in rows}

    def reserve_keys_after(self, after_id: int, limit: int) -> tuple[list[str], int]:
        """Accepted reservation keys with request id above ``after_id``, in id order (the gate's
        seen-keys filter is filled from them), and the last one's id."""
        with self.db.session() as s:
            rows = s.execute(select(_REQUESTS.c.id, _REQUESTS.c.key)
                             .where(_REQUESTS.c.operation == "reserve", _REQUESTS.c.id > after_id)
                             .order_by(_REQUESTS.c.id).limit(limit)).all()
        return [r[1] for r in rows], (rows[-1][0] if rows else after_id)

    def answer_for(self, operation: str, key: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            return _stored_answer(s, operation, key)


def _claim(session: Session, operation: str, key: str, now: datetime) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING id``: the claim's id, or None when the key
    was seen (a racing twin on PostgreSQL waits here until the first commits or rolls back)."""
    ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = (ins(_REQUESTS).values(operation=operation, key=key, answer={}, created_at=now)
            .on_conflict_do_nothing().returning(_REQUESTS.c.id))
    return session.execute(stmt).scalar()


def _run_claimed(db: Database, operation: str, key: str, now: datetime,
                 work: Callable[[Session], dict[str, Any]]) -> Outcome:
    """Run ``work`` after claiming ``(operation, key)``; a seen key returns the stored answer."""
    last: Exception | None = None
    for attempt in range(8):
        try:
            with db.transaction(immediate=True) as s:
                s.info[_CLOCK_KEY] = now
                claim_id = _claim(s, operation, key, now)
                if claim_id is None:
                    prior = _stored_answer(s, operation, key)
                    if prior is None:  # pragma: no cover - only reserve has a second unique index
                        raise Conflict(f"{operation} key {key} is taken", code="key_conflict")
                    return Outcome(operation, key, prior, replayed=True)
                body = work(s)
                s.execute(update(_REQUESTS).where(_REQUESTS.c.id == claim_id)
                          .values(answer=body, order_id=body.get("order_id")))
            return Outcome(operation, key, body)
        except IntegrityError as exc:  # a racing creation of the same SKU (adjust): try again
            last = exc
        except OperationalError as exc:  # deadlock, serialization, dropped connection: retry, same key
            last = exc
        time.sleep(0.005 * (attempt + 1))
    assert last is not None
    raise last
