"""Inventory fixtures: the same suite on SQL alone and on SQL behind the Redis gate.

``inventory`` is parametrised: ``sql`` runs on whichever database the run is configured for
(SQLite or PostgreSQL); ``gate`` adds the Redis gate and runs only on PostgreSQL + Redis.
Each gate test gets its own key prefix, wiped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from engine.inventory.gate import RedisGate
from engine.inventory.service import InventoryService, make_gate_client
from engine.services import Services

BACKENDS = ["sql", pytest.param("gate", marks=[pytest.mark.redis, pytest.mark.postgres])]


@pytest.fixture(params=BACKENDS)
def inventory(request: pytest.FixtureRequest, services: Services, redis_prefix: str) -> Iterator[InventoryService]:
    if request.param == "gate":
        yield from gated_inventory(services, redis_prefix)
    else:
        yield InventoryService(services.db, services.clock)


def gated_inventory(services: Services, redis_prefix: str) -> Iterator[InventoryService]:
    """An inventory service behind its own gate keys (fresh prefix, wiped afterwards)."""
    assert services.settings.redis_url
    gate = RedisGate(make_gate_client(services.settings.redis_url), f"{redis_prefix}{uuid.uuid4().hex[:8]}:")
    inv = InventoryService(services.db, services.clock, gate)
    assert inv.ensure_gate() is not None
    yield inv
    gate.wipe()
    gate.client.close()


@pytest.fixture
def gated(services: Services, redis_prefix: str) -> Iterator[InventoryService]:
    yield from gated_inventory(services, redis_prefix)


def stock_of(inv: InventoryService, sku: str) -> tuple[int, int]:
    row = inv.get(sku)
    assert row is not None
    return row["total_stock"], row["reserved_stock"]


def reset_inventory(inv: InventoryService) -> None:
    """Empty the inventory tables (and the gate) between hypothesis examples."""
    from sqlalchemy import delete

    from engine.inventory import models
    from engine.storage.models import OutboxMessage

    with inv.db.transaction() as s:
        for table in (models.ReservationLine, models.InventoryRequest, models.LedgerEntry, models.StockItem,
                      models.JobFence, OutboxMessage):
            s.execute(delete(table))
    if inv.gate is not None:
        inv.gate.wipe()
        inv.ensure_gate()
