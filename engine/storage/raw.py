"""Raw DB-API connections kept between calls, for the few paths where SQLAlchemy's per-call
cost dominates (the reservation, the bearer-token lookup of every API request).

:class:`ConnectionShelf` keeps up to ``keep`` pooled connections checked out between calls
(LIFO; list operations are atomic, so threads may share it), so a busy loop does not pay the
pool's pre-ping round trip per call. A connection found broken is invalidated (with every
kept one, when it had lost its server) and the call retried on a fresh one from the pool, which
is what the pre-ping would have done. :class:`RawReads` runs
one indexed read outside any transaction: on PostgreSQL in autocommit (one round trip, no
BEGIN/ROLLBACK; the server prepares repeated statements), on SQLite directly.

Owns no SQL of its own: callers pass statements written with ``?`` placeholders.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

if TYPE_CHECKING:
    from engine.storage.db import Database


@lru_cache(maxsize=128)
def placeholders(sql: str, pg: bool) -> str:
    """``?`` placeholders for SQLite, ``%s`` for psycopg."""
    return sql.replace("?", "%s") if pg else sql


class ConnectionShelf:
    """Up to ``keep`` pooled connections of ``db`` kept between calls."""

    def __init__(self, db: Database, keep: int) -> None:
        self.db = db
        self.keep = keep
        self._idle: list[Any] = []
        shelf = weakref.ref(self)

        def on_dispose(_engine: Any) -> None:
            found = shelf()
            if found is not None:
                found.drop()

        event.listen(db.engine, "engine_disposed", on_dispose)

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

    def discard(self, fairy: Any) -> None:
        """Drop a connection that failed: invalidated, never reused. When it had lost its
        server (a restart or failover), the kept ones have too: they go as well, and the next
        calls take fresh connections from the pool, which pre-pings them."""
        conn = fairy.driver_connection
        lost = bool(getattr(conn, "broken", False) or getattr(conn, "closed", False))
        fairy.invalidate()
        fairy.close()
        if lost:
            self.drop()

    def close(self) -> None:
        """Return the kept connections to the pool."""
        while self._idle:
            self._idle.pop().close()

    def drop(self) -> None:
        """Close the kept connections outright (the engine was disposed: no pool to return to)."""
        while self._idle:
            self._idle.pop().invalidate()


def autocommit_read(conn: Any, sql: str, params: Sequence[Any], pg: bool) -> list[Any]:
    """A read outside any transaction on a DB-API connection: on PostgreSQL in autocommit,
    one round trip; SQLite's connections are in autocommit mode already."""
    if not pg:
        return list(conn.execute(sql, params).fetchall())
    conn.autocommit = True
    try:
        return list(conn.execute(sql, params).fetchall())
    finally:
        conn.autocommit = False


class RawReads:
    """Indexed reads on kept raw connections; safe to share between threads."""

    def __init__(self, db: Database, keep: int = 4) -> None:
        self.pg = db.is_postgres
        self.shelf = ConnectionShelf(db, keep)
        dbapi = db.engine.dialect.loaded_dbapi
        self._retry = (dbapi.OperationalError, dbapi.InterfaceError)

    def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Rows of ``sql`` (``?`` placeholders); a dropped connection is retried once on a fresh one."""
        statement = placeholders(sql, self.pg)
        for attempt in (1, 2):
            fairy = self.shelf.take()
            try:
                rows = autocommit_read(fairy.driver_connection, statement, params, self.pg)
            except self._retry:
                self.shelf.discard(fairy)
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self.shelf.discard(fairy)
                raise
            self.shelf.give(fairy)
            return rows
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.shelf.close()
