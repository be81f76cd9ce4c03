"""Waking the outbox dispatcher when outbox rows commit, instead of at its next poll.

Owns the signal, not the delivery. :func:`install` hooks a database's engine: a statement that
inserts into ``outbox`` (an ORM ``enqueue``, the workflow's Core insert, a CTE) marks its
connection, and :func:`mark_written` marks it by hand (a replay updates rows). When a marked
transaction commits:

- on PostgreSQL a ``pg_notify`` runs in that same transaction, just before its ``COMMIT``, so
  the notification is delivered by the server when (and only if) the rows are visible, to every
  process; each dispatcher loop ``LISTEN``s on a dedicated connection (:class:`Listener`) and
  sets the process's :class:`OutboxWake`;
- on the embedded default (SQLite) the process's :class:`OutboxWake` is set directly. The
  hook runs before the commit is visible, so a woken :meth:`OutboxWake.wait` returns only
  after taking and dropping the write lock, which the committing writer holds until its
  commit is done: whatever the woken loop reads next (a locked claim or a plain read such as
  the pipeline's "anything due?") sees the new rows.

A writer that commits on a raw DB-API connection, past the engine's events (the inventory's
reservation hot path), signals by hand: :func:`is_installed` tells it whether a wake is hooked
for its flag, :func:`signal_commit` sets this process's wakes after its SQLite commit, and on
PostgreSQL it runs the flag's ``pg_notify`` inside its own transaction.

A rolled-back transaction signals nothing. The dispatcher's poll stays as the backstop (rows
due later after a failure, another process on a SQLite file, a lost notification). The
channel is per database schema (``orderpulse_outbox_`` + a digest of ``current_schema()``), so
test schemas sharing one server do not wake each other.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, event

from engine.logs import get_logger

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from engine.storage.db import Database

log = get_logger(__name__)

FLAG = "orderpulse_outbox_written"
INSERT_MARK = "INSERT INTO outbox ("
CHANNEL_SQL = "'orderpulse_outbox_' || left(md5(current_schema()), 16)"
NOTIFY_SQL = f"SELECT pg_notify({CHANNEL_SQL}, '')"
LISTEN_POLL_SECONDS = 0.5
RECONNECT_SECONDS = 1.0


class OutboxWake:
    """The wake-up of one process's dispatcher loop for one database (a settable event).

    ``settle`` runs after a wait that was woken, before it returns (SQLite: wait for the
    committing writer, :meth:`engine.storage.db.Database.wait_for_writer`)."""

    def __init__(self, settle: Callable[[], None] | None = None) -> None:
        self._event = threading.Event()
        self._settle = settle
        self.signals = 0  # commits (or notifications) that set it, for the curious

    def set(self) -> None:
        self.signals += 1
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Wait until set or ``timeout`` seconds passed; True when woken."""
        woken = self._event.wait(timeout)
        if woken and self._settle is not None:
            try:
                self._settle()
            except Exception:  # noqa: BLE001 - the woken pass meets the same database and says why
                log.exception("could not wait for the committing writer after a wake-up")
        return woken


# The wakes hooked on each engine, by flag (for writers past the engine's events).
_INSTALLED: weakref.WeakKeyDictionary[Engine, dict[str, list[OutboxWake]]] = weakref.WeakKeyDictionary()
_INSTALLED_LOCK = threading.Lock()


def install(db: Database, *, flag: str = FLAG, marks: tuple[str, ...] = (INSERT_MARK,),
            notify_sql: str = NOTIFY_SQL) -> OutboxWake:
    """Hook ``db``'s engine so that committed outbox writes wake this process (SQLite) or
    notify every listener (PostgreSQL); returns the process's wake for ``db``. Another loop
    woken on commit (the order pipeline, the stock push relay) passes its own ``flag``,
    statement ``marks`` and ``notify_sql``."""
    postgres = db.is_postgres
    wake = OutboxWake(settle=None if postgres else db.wait_for_writer)
    engine = db.engine
    with _INSTALLED_LOCK:
        _INSTALLED.setdefault(engine, {}).setdefault(flag, []).append(wake)

    @event.listens_for(engine, "before_cursor_execute")
    def _mark(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        for mark in marks:
            if mark in statement:
                conn.info[flag] = True
                return

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        if not conn.info.pop(flag, False):
            return
        if postgres:
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(notify_sql)
            finally:
                cursor.close()
        else:
            wake.set()

    @event.listens_for(engine, "rollback")
    def _rollback(conn: Any) -> None:
        conn.info.pop(flag, None)

    return wake


def install_once(db: Database, *, flag: str, marks: tuple[str, ...], notify_sql: str) -> OutboxWake:
    """The wake already hooked on ``db``'s engine for ``flag``, else :func:`install`'s (a job
    woken on commit asks for its wake each time a scheduler registers it)."""
    with _INSTALLED_LOCK:
        found = _INSTALLED.get(db.engine, {}).get(flag)
        if found:
            return found[0]
    return install(db, flag=flag, marks=marks, notify_sql=notify_sql)


def is_installed(db: Database, flag: str) -> bool:
    """Whether a wake is hooked on ``db``'s engine for ``flag``."""
    return bool(_INSTALLED.get(db.engine, {}).get(flag))


def signal_commit(db: Database, flag: str) -> None:
    """After a commit on a raw connection of ``db`` that made ``flag``'s work due: set this
    process's wakes for it (SQLite; on PostgreSQL the writer notifies in its transaction)."""
    for wake in _INSTALLED.get(db.engine, {}).get(flag, ()):
        wake.set()


def mark_written(session: Session, flag: str = FLAG) -> None:
    """Mark ``session``'s transaction as one that made outbox rows due (e.g. a replay)."""
    session.connection().info[flag] = True


class Listener:
    """PostgreSQL: a thread that ``LISTEN``s on the outbox channel on its own connection and
    sets ``wake`` for each notification (and once after every (re)connect, in case one was
    missed while it was away). Stopped with :meth:`stop`."""

    def __init__(self, db: Database, wake: OutboxWake, *, channel_sql: str = CHANNEL_SQL,
                 name: str = "orderpulse-outbox-listen") -> None:
        self.db = db
        self.wake = wake
        self.channel_sql = channel_sql
        self.name = name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    def start(self) -> Listener:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            raw = None
            try:
                raw = self.db.engine.raw_connection()
                raw.detach()  # our own connection: closed by us, never handed back to the pool
                conn: Any = raw.dbapi_connection  # a psycopg connection (LISTEN, notifies())
                conn.autocommit = True
                channel = conn.execute(f"SELECT {self.channel_sql}").fetchone()[0]
                conn.execute(f'LISTEN "{channel}"')
                self.listening.set()
                self.wake.set()
                while not self._stop.is_set():
                    for _ in conn.notifies(timeout=LISTEN_POLL_SECONDS):
                        self.wake.set()
            except Exception:  # noqa: BLE001 - a lost connection: the poll covers until we are back
                self.listening.clear()
                log.exception("outbox listener lost its connection; reconnecting")
                self._stop.wait(RECONNECT_SECONDS)
            finally:
                if raw is not None:
                    try:
                        raw.close()
                    except Exception:  # noqa: BLE001 - already gone
                        pass
