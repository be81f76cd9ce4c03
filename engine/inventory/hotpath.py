"""The reservation hot path: ``reserve`` as one short transaction of SQL prepared once per
dialect, run on a pooled DB-API connection.

Why not the ORM here: profiling a reservation showed nine tenths of its time in SQLAlchemy's
unit of work and statement building, not in the database. The rules are those of the rest of
the store: claim the key, one conditional ``UPDATE`` per SKU in sorted order, then lines,
ledger, push markers and the stored answer, all in one transaction.

- PostgreSQL: one round trip. ``SELECT inventory_reserve(...)`` in autocommit runs the whole
  transaction server-side (the function is created by migration 0009 and commits with the
  statement): the claim ``INSERT … ON CONFLICT DO NOTHING`` (a racing twin waits on the unique
  index, then reads the first answer), the per-SKU ``UPDATE … WHERE total - reserved - safety
  >= :qty``, multi-row inserts and the answer. A short SKU raises SQLSTATE ``OPSTK`` and rolls
  everything back.
- SQLite: the same steps from Python after ``BEGIN IMMEDIATE`` (one writer; no network).

The push markers written here commit past the engine's events, so the stock push relay's wake
(:mod:`engine.inventory.push_wake`) is signalled by hand when a Services has hooked it: on
PostgreSQL a ``pg_notify`` follows the committed reservation as a statement of its own (one more
short round trip; none after a refusal or a replay) — inside the reservation's transaction it
would hold the server's one notify lock (taken at commit, held until the commit's WAL flush
ends) and so serialize the commits of every reservation and every other notifying writer; on
SQLite the process's wake is set after ``COMMIT``.

A refusal is not stored. A dropped connection, a deadlock or a busy database is retried with
the same key, so a commit whose answer was lost is answered as a replay.

A few pooled connections stay checked out between reservations
(:class:`engine.storage.raw.ConnectionShelf`); a connection found broken is invalidated and
the attempt retried on a fresh one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from engine.errors import Conflict
from engine.inventory.domain import InsufficientStock, OrderLine, Outcome, available_of
from engine.inventory.push_wake import PUSH_CHANNEL_SQL, PUSH_FLAG
from engine.outbox.wake import is_installed, signal_commit
from engine.storage.db import Database
from engine.storage.raw import ConnectionShelf, autocommit_read, placeholders
from engine.storage.types import JSONType, UTCDateTime

ATTEMPTS = 8
# SQLSTATE raised by the PostgreSQL function when a SKU is short (its detail: the short SKUs).
REFUSED_STATE = "OPSTK"
_RESERVE_FN = "SELECT inventory_reserve(%s, %s, %s::text[], %s::integer[], %s, %s, %s)"
_PUSH_NOTIFY = f"SELECT pg_notify({PUSH_CHANNEL_SQL}, '')"

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
def _multi(head: str, row: str, count: int, tail: str) -> str:
    """A multi-row statement for SQLite (``count`` rows of ``row``)."""
    return head + ", ".join([row] * count) + tail


class _Results:
    """Rows of the statements of one SQLite transaction, by index."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.rows: list[list[Any]] = []

    def run(self, sql: str, params: Sequence[Any]) -> int:
        cur = self.conn.cursor()
        cur.execute(sql, params)
        self.rows.append(cur.fetchall() if cur.description else [])
        cur.close()
        return len(self.rows) - 1

    def first(self, index: int) -> tuple[Any, ...] | None:
        found = self.rows[index]
        return found[0] if found else None


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
        self._database_error = dbapi.DatabaseError
        self.shelf = ConnectionShelf(db, keep=8)

    def close(self) -> None:
        """Return the kept connections to the pool."""
        self.shelf.close()

    # -- public ------------------------------------------------------------------------------
    def stored_answer(self, operation: str, key: str) -> dict[str, Any] | None:
        """The first answer stored under ``(operation, key)``, or None (one indexed read)."""
        rows = self.db.raw_reads.fetch(_STORED, (operation, key))
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
                with self.db.write_turn():
                    outcome = self._attempt(fairy, order_id, merged, key, channel, actor, now)
            except self._retry as exc:  # dropped connection, deadlock, busy: same key again
                last = exc
                self.shelf.discard(fairy)
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
            self.shelf.discard(fairy)

    # -- one attempt -------------------------------------------------------------------------
    def _attempt(self, fairy: Any, order_id: str, merged: list[OrderLine], key: str, channel: str, actor: str,
                 now: datetime) -> Outcome:
        conn = fairy.driver_connection
        at = self._time(now)
        if self.pg:
            return self._attempt_pg(conn, order_id, merged, key, channel, actor, at)
        conn.execute("BEGIN IMMEDIATE")
        try:
            first = _Results(conn)
            claim = first.run(_CLAIM, ("reserve", key, order_id, self._json({}), at))
            takes = []
            if first.first(claim) is not None:
                takes = [first.run(_TAKE, (ln.qty, at, ln.sku_id, ln.qty)) for ln in merged]
            outcome = self._decide(conn, first, claim, takes, order_id, merged, key, channel, actor, at)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if isinstance(outcome, Outcome):
            return outcome
        return self._after_refusal(conn, outcome, key, order_id, merged)

    def _attempt_pg(self, conn: Any, order_id: str, merged: list[OrderLine], key: str, channel: str, actor: str,
                    at: Any) -> Outcome:
        """One call of the server-side function, in autocommit: it commits with the statement."""
        conn.autocommit = True
        params = (key, order_id, [ln.sku_id for ln in merged], [ln.qty for ln in merged], channel, actor, at)
        try:
            result = conn.execute(_RESERVE_FN, params).fetchone()[0]
            if "reserved" in result and is_installed(self.db, PUSH_FLAG):
                conn.execute(_PUSH_NOTIFY)  # the wake, in a transaction of its own (module docstring)
        except self._database_error as exc:
            if getattr(exc, "sqlstate", None) != REFUSED_STATE:
                raise
            return self._after_refusal(conn, list(json.loads(exc.diag.message_detail or "[]")), key, order_id,
                                       merged)
        finally:
            conn.autocommit = False
        if "reserved" in result:
            return Outcome("reserve", key, result["reserved"])
        if result["replayed"] is not None:
            return Outcome("reserve", key, dict(result["replayed"]), replayed=True)
        return self._after_refusal(conn, [], key, order_id, merged)  # raises: reserved under another key

    def _decide(self, conn: Any, first: _Results, claim: int, takes: list[int], order_id: str,
                merged: list[OrderLine], key: str, channel: str, actor: str, at: Any) -> Outcome | list[str]:
        """SQLite: finish (commit) and return the outcome, or roll back and return the refused
        SKUs (none: the key or the order was claimed already)."""
        claim_row = first.first(claim)
        if claim_row is None:
            conn.execute("ROLLBACK")
            return []
        taken = [first.first(i) for i in takes]
        if any(r is None for r in taken):
            conn.execute("ROLLBACK")
            return [ln.sku_id for ln, r in zip(merged, taken) if r is None]
        rows = [r for r in taken if r is not None]
        body = self._write(conn, claim_row[0], order_id, merged, rows, key, channel, actor, at)
        conn.execute("COMMIT")
        signal_commit(self.db, PUSH_FLAG)
        return Outcome("reserve", key, body)

    def _write(self, conn: Any, claim_id: int, order_id: str, merged: list[OrderLine], rows: list[Any], key: str,
               channel: str, actor: str, at: Any) -> dict[str, Any]:
        """SQLite: the lines, ledger rows, push markers and stored answer of an accepted reservation."""
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
        second = _Results(conn)
        second.run(_multi(_LINES, _LINE_ROW, n, ""), line_params)
        second.run(_multi(_LEDGER, _LEDGER_ROW, n, ""), ledger_params)
        second.run(_multi(_PENDING, _PENDING_ROW, n, _PENDING_TAIL), pending_params)
        second.run(_ANSWER, (self._json(body), claim_id))
        return body

    # -- inside a caller's transaction -------------------------------------------------------
    def reserve_in_transaction(self, conn: Any, order_id: str, merged: list[OrderLine], *, key: str, channel: str,
                               actor: str, now: datetime) -> Outcome:
        """The same reservation on ``conn`` (a DB-API connection inside the caller's open
        transaction), under a savepoint: committed with the caller's transaction, or not at
        all. Raises InsufficientStock (nothing changed) or Conflict (the order is reserved under
        another key); the same key again answers the first reservation."""
        at = self._time(now)
        conn.execute("SAVEPOINT inventory_reserve")
        try:
            if self.pg:
                try:
                    result = conn.execute(_RESERVE_FN, (key, order_id, [ln.sku_id for ln in merged],
                                                        [ln.qty for ln in merged], channel, actor, at)).fetchone()[0]
                except self._database_error as exc:
                    if getattr(exc, "sqlstate", None) != REFUSED_STATE:
                        raise
                    conn.execute("ROLLBACK TO SAVEPOINT inventory_reserve")
                    self._refuse(conn, list(json.loads(exc.diag.message_detail or "[]")), merged)
                if "reserved" in result:
                    return Outcome("reserve", key, result["reserved"])
                if result["replayed"] is not None:
                    return Outcome("reserve", key, dict(result["replayed"]), replayed=True)
            else:
                first = _Results(conn)
                claim = first.run(_CLAIM, ("reserve", key, order_id, self._json({}), at))
                claim_row = first.first(claim)
                if claim_row is not None:
                    taken = [first.first(first.run(_TAKE, (ln.qty, at, ln.sku_id, ln.qty))) for ln in merged]
                    short = [ln.sku_id for ln, r in zip(merged, taken) if r is None]
                    if short:
                        conn.execute("ROLLBACK TO SAVEPOINT inventory_reserve")
                        self._refuse(conn, short, merged)
                    body = self._write(conn, claim_row[0], order_id, merged, list(taken), key, channel, actor, at)
                    return Outcome("reserve", key, body)
                found = conn.execute(_STORED, ("reserve", key)).fetchall()
                if found:
                    answer = found[0][0]
                    return Outcome("reserve", key, dict(answer if isinstance(answer, dict) else json.loads(answer)),
                                   replayed=True)
            raise Conflict(f"order {order_id} already has a reservation under another key",
                           code="order_already_reserved", details=[{"path": "/order_id", "order_id": order_id}])
        except BaseException:
            conn.execute("ROLLBACK TO SAVEPOINT inventory_reserve")
            raise
        finally:
            conn.execute("RELEASE SAVEPOINT inventory_reserve")

    def _refuse(self, conn: Any, refused: list[str], merged: list[OrderLine]) -> None:
        """Raise InsufficientStock for ``refused`` with what each SKU has available (read in
        the caller's transaction)."""
        marks = ", ".join(["?"] * len(refused))
        sql = placeholders(f"SELECT sku_id, total_stock, reserved_stock, safety_stock FROM inventory_stock "
                           f"WHERE sku_id IN ({marks})", self.pg)
        found = {r[0]: available_of(r[1], r[2], r[3]) for r in conn.execute(sql, refused).fetchall()}
        raise InsufficientStock([{"sku_id": ln.sku_id, "requested": ln.qty, "available": found.get(ln.sku_id, 0)}
                                 for ln in merged if ln.sku_id in refused])

    def _after_refusal(self, conn: Any, refused: list[str], key: str, order_id: str,
                       merged: list[OrderLine]) -> Outcome:
        """Outside the rolled-back transaction: the stored answer, or the refusal's details."""
        if not refused:
            rows = autocommit_read(conn, placeholders(_STORED, self.pg), ("reserve", key), self.pg)
            if rows:
                answer = rows[0][0] if isinstance(rows[0][0], dict) else json.loads(rows[0][0])
                return Outcome("reserve", key, dict(answer), replayed=True)
            raise Conflict(f"order {order_id} already has a reservation under another key",
                           code="order_already_reserved",
                           details=[{"path": "/order_id", "order_id": order_id}])
        marks = ", ".join(["?"] * len(refused))
        found = {r[0]: available_of(r[1], r[2], r[3]) for r in autocommit_read(conn, placeholders(
            f"SELECT sku_id, total_stock, reserved_stock, safety_stock FROM inventory_stock WHERE sku_id IN ({marks})",
            self.pg), refused, self.pg)}
        raise InsufficientStock([{"sku_id": ln.sku_id, "requested": ln.qty, "available": found.get(ln.sku_id, 0)}
                                 for ln in merged if ln.sku_id in refused])
