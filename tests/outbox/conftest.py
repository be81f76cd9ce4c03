"""Fixtures for the outbox tests: a dispatcher, a helper to enqueue rows, the receipts table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from engine.outbox import enqueue
from engine.outbox.dispatcher import Dispatcher
from engine.services import Services
from engine.storage.models import OutboxMessage
from tests.support.handlers import create_receipts_table, drop_receipts_table


@pytest.fixture
def dispatcher(services: Services) -> Dispatcher:
    return Dispatcher(services, worker_id="test-dispatcher")


@pytest.fixture
def put(services: Services) -> Callable[..., int]:
    """Commit one outbox row now (on the manual clock); returns its id."""

    def _put(topic: str, payload: Any = None, **kwargs: Any) -> int:
        with services.db.transaction() as s:
            row = enqueue(s, topic, payload if payload is not None else {}, now=services.clock.now(), **kwargs)
            s.flush()
            return row.id

    return _put


@pytest.fixture
def row(services: Services) -> Callable[[int], OutboxMessage]:
    def _row(row_id: int) -> OutboxMessage:
        with services.db.session() as s:
            found = s.get(OutboxMessage, row_id)
            assert found is not None
            return found

    return _row


@pytest.fixture
def receipts(services: Services) -> Iterator[None]:
    """The test-only receipts table used by tests.support.handlers."""
    create_receipts_table(services.db)
    yield
    drop_receipts_table(services.db)
