"""Storage behaves the same on SQLite and PostgreSQL: aware UTC times, JSON, rollbacks,
and SQLite's write lock taken at BEGIN for immediate transactions."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from engine.outbox import enqueue
from engine.storage.models import OutboxMessage, User
from engine.storage.types import UTCDateTime


def test_times_come_back_as_aware_utc(services) -> None:
    shanghai = timezone(timedelta(hours=8))
    created = datetime(2026, 11, 11, 8, 0, tzinfo=shanghai)  # 00:00 UTC
    with services.db.transaction() as s:
        s.add(User(username="u1", display_name="", role="ops", created_at=created, active=True))
    with services.db.session() as s:
        user = s.scalar(select(User).where(User.username == "u1"))
    assert user.created_at == datetime(2026, 11, 11, 0, 0, tzinfo=timezone.utc)
    assert user.created_at.tzinfo is not None


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1), dialect=None)  # type: ignore[arg-type]


def test_outbox_row_rolls_back_with_the_callers_transaction(services, clock) -> None:
    with pytest.raises(RuntimeError):
        with services.db.transaction() as s:
            enqueue(s, "notify", {"text": "售后单 1 质检通过"}, now=clock.now())
            raise RuntimeError("the change failed")
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    with services.db.transaction() as s:
        enqueue(s, "notify", {"text": "售后单 1 质检通过"}, now=clock.now())
    with services.db.session() as s:
        row = s.scalar(select(OutboxMessage))
    assert row.payload == {"text": "售后单 1 质检通过"}
    assert row.max_attempts == 4 and row.retry_schedule == [30, 120, 300]


def test_sqlite_immediate_transaction_serialises_writers(services) -> None:
    if not services.db.is_sqlite:
        pytest.skip("SQLite-specific locking")
    entered = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def first() -> None:
        with services.db.transaction(immediate=True) as s:
            s.execute(text("SELECT 1"))
            entered.set()
            release.wait(5)
            order.append("first-commit")

    def second() -> None:
        entered.wait(5)
        with services.db.transaction(immediate=True) as s:
            s.execute(text("SELECT 1"))  # BEGIN IMMEDIATE runs here and must wait
            order.append("second-begin")

    t1 = threading.Thread(target=first)
    t2 = threading.Thread(target=second)
    t1.start()
    t2.start()
    entered.wait(5)
    t2.join(0.3)
    assert t2.is_alive(), "second writer must wait for the first one's lock"
    release.set()
    t1.join(5)
    t2.join(5)
    assert order == ["first-commit", "second-begin"]
