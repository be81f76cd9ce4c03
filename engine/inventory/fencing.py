"""Fenced single-instance background jobs: a Redis lock (redis-py ``Lock``, always with a
timeout) plus a fencing token from ``INCR``; the job's SQL writes pass :func:`check_fence`,
which refuses a token older than one that has already written (I11).

Without Redis (or while it is unreachable) the token comes from an SQL counter row kept above
every token that has written, so the same checks apply.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.inventory.domain import StaleFence
from engine.inventory.models import JobFence
from engine.logs import get_logger
from engine.storage.db import Database

log = get_logger(__name__)


@dataclass
class JobRun:
    name: str
    token: int
    lock: Any = None  # redis-py Lock, or None on the SQL-only path


def check_fence(session: Session, name: str, token: int, now: datetime) -> None:
    """Record that ``token`` writes for job ``name``; raise :class:`StaleFence` if a newer one wrote.

    Call inside the transaction that holds the job's writes: the row lock taken here orders
    concurrent writers, and a refused token rolls the whole write back.
    """
    res = session.execute(
        update(JobFence).where(JobFence.name == name, JobFence.token <= token)
        .values(token=token, written_at=now).execution_options(synchronize_session=False)
    )
    if getattr(res, "rowcount", 0) == 1:
        return
    exists = session.execute(select(JobFence.token).where(JobFence.name == name)).first()
    if exists is not None:
        raise StaleFence(f"job {name}: token {token} is older than token {exists[0]} that already wrote",
                         details=[{"path": "/fence_token", "token": token, "newest": exists[0]}])
    session.add(JobFence(name=name, token=token, written_at=now))
    session.flush()


def sql_token(db: Database, name: str, now: datetime) -> int:
    """Issue the next token for ``name`` from an SQL counter (no Redis, or Redis unreachable).

    Always above the newest token that has written for the job, so tokens stay monotonic when
    a job alternates between Redis tokens and SQL ones.
    """
    counter = f"seq:{name}"
    for _ in range(5):
        try:
            with db.transaction(immediate=True) as s:
                newest = s.execute(select(JobFence.token).where(JobFence.name == name)).scalar() or 0
                res = s.execute(update(JobFence).where(JobFence.name == counter)
                                .values(token=case((JobFence.token >= newest, JobFence.token + 1), else_=newest + 1),
                                        written_at=now)
                                .returning(JobFence.token).execution_options(synchronize_session=False)).first()
                if res is not None:
                    return int(res[0])
                s.add(JobFence(name=counter, token=newest + 1, written_at=now))
            return newest + 1
        except IntegrityError:
            continue
    raise RuntimeError(f"could not issue a token for {name}")


def newest_token(db: Database, name: str) -> int:
    """The newest token that has written for job ``name`` (0 when none)."""
    with db.session() as s:
        row = s.execute(select(JobFence.token).where(JobFence.name == name)).first()
    return 0 if row is None else int(row[0])


@contextmanager
def single_instance(client: Any, lock_key: str, fence_key: str, name: str, *, lease_seconds: float,
                    floor: int = 0) -> Iterator[JobRun | None]:
    """Hold the job's Redis lock (non-blocking, expiring after ``lease_seconds``) and a fresh token.

    Yields None when another instance holds the lock. A holder that pauses past its lease
    loses the lock; its later SQL writes are then refused by :func:`check_fence`. ``floor`` is
    the newest token SQL has seen: a Redis that lost its counter is moved past it, so tokens
    stay monotonic across Redis data loss.
    """
    lock = client.lock(lock_key, timeout=lease_seconds, blocking_timeout=0, thread_local=False)
    if not lock.acquire(blocking=False):
        yield None
        return
    try:
        token = int(client.incr(fence_key))
        if token <= floor:
            token = int(client.incrby(fence_key, floor - token + 1))
        yield JobRun(name, token, lock)
    finally:
        try:
            lock.release()
        except Exception as exc:  # noqa: BLE001 - expired or taken over: nothing of ours to release
            log.info("job lock already gone at release", job=name, error=exc.__class__.__name__)
