"""Batches reserving orders whose SKUs overlap in opposite orders never deadlock on PostgreSQL
and never oversell: each batch locks every stock row it may touch up front, in sorted SKU order."""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.inventory.models import ReservationLine, StockItem
from engine.orders.order_reservation import batch_skus, lock_batch_stock
from engine.orders.pipeline import Pipeline
from engine.orders.pipeline_model import OrderPipeline
from engine.services import Services
from tests.pipeline.helpers import order, put, stock

SKUS = [f"SKU-{c}" for c in "ABCDEF"]
ORDERS = 240
THREADS = 4


def _deadlocks(log_stream: Any) -> list[dict[str, Any]]:
    found = []
    for line in log_stream.getvalue().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "deadlock" in json.dumps(entry, ensure_ascii=False).lower():
            found.append(entry)
    return found


@pytest.mark.postgres
def test_four_pipelines_reserving_overlapping_skus_in_opposite_orders_never_deadlock_nor_oversell(
        services: Services, log_stream: Any) -> None:
    stock(services, **{s.replace("-", "_"): 70 for s in SKUS})
    shuffle = random.Random(11)
    orders = []
    for i in range(ORDERS):
        picked = shuffle.sample(SKUS, 3)
        # half the orders name their SKUs high to low, half low to high: opposite lock orders
        picked.sort(reverse=i % 2 == 0)
        orders.append(order(f"D{i:04d}", lines=[(sku, 1) for sku in picked]))
    put(services, *orders)

    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work() -> None:
        try:
            start.wait()
            pipeline = Pipeline(services, batch=8)
            while pipeline.run_batch(size=8).claimed:
                pass
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)

    assert not errors, errors
    assert _deadlocks(log_stream) == []
    with services.db.session() as s:
        failed = s.scalars(select(OrderPipeline.last_error).where(OrderPipeline.last_error.is_not(None))).all()
        assert failed == []
        waiting = s.scalar(select(func.count()).select_from(OrderPipeline).where(OrderPipeline.status == "ready",
                                                                                 OrderPipeline.short_skus.is_(None)))
        assert waiting == 0  # every order moved: reserved, or held as 缺货
        for sku in SKUS:
            item = s.get(StockItem, sku)
            assert item is not None
            open_units = s.scalar(select(func.coalesce(func.sum(
                ReservationLine.qty - ReservationLine.qty_shipped - ReservationLine.qty_released), 0))
                .where(ReservationLine.sku_id == sku))
            assert item.reserved_stock == open_units, sku
            assert 0 <= item.reserved_stock <= item.total_stock == 70, sku
        # 240 orders × 3 units over 6 SKUs of 70 units: stock runs out, later orders wait as 缺货
        assert s.scalar(select(func.count()).select_from(OrderPipeline).where(OrderPipeline.short_skus.is_not(None)))


def test_a_batch_locks_its_orders_skus_sorted_and_sqlite_needs_no_lock(services: Services) -> None:
    stock(services, SKU_C=5, SKU_A=5, SKU_B=5)
    stored = put(services, order("S1", lines=[("SKU-C", 1), ("SKU-A", 1)]), order("S2", lines=[("SKU-B", 1)]))
    pks = [s.order_pk for s in stored]
    with services.db.transaction() as session:
        assert batch_skus(session, pks, ["douyin/S1", "douyin/S2"]) == ["SKU-A", "SKU-B", "SKU-C"]
        locked = lock_batch_stock(session, pks, ["douyin/S1", "douyin/S2"])
    assert locked == ([] if services.db.is_sqlite else ["SKU-A", "SKU-B", "SKU-C"])
