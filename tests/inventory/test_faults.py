"""Faults on the Redis back end (INVENTORY.md F1, F3, F4, F5, F6, F8), each its own test.

Every test that kills, stalls or proxies Redis uses a private redis-server started here.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from engine.inventory.audit import check_invariants
from engine.inventory.domain import InsufficientStock, OrderLine, StaleFence
from engine.inventory.gate import RedisGate
from engine.inventory.reconciler import reconcile_once
from engine.inventory.service import InventoryService, make_gate_client
from engine.inventory.snapshots import pull_snapshot, snapshots_of
from tests.inventory.own_redis import OwnRedis
from tests.inventory.storm import StormConfig, check_storm, run_storm, seed_stock
from tests.support.fault_proxy import FaultProxy

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path).start()
    yield server
    server.stop()


def _inventory(services, url: str, prefix: str = "f:", timeout: float = 0.5) -> InventoryService:
    inv = InventoryService(services.db, services.clock, RedisGate(make_gate_client(url, timeout=timeout), prefix))
    inv.ensure_gate()
    return inv


def _sql_equals_gate(inv: InventoryService, skus) -> None:
    assert inv.gate.counters() == {s: inv.get(s)["available"] for s in skus}


@pytest.mark.slow
def test_f1_redis_killed_and_restarted_during_a_storm(services, own_redis, tmp_path) -> None:
    inv = _inventory(services, own_redis.url)
    cfg = StormConfig(database_url=services.settings.database_url, redis_url=own_redis.url, redis_prefix="f:",
                      out_dir=tmp_path, seconds=12, skus=20)
    initial = seed_stock(inv, cfg)

    def chaos() -> None:
        time.sleep(2)
        own_redis.kill9()
        time.sleep(1.5)
        own_redis.start()

    procs = run_storm(cfg, during=chaos)
    assert all(p.exitcode == 0 for p in procs)
    problems, _ops = check_storm(services.db, cfg, initial)
    assert problems == []  # I7: no oversell, every acknowledged reservation is in SQL
    assert check_invariants(services.db) == []
    inv.gate.client.connection_pool.disconnect()
    report = reconcile_once(inv, grace_seconds=0)  # I8: one reconcile brings Redis back to SQL
    assert report.ran and report.refused == ""
    _sql_equals_gate(inv, initial)


def test_f3_stall_past_the_client_timeout_never_double_reserves(services, own_redis) -> None:
    inv = _inventory(services, own_redis.url, timeout=0.3)
    inv.adjust("A", 2, "inbound")
    staller = redis.Redis.from_url(own_redis.url)
    t = threading.Thread(target=lambda: staller.execute_command("DEBUG", "SLEEP", "1.0"))
    t.start()
    time.sleep(0.1)
    first = inv.reserve("o1", [{"sku_id": "A", "qty": 1}])
    t.join()
    time.sleep(0.2)
    again = inv.reserve("o1", [{"sku_id": "A", "qty": 1}])
    assert again.replayed and again.body == first.body
    assert inv.get("A")["reserved_stock"] == 1
    reconcile_once(inv, grace_seconds=0)
    _sql_equals_gate(inv, ["A"])
    inv.reserve("o2", [{"sku_id": "A", "qty": 1}])
    with pytest.raises(InsufficientStock):
        inv.reserve("o3", [{"sku_id": "A", "qty": 1}])
    assert check_invariants(inv.db) == []


def test_f4_lost_reply_after_the_script_ran_acts_once(services, own_redis) -> None:
    proxy = FaultProxy("127.0.0.1", own_redis.port)
    try:
        inv = _inventory(services, proxy.url)
        inv.adjust("A", 3, "inbound")
        proxy.set_mode("drop_reply", drops=1)
        out = inv.reserve("o1", [{"sku_id": "A", "qty": 2}])
        proxy.set_mode("pass")
        assert not out.replayed
        assert inv.get("A")["reserved_stock"] == 2
        holds = RedisGate(redis.Redis.from_url(own_redis.url, decode_responses=True), "f:").holds()
        assert holds == []  # the retried script answered "replay" and the hold was committed once
        _sql_equals_gate(inv, ["A"])
    finally:
        proxy.stop()


@pytest.mark.parametrize("mode", ["latency", "reset", "blackhole"])
def test_f5_sick_network_bypasses_the_gate_and_sql_decides(services, own_redis, mode) -> None:
    proxy = FaultProxy("127.0.0.1", own_redis.port)
    try:
        inv = _inventory(services, proxy.url, timeout=0.2)
        inv.adjust("A", 2, "inbound")
        proxy.set_mode(mode, latency=0.5)
        assert inv.reserve("o1", [{"sku_id": "A", "qty": 2}]).gate == "bypassed"
        with pytest.raises(InsufficientStock):
            inv.reserve("o2", [{"sku_id": "A", "qty": 1}])
        assert inv.get("A")["reserved_stock"] == 2
        assert check_invariants(inv.db) == []
        proxy.set_mode("pass")
        time.sleep(1.1)  # let the breaker close
        inv.gate.client.connection_pool.disconnect()
        reconcile_once(inv, grace_seconds=0)
        _sql_equals_gate(inv, ["A"])
    finally:
        proxy.stop()


def _hold_then_die(url: str, prefix: str) -> None:
    gate = RedisGate(make_gate_client(url), prefix)
    assert gate.hold("doomed", [OrderLine("A", 2)]).verdict == "ok"
    os.kill(os.getpid(), signal.SIGKILL)  # killed between the gate and the SQL commit


def test_f6_process_killed_between_gate_and_sql_orphan_hold_is_freed(services, own_redis) -> None:
    inv = _inventory(services, own_redis.url)
    inv.adjust("A", 3, "inbound")
    child = mp.get_context("fork").Process(target=_hold_then_die, args=(own_redis.url, "f:"))
    child.start()
    child.join(10)
    assert child.exitcode == -signal.SIGKILL
    assert inv.gate.counters() == {"A": 1} and inv.gate.pending_units() == {"A": 2}  # the orphan hold
    # Short at the gate only because of a pending hold: not "sold out" (I9), SQL decides.
    assert inv.reserve("o1", [{"sku_id": "A", "qty": 2}]).gate == "deferred"
    assert inv.gate.counters() == {"A": -1}  # mirrored after SQL; the orphan still counts
    with pytest.raises(InsufficientStock) as refused:
        inv.reserve("o2", [{"sku_id": "A", "qty": 2}])
    assert refused.value.gate == "refused"  # 1 left even if the orphan came back: a true "sold out"
    assert reconcile_once(inv, grace_seconds=3600).orphans_freed == []  # still young
    assert reconcile_once(inv, grace_seconds=0).orphans_freed == ["doomed"]
    _sql_equals_gate(inv, ["A"])
    assert inv.gate.pending_units() == {}
    assert inv.reserve("o3", [{"sku_id": "A", "qty": 1}]).gate == "passed"
    with pytest.raises(InsufficientStock) as sold_out:
        inv.reserve("o4", [{"sku_id": "A", "qty": 1}])
    assert sold_out.value.gate == "refused"
    assert check_invariants(inv.db) == []


def test_f8_paused_puller_cannot_overwrite_a_newer_snapshot(services, own_redis) -> None:
    inv = _inventory(services, own_redis.url)
    inv.adjust("A", 5, "inbound")
    paused = threading.Event()
    resume = threading.Event()
    result: dict[str, object] = {}

    def slow_fetch() -> dict[str, int]:
        paused.set()
        resume.wait(10)
        return {"A": 99}

    def first_puller() -> None:
        try:
            result["first"] = pull_snapshot(inv, "pdd", slow_fetch, lease_seconds=0.5)
        except StaleFence as exc:
            result["first"] = exc

    t = threading.Thread(target=first_puller)
    t.start()
    assert paused.wait(5)
    time.sleep(0.7)  # the first puller's lease expires while it is paused
    second = pull_snapshot(inv, "pdd", lambda: {"A": 4}, lease_seconds=5)
    assert second.ran and second.drift == []
    resume.set()
    t.join(10)
    assert isinstance(result["first"], StaleFence)  # I11
    assert snapshots_of(inv, "pdd") == {"A": (4, second.token)}


def test_puller_fences_through_sql_while_redis_is_down_and_tokens_stay_monotonic(services, own_redis) -> None:
    inv = _inventory(services, own_redis.url, timeout=0.2)
    inv.adjust("A", 5, "inbound")
    first = pull_snapshot(inv, "pdd", lambda: {"A": 5})
    own_redis.kill9()
    down = pull_snapshot(inv, "pdd", lambda: {"A": 4})
    assert down.ran and down.token > first.token
    own_redis.start()  # empty: its token counter starts again from nothing
    inv.gate.client.connection_pool.disconnect()
    back = pull_snapshot(inv, "pdd", lambda: {"A": 3})
    assert back.ran and back.token > down.token
    assert snapshots_of(inv, "pdd") == {"A": (3, back.token)}
