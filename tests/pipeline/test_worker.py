"""The pipeline in the background runner (``serve``, ``demo``) and in ``orderpulse worker``
processes: woken when orders or stock commit, claims safe across processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from engine.clock import SystemClock
from engine.inventory.models import InventoryRequest
from engine.orders.pipeline_model import OrderPipeline
from engine.runner import start_background
from engine.services import Services
from tests.outbox.workers import start_workers, terminate, wait_for, wait_started
from tests.pipeline.helpers import figures, order, put, row, stock


def _done(services: Services) -> int:
    with services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(OrderPipeline).where(OrderPipeline.status == "done"))
                   or 0)


def test_the_background_runner_moves_an_order_when_it_commits_and_frees_a_short_one_when_stock_commits(
        services: Services) -> None:
    services.clock = SystemClock()
    stock(services, SKU_A=1)
    runner = start_background(services, interval=30.0, job_modules=[])  # the poll alone would take 30 s
    try:
        wait_for(lambda: runner.pipeline_passes >= 1, 20, "the pipeline loop's first pass")
        first, second = put(services, order("W1", lines=[("SKU-A", 1)]), order("W2", lines=[("SKU-A", 1)]))
        wait_for(lambda: row(services, first.order_pk).status == "done"
                 and row(services, second.order_pk).status == "held", 20, "the woken pipeline")
        stock(services, SKU_A=1)
        wait_for(lambda: row(services, second.order_pk).status == "done", 20, "the order freed by the stock")
    finally:
        runner.stop(timeout=10)
    assert not runner.alive
    assert figures(services, "SKU-A") == (2, 2)


def test_two_worker_processes_share_the_orders_and_reserve_each_exactly_once(
        services: Services, database_url: str, tmp_path: Path, redis_url: Any) -> None:
    services.clock = SystemClock()
    stock(services, SKU_A=1000, SKU_B=1000)
    workers = start_workers(2, database_url, tmp_path, **({"ORDERPULSE_REDIS_URL": redis_url} if redis_url else {}))
    try:
        wait_started(workers)
        for page in range(6):
            put(services, *[order(f"M{page}-{i}", lines=[("SKU-A", 1 + i % 3), ("SKU-B", 1)]) for i in range(20)])
        wait_for(lambda: _done(services) == 120, 120, "120 orders through two workers")
    finally:
        codes = terminate(workers)
        for w in workers:
            w.close()
    assert codes == [0, 0]
    wanted = sum(1 + i % 3 for i in range(20)) * 6
    assert figures(services, "SKU-A") == (1000, wanted) and figures(services, "SKU-B") == (1000, 120)
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(InventoryRequest)
                        .where(InventoryRequest.operation == "reserve")) == 120
