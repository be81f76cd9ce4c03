"""Database faults (INVENTORY.md F7, F10).

F7: the PostgreSQL connection is cut during the commit — before the server sees it, or after
the commit is durable but before the client hears it — and the call is retried with the same
key: it acts once and answers as the first time. A reservation commits with its one statement
(``SELECT inventory_reserve(...)`` in autocommit), so its cut falls on that statement; release
(the ORM path) is cut on its ``COMMIT``. F10: many SQLite writer processes, one
holding the write lock when killed and one killed mid-run: the others never see "database
is locked", and I1–I3 and the storm bounds hold.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from engine.inventory.audit import check_invariants
from engine.inventory.models import LedgerEntry
from engine.inventory.service import InventoryService
from engine.storage.db import Database
from tests.inventory.storm import StormConfig, check_storm, run_storm, seed_stock
from tests.support.fault_proxy import FaultProxy


@pytest.fixture
def pg_proxy(services) -> Iterator[tuple[InventoryService, FaultProxy]]:
    if not services.db.is_postgres:
        pytest.skip("F7 cuts a network connection to PostgreSQL")
    url = services.db.engine.url
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or 5432)
    db = Database(proxy.route(services.settings.database_url))
    inv = InventoryService(db, services.clock)
    yield inv, proxy
    proxy.set_mode("pass")
    inv.close()
    db.dispose()
    proxy.stop()


def _entries(inv: InventoryService, op: str) -> int:
    with inv.db.session() as s:
        return s.execute(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.operation == op)).scalar_one()


@pytest.mark.postgres
@pytest.mark.parametrize("after_reply", [False, True], ids=["cut-before-commit", "cut-after-commit"])
def test_f7_connection_reset_during_commit_is_retried_with_the_same_key(pg_proxy, after_reply) -> None:
    inv, proxy = pg_proxy
    inv.adjust("A", 5, "inbound")
    proxy.set_mode("cut_on", pattern=b"inventory_reserve", after_reply=after_reply)
    out = inv.reserve("o1", [{"sku_id": "A", "qty": 2}])
    assert proxy.cuts == 1
    assert out.replayed is after_reply  # committed before the cut: the retry finds the first answer
    assert out.body["lines"] == [{"sku_id": "A", "qty": 2}]
    assert inv.get("A")["reserved_stock"] == 2 and _entries(inv, "reserve") == 1
    again = inv.reserve("o1", [{"sku_id": "A", "qty": 2}])
    assert again.replayed and again.body == out.body

    proxy.set_mode("cut_on", pattern=b"COMMIT", after_reply=after_reply)  # the ORM path (release) too
    released = inv.release("o1")
    assert proxy.cuts == 2
    assert released.body["released"] == [{"sku_id": "A", "qty": 2}]
    assert inv.get("A")["reserved_stock"] == 0 and _entries(inv, "release") == 1
    assert check_invariants(inv.db) == []


def _hold_write_lock_then_wait(url: str, ready: mp.synchronize.Event) -> None:
    import sqlite3

    path = url.split("///", 1)[1]
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE inventory_stock SET total_stock = total_stock + 1000")
    ready.set()
    time.sleep(60)  # killed long before


@pytest.mark.slow
def test_f10_sqlite_writers_survive_a_writer_killed_mid_transaction(services, tmp_path) -> None:
    if not services.db.is_sqlite:
        pytest.skip("F10 is about SQLite's single writer")
    inv = InventoryService(services.db, services.clock)
    cfg = StormConfig(database_url=services.settings.database_url, redis_url=None, redis_prefix="",
                      out_dir=tmp_path, processes=6, skus=8, seconds=4, seed=23, most=400)
    initial = seed_stock(inv, cfg)
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_write_lock_then_wait, args=(cfg.database_url, ready), daemon=True)

    def chaos() -> None:
        time.sleep(0.5)
        holder.start()
        assert ready.wait(10)
        time.sleep(0.5)  # every writer now waits on the lock this process holds
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(5)
        time.sleep(0.5)
        victim = procs_box[0][0]
        os.kill(victim.pid, signal.SIGKILL)  # a writer, wherever it is in its transaction

    procs_box: list[list[mp.Process]] = []
    procs = run_storm(cfg, during=chaos, started=procs_box.append)
    assert holder.exitcode == -signal.SIGKILL
    assert procs[0].exitcode == -signal.SIGKILL
    assert all(p.exitcode == 0 for p in procs[1:]), [p.exitcode for p in procs]
    events_text = "".join(p.read_text() for p in tmp_path.glob("history-*.jsonl"))
    assert "database is locked" not in events_text
    assert '"type": "info"' not in events_text  # no call of a surviving writer ended in doubt
    problems, ops = check_storm(services.db, cfg, initial)
    assert problems == []
    assert ops > 50
    assert check_invariants(services.db) == []
    totals = {sku: inv.get(sku)["total_stock"] for sku in initial}
    assert all(total <= initial[sku] for sku, total in totals.items())  # the killed +1000 rolled back
    inv.close()
