"""The reservation hot path: ``reserve`` as one short transaction of SQL text prepared once per
dialect, run on a pooled DB-API connection.

Why not the ORM here: profiling a reservation showed nine tenths of its time in SQLAlchemy's
unit of work and statement building, not in the database. This module keeps the same rules
as the rest of the store (claim the key, one conditional ``UPDATE`` per SKU in sorted order,
lines, ledger, push marker and stored answer in the same transaction) with fewer statements:

1. claim: ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` — the key's unique row and the
   partial unique index on reserved ``order_id`` answer "replay" and "order already reserved
   under another key" in the same statement; a racing twin waits on the index and then sees
   the first answer;
2. ``UPDATE inventory_stock … WHERE total - reserved - safety >= :qty RETURNING …`` per SKU;
3. one multi-row ``INSERT`` each for reservation lines and ledger rows, one upsert of the
   per-SKU push markers (latest version wins), the stored answer, ``COMMIT``.

On PostgreSQL 1–2 go in one psycopg pipeline and 3 in a second (two network round trips; the
server prepares repeated statements), on SQLite they run after ``BEGIN IMMEDIATE``. A refusal
rolls everything back and is not stored. A dropped connection, a deadlock or a busy database
is retried with the same key, so a commit whose answer was lost is answered as a replay.

A few pooled connections stay checked out between reservations (:class:`_Shelf`), so a busy
loop does not pay the pool's pre-ping round trip per call; a connection found broken is
invalidated and the attempt retried on a fresh one, which is what the pre-ping would have done.
"""

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import event

from engine.errors import Conflict
from engine.inventory.domain import InsufficientStock, OrderLine, Outcome, available_of
from engine.storage.db import Database
from engine.storage.types import JSONType, UTCDateTime

ATTEMPTS = 8

_CLAIM = ("INSERT INTO inventory_requests (operation, key, order_id, answer, created_at) "
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id")
_TAKE = ("UPDATE inventory_stock SET reserved_stock = reserved_stock + ?, version = version + 1, "
         "sync_timestamp = ? WHERE sku_id = ? AND total_stock - reserved_stock - safety_stock >= ? "
         "RETURNING total_stock, reserved_stock, safety_stock, version")
_ANSWER = "UPDATE inventory_requests SET answer = ? WHERE id = ?"
_STORED = "SELECT answer FROM inventory_requests WHERE operation = ? AND key = ?"
_LINES = ("INSERT INTO inventory_reservation_lines (order_id, sku_id, qty, qty_shipped, qty_released, status, "
          "channel, created_at, updated_at) VALUES ")
_LINE_ROW = "(?, ?, ?, 0, 0, 'reserved', ?, ?, ?)"
_LEDGER = ("INSERT INTO inventory_ledger (operation, sku_id, delta_total, delta_reserved, total_after, "
           "reserved_after, safety_after, version, order_id, channel, actor, reason, key, at) VALUES ")
_LEDGER_ROW = "('reserve', ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)"
_PENDING = "INSERT INTO inventory_push_pending (sku_id, version, queued_at) VALUES "
_PENDING_ROW = "(?, ?, ?)"
_PENDING_TAIL = (" ON CONFLICT (sku_id) DO UPDATE SET version = excluded.version, queued_at = excluded.queued_at "
                 "WHERE inventory_push_pending.version < excluded.version")


@lru_cache(maxsize=64)
def _multi(head: str, row: str, count: int, tail: str, pg: bool) -> str:
    return _text(head + ", ".join([row] * count) + tail, pg)


@lru_cache(maxsize=64)
def _text(sql: str, pg: bool) -> str:
    return sql.replace("?", "%s") if pg else sql


class _Results:
    """Statements of one phase: executed at once (SQLite) or queued in a pipeline (PostgreSQL)."""

    def __init__(self, conn: Any, pg: bool) -> None:
        self.conn = conn
        self.pg = pg
        self.cursors: list[Any] = []

    def run(self, sql: str, params: Sequence[Any]) -> int:
        cur = self.conn.cursor()
        cur.execute(sql, params)
        if self.pg:
            self.cursors.append(cur)
        else:
            self.cursors.append(cur.fetchall() if cur.description else [])
            cur.close()
        return len(self.cursors) - 1

    def first(self, index: int) -> tuple[Any, ...] | None:
        found = self.cursors[index]
        if self.pg:
            return found.fetchone()
        return found[0] if found else None


class _Shelf:
    """Up to ``keep`` pooled connections kept between calls (LIFO; list ops are atomic)."""

    def __init__(self, db: Database, keep: int) -> None:
        self.db = db
        self.keep = keep
        self._idle: list[Any] = []

    def take(self) -> Any:
        try:
            return self._idle.pop()
        except IndexError:
            return self.db.engine.raw_connection()

    def give(self, fairy: Any) -> None:
        if len(self._idle) < self.keep:
            self._idle.append(fairy)
        else:
            fairy.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    def drop(self) -> None:
        """Close the kept connections outright (the engine was disposed: no pool to return to)."""
        while self._idle:
            self._idle.pop().invalidate()


class ReservePath:
    """Reservations for one :class:`Database`; safe to share between threads."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.pg = db.is_postgres
        dialect = db.engine.dialect
        self._time = UTCDateTime().dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
        self._json = JSONType.dialect_impl(dialect).bind_processor(dialect) or json.dumps
        dbapi = dialect.loaded_dbapi
        self._retry = (dbapi.OperationalError, dbapi.InterfaceError)
        self._claim, self._take, self._answer, self._stored = (
            _text(s, self.pg) for s in (_CLAIM, _TAKE, _ANSWER, _STORED))
        self.shelf = _Shelf(db, keep=8)
        shelf = weakref.ref(self.shelf)

        def on_dispose(_engine: Any) -> None:
            found = shelf()
            if found is not None:
                found.drop()

        event.listen(db.engine, "engine_disposed", on_dispose)

    def close(self) -> None:
        """Return the kept connections to the pool."""
        self.shelf.close()

    # -- public ------------------------------------------------------------------------------
    def stored_answer(self, operation: str, key: str) -> dict[str, Any] | None:
        """The first answer stored under ``(operation, key)``, or None (one indexed read)."""
        fairy = self.shelf.take()
        try:
            conn = fairy.driver_connection
            rows = self._read(conn, self._stored, (operation, key))
        except BaseException:
            fairy.invalidate()
            fairy.close()
            raise
        self.shelf.give(fairy)
        if not rows:
            return None
        return dict(rows[0][0] if isinstance(rows[0][0], dict) else json.loads(rows[0][0]))

    def reserve(self, order_id: str, merged: list[OrderLine], *, key: str, channel: str, actor: str,
                now: datetime) -> Outcome:
        """Reserve every merged line or none; raises InsufficientStock or Conflict."""
        last: BaseException | None = None
        for attempt in range(ATTEMPTS):
            fairy = self.shelf.take()
            try:
                outcome = self._attempt(fairy, order_id, merged, key, channel, actor, now)
            except self._retry as exc:  # dropped connection, deadlock, busy: same key again
                last = exc
                fairy.invalidate()
                fairy.close()
            except BaseException:
                self._discard_if_broken(fairy)
                raise
            else:
                self.shelf.give(fairy)
                return outcome
            time.sleep(0.005 * (attempt + 1))
        assert last is not None
        raise last

    def _discard_if_broken(self, fairy: Any) -> None:
        """After a domain refusal the connection is clean; after anything else, check it."""
        conn = fairy.driver_connection
        clean = (not conn.in_transaction) if not self.pg else (
            not conn.closed and conn.info.transaction_status == 0)  # psycopg: IDLE
        if clean:
            self.shelf.give(fairy)
        else:
            fairy.invalidate()
            fairy.close()

    # -- one attempt -------------------------------------------------------------------------
    def _attempt(self, fairy: Any, order_id: str, merged: list[OrderLine], key: str, channel: str, actor: str,
                 now: datetime) -> Outcome:
        conn = fairy.driver_connection
        at = self._time(now)
        if self.pg:
            with conn.pipeline() as pipe:
                first = _Results(conn, True)
                claim = first.run(self._claim, ("reserve", key, order_id, self._json({}), at))
                takes = [first.run(self._take, (ln.qty, at, ln.sku_id, ln.qty)) for ln in merged]
                pipe.sync()
                outcome = self._decide(conn, first, claim, takes, order_id, merged, key, channel, actor, at)
        else:
            conn.execute("BEGIN IMMEDIATE")
            try:
                first = _Results(conn, False)
                claim = first.run(self._claim, ("reserve", key, order_id, self._json({}), at))
                takes = []
                if first.first(claim) is not None:
                    takes = [first.run(self._take, (ln.qty, at, ln.sku_id, ln.qty)) for ln in merged]
                outcome = self._decide(conn, first, claim, takes, order_id, merged, key, channel, actor, at)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        if isinstance(outcome, Outcome):
            return outcome
        return self._after_refusal(conn, outcome, key, order_id, merged)

    def _decide(self, conn: Any, first: _Results, claim: int, takes: list[int], order_id: str,
                merged: list[OrderLine], key: str, channel: str, actor: str, at: Any) -> Outcome | list[str]:
        """Finish (commit) and return the outcome, or roll back and return the refused SKUs
        (none: the key or the order was claimed already)."""
        claim_row = first.first(claim)
        if claim_row is None:
            self._rollback(conn)
            return []
        taken = [first.first(i) for i in takes]
        if any(r is None for r in taken):
            self._rollback(conn)
            return [ln.sku_id for ln, r in zip(merged, taken) if r is None]
        rows = [r for r in taken if r is not None]
        stock = [{"sku_id": ln.sku_id, "available": available_of(r[0], r[1], r[2]), "version": r[3]}
                 for ln, r in zip(merged, rows)]
        body = {"order_id": order_id, "status": "reserved", "channel": channel, "key": key,
                "lines": [{"sku_id": ln.sku_id, "qty": ln.qty} for ln in merged], "stock": stock}
        n = len(merged)
        line_params: list[Any] = []
        ledger_params: list[Any] = []
        pending_params: list[Any] = []
        for ln, (total, reserved, safety, version) in zip(merged, rows):
            line_params += [order_id, ln.sku_id, ln.qty, channel, at, at]
            ledger_params += [ln.sku_id, ln.qty, total, reserved, safety, version, order_id, channel, actor, key, at]
            pending_params += [ln.sku_id, version, at]
        second = _Results(conn, self.pg)
        second.run(_multi(_LINES, _LINE_ROW, n, "", self.pg), line_params)
        second.run(_multi(_LEDGER, _LEDGER_ROW, n, "", self.pg), ledger_params)
        second.run(_multi(_PENDING, _PENDING_ROW, n, _PENDING_TAIL, self.pg), pending_params)
        second.run(self._answer, (self._json(body), claim_row[0]))
        if self.pg:
            conn.commit()
        else:
            conn.execute("COMMIT")
        return Outcome("reserve", key, body)

    def _rollback(self, conn: Any) -> None:
        if self.pg:
            conn.rollback()
        else:
            conn.execute("ROLLBACK")

    def _after_refusal(self, conn: Any, refused: list[str], key: str, order_id: str,
                       merged: list[OrderLine]) -> Outcome:
        """Outside the rolled-back transaction: the stored answer, or the refusal's details."""
        if not refused:
            rows = self._read(conn, self._stored, ("reserve", key))
            if rows:
                answer = rows[0][0] if isinstance(rows[0][0], dict) else json.loads(rows[0][0])
                return Outcome("reserve", key, dict(answer), replayed=True)
            raise Conflict(f"order {order_id} already has a reservation under another key",
                           code="order_already_reserved",
                           details=[{"path": "/order_id", "order_id": order_id}])
        marks = ", ".join(["%s" if self.pg else "?"] * len(refused))
        found = {r[0]: available_of(r[1], r[2], r[3]) for r in self._read(
            conn, f"SELECT sku_id, total_stock, reserved_stock, safety_stock FROM inventory_stock WHERE sku_id IN ({marks})",
            refused)}
        raise InsufficientStock([{"sku_id": ln.sku_id, "requested": ln.qty, "available": found.get(ln.sku_id, 0)}
                                 for ln in merged if ln.sku_id in refused])

    def _read(self, conn: Any, sql: str, params: Sequence[Any]) -> list[Any]:
        """A read outside any transaction: on PostgreSQL in autocommit, one round trip (no
        BEGIN/ROLLBACK); SQLite's connections are in autocommit mode already."""
        if not self.pg:
            return list(conn.execute(sql, params).fetchall())
        conn.autocommit = True
        try:
            return list(conn.execute(sql, params).fetchall())
        finally:
            conn.autocommit = False
