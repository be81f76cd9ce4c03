"""The database handle: engine, sessions and the SQLite settings the engine relies on.

Owns connection set-up only. SQLite runs in WAL mode with a busy timeout, and
``transaction(immediate=True)`` takes the write lock up front (``BEGIN IMMEDIATE``) so a
read-then-write never fails half-way, after queueing behind this process's other writers in
arrival order (:meth:`Database.write_turn`, ``engine.storage.write_queue``); PostgreSQL uses its
defaults.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from engine.storage.raw import RawReads
from engine.storage.write_queue import FifoLock

BUSY_TIMEOUT_S = 30  # SQLite's busy timeout; also how long a writer queues in its process
T = TypeVar("T")


class Phases:
    """A transaction in two phases (:meth:`Database.read_then_write`): reads first, then
    :meth:`outside` runs a call to a counterpart with no transaction open on SQLite (so the
    write lock is not held while a platform answers), and the writes come after it.
    On PostgreSQL it is one transaction and :meth:`outside` simply calls."""

    def __init__(self, session: Session, end_reads: Callable[[], None] | None = None) -> None:
        self.session = session
        self._end_reads = end_reads

    def outside(self, call: Callable[[], T]) -> T:
        """End the read phase, run ``call``, and begin the write phase (SQLite's write lock, in
        this process's queue). Nothing may be written before it: a write made in the read phase
        is refused with RuntimeError (it would take the lock there, or fail to)."""
        if self._end_reads is None:
            return call()
        answers: list[T] = []
        self.start_writing(before=lambda: answers.append(call()))
        return answers[0]

    def start_writing(self, before: Callable[[], Any] | None = None) -> None:
        """Begin the write phase (no-op once begun): what is read from here on is current."""
        end, self._end_reads = self._end_reads, None
        if end is None:
            return
        session = self.session
        if session.new or session.dirty or session.deleted:
            raise RuntimeError("a write in the read phase of a two-phase transaction: write after outside()")
        session.commit()  # a read-only transaction: nothing to write, only the snapshot let go
        if before is not None:
            before()
        end()


@contextmanager
def _unit_of_work(session: Session, conn: Any = None) -> Iterator[Session]:
    """Commit ``session`` on success, roll it back on any exception, close it (and ``conn``, the
    connection it was bound to, with its BEGIN mode dropped) either way."""
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        if conn is not None:
            conn.info.pop("begin_mode", None)
            conn.close()


class Database:
    def __init__(self, url: str, *, pool_size: int = 5) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.is_postgres = url.startswith("postgresql")
        if self.is_postgres and url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        kwargs: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            # Pooled connections: closing the last connection to a WAL database checkpoints
            # it, which made every short transaction pay for a checkpoint.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_S}
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = 20
        else:
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = 10
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            self._configure_sqlite(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._raw_reads: RawReads | None = None
        self._writers: tuple[int, FifoLock] | None = None
        self._first_in_line = threading.local()

    @property
    def raw_reads(self) -> RawReads:
        """Indexed reads on kept raw connections (engine/storage/raw.py), made on first use."""
        if self._raw_reads is None:
            self._raw_reads = RawReads(self)
        return self._raw_reads

    @staticmethod
    def _configure_sqlite(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself so that BEGIN IMMEDIATE is possible.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.info.pop("begin_mode", "BEGIN")
            conn.exec_driver_sql(mode)

    def session(self) -> Session:
        return self._sessions()

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A session for reads that must agree with each other while writers go on (an audit):
        every statement sees the same moment. PostgreSQL: ``REPEATABLE READ`` (its default gives
        each statement a moment of its own); SQLite: its read transaction already is one."""
        with self._sessions() as session:
            if self.is_postgres:
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception.

        ``immediate=True`` takes SQLite's write lock at BEGIN (no effect on PostgreSQL,
        where row locks and conditional updates do the same job).
        """
        if not (immediate and self.is_sqlite):
            with _unit_of_work(self._sessions()) as session:
                yield session
            return
        with self.write_turn():
            conn = self.engine.connect()
            conn.info["begin_mode"] = "BEGIN IMMEDIATE"
            with _unit_of_work(Session(bind=conn, expire_on_commit=False), conn) as session:
                yield session

    @contextmanager
    def read_then_write(self) -> Iterator[Phases]:
        """A transaction in two phases (:class:`Phases`), committed on success, rolled back on
        any exception. On SQLite the read phase holds no lock (WAL: readers never block
        writers); :meth:`Phases.outside` commits it, makes its call, and takes the write lock
        as :meth:`transaction` with ``immediate`` does; the caller re-reads after the call what
        another writer may have changed. On PostgreSQL: one transaction, as :meth:`transaction`."""
        if not self.is_sqlite:
            with self.transaction() as session:
                yield Phases(session)
            return
        conn = self.engine.connect()

        def end_reads() -> None:
            turn.enter_context(self.write_turn())
            conn.info["begin_mode"] = "BEGIN IMMEDIATE"  # the session's next transaction

        # the turn, once taken, is let go after the commit and the connection's return
        with ExitStack() as turn, _unit_of_work(Session(bind=conn, expire_on_commit=False), conn) as session:
            yield Phases(session, end_reads)

    @contextmanager
    def first_in_line(self) -> Iterator[None]:
        """The calling thread's writes go to the head of this process's queue while inside
        (the outbox dispatcher's: see ``engine.storage.write_queue``)."""
        before = getattr(self._first_in_line, "on", False)
        self._first_in_line.on = True
        try:
            yield
        finally:
            self._first_in_line.on = before

    @contextmanager
    def write_turn(self) -> Iterator[None]:
        """SQLite: wait for this process's turn to write (arrival order), for as long as SQLite's
        busy timeout; past it the writer goes on to SQLite's own busy handler rather than hang
        (a writer nested in another's transaction fails there as it always did). Taken around
        every ``BEGIN IMMEDIATE`` of the process (:meth:`transaction`, the reservation hot path,
        :meth:`wait_for_writer`). No-op on PostgreSQL."""
        if not self.is_sqlite:
            yield
            return
        pid = os.getpid()
        if self._writers is None or self._writers[0] != pid:  # a forked child starts its own queue
            self._writers = (pid, FifoLock())
        queue = self._writers[1]
        mine = queue.acquire(timeout=BUSY_TIMEOUT_S, first=getattr(self._first_in_line, "on", False))
        try:
            yield
        finally:
            if mine:
                queue.release()

    def wait_for_writer(self) -> None:
        """SQLite: return once no transaction holds the write lock (takes and drops it).

        A commit hook fires before the commit is visible; a reader woken by it that waits
        here first sees the committed rows. No-op on PostgreSQL (it notifies after commit).
        """
        if not self.is_sqlite:
            return
        with self.write_turn(), self.engine.connect() as conn:
            conn.info["begin_mode"] = "BEGIN IMMEDIATE"
            conn.begin().rollback()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        if self._raw_reads is not None:
            self._raw_reads.close()
        self.engine.dispose()
