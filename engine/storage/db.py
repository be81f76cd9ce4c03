"""The database handle: engine, sessions and the SQLite settings the engine relies on.

Owns connection set-up only. SQLite runs in WAL mode with a busy timeout, and
``transaction(immediate=True)`` takes the write lock up front (``BEGIN IMMEDIATE``) so a
read-then-write never fails half-way; PostgreSQL uses its defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from engine.storage.raw import RawReads


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
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
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
            cur.execute("PRAGMA busy_timeout=30000")
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
    def transaction(self, *, immediate: bool = False) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception.

        ``immediate=True`` takes SQLite's write lock at BEGIN (no effect on PostgreSQL,
        where row locks and conditional updates do the same job).
        """
        conn = None
        if immediate and self.is_sqlite:
            conn = self.engine.connect()
            conn.info["begin_mode"] = "BEGIN IMMEDIATE"
            session = Session(bind=conn, expire_on_commit=False)
        else:
            session = self._sessions()
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

    def wait_for_writer(self) -> None:
        """SQLite: return once no transaction holds the write lock (takes and drops it).

        A commit hook fires before the commit is visible; a reader woken by it that waits
        here first sees the committed rows. No-op on PostgreSQL (it notifies after commit).
        """
        if not self.is_sqlite:
            return
        with self.engine.connect() as conn:
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
