"""Leases that make a background job single-instance across processes, with fencing tokens.

Owns the SQL leases on the ``job_leases`` table (SQLite and PostgreSQL alike) and nothing
else: :func:`acquire` returns a fencing token that grows by one on every new acquisition,
:func:`renew` and :func:`release` keep or give it up, and :func:`check_fence` lets a job's
write transaction refuse to commit when a newer holder has taken the lease meanwhile (a
paused holder whose lease ran out can therefore never write stale data). The scheduler uses
them for its singletons. Redis locks with ``INCR`` fencing tokens, for the inventory's
snapshot pullers, reconciler and rebuild, live with those jobs (``engine.inventory.fencing``).

Holders are free-form strings naming a process (``host:pid``) or a job run. Time is passed in
(``now``) so tests drive expiry with a manual clock. This module never decides *what* a job
does; it only answers "may I run, and with which token".
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.storage.db import Database
from engine.storage.models import JobLease

_NEVER = datetime(1970, 1, 1, tzinfo=timezone.utc)


class StaleFence(RuntimeError):
    """A write was attempted with a fencing token older than the lease's current one."""

    def __init__(self, name: str, token: int, current: int | None) -> None:
        super().__init__(
            f"lease {name!r}: fencing token {token} is stale (current token: {current}); "
            "another holder took the lease, this write is refused"
        )
        self.name = name
        self.token = token
        self.current = current


def _rowcount(result: Any) -> int:
    """Rows matched by an UPDATE run through ``Session.execute``."""
    return int(getattr(result, "rowcount", 0))


def _seconds(ttl: float | timedelta) -> timedelta:
    delta = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
    if delta.total_seconds() <= 0:
        raise ValueError("a lease needs a positive time to live")
    return delta


def _ensure_row(session: Session, name: str) -> None:
    """Create the lease row if missing, without failing when another process races us."""
    values = {"name": name, "holder": "", "fencing_token": 0, "expires_at": _NEVER}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(JobLease).values(**values).on_conflict_do_nothing(index_elements=["name"]))
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(JobLease).values(**values).on_conflict_do_nothing(index_elements=["name"]))
    elif session.get(JobLease, name) is None:  # pragma: no cover - other back ends are not supported
        session.add(JobLease(**values))
        session.flush()


def acquire(db: Database, name: str, holder: str, ttl: float | timedelta, now: datetime) -> int | None:
    """Take lease ``name`` for ``holder`` until ``now + ttl``; return its fencing token.

    Returns None when another holder has an unexpired lease. A holder that already holds the
    lease gets it extended and keeps its token; any other successful acquisition (first
    time, after expiry, after release) increments the token.
    """
    delta = _seconds(ttl)
    with db.transaction(immediate=True) as session:
        _ensure_row(session, name)
        lease = session.execute(
            select(JobLease).where(JobLease.name == name).with_for_update()
        ).scalar_one()
        held = bool(lease.holder) and lease.expires_at > now
        if held and lease.holder != holder:
            return None
        if not held:
            lease.fencing_token += 1
            lease.holder = holder
        lease.expires_at = now + delta
        return lease.fencing_token


def renew(db: Database, name: str, holder: str, token: int, ttl: float | timedelta, now: datetime) -> bool:
    """Extend a lease still held with ``token``; False when someone acquired it since."""
    delta = _seconds(ttl)
    with db.transaction(immediate=True) as session:
        result = session.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder, JobLease.fencing_token == token)
            .values(expires_at=now + delta)
        )
        return _rowcount(result) == 1


def release(db: Database, name: str, holder: str, token: int | None = None) -> bool:
    """Give a lease up so the next acquirer need not wait for expiry. The token stays."""
    with db.transaction(immediate=True) as session:
        stmt = update(JobLease).where(JobLease.name == name, JobLease.holder == holder)
        if token is not None:
            stmt = stmt.where(JobLease.fencing_token == token)
        result = session.execute(stmt.values(holder="", expires_at=_NEVER))
        return _rowcount(result) == 1


def check_fence(session: Session, name: str, token: int) -> None:
    """Refuse (raise :class:`StaleFence`) when ``token`` is no longer the lease's newest.

    Call it inside the job's write transaction, before committing. On PostgreSQL the lease
    row is share-locked until that transaction ends, so a new acquisition waits for it and the
    check stays true through the commit; on SQLite use ``db.transaction(immediate=True)``,
    which serialises writers the same way.
    """
    current = session.execute(
        select(JobLease.fencing_token).where(JobLease.name == name).with_for_update(read=True)
    ).scalar_one_or_none()
    if current != token:
        raise StaleFence(name, token, current)

