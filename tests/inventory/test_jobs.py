"""The inventory's periodic jobs under the scheduler: push relay, snapshot pullers at their
declared interval (90 s by default), reconciler; one process per tick across workers."""

from __future__ import annotations

import hashlib

from engine.inventory.channels import register_stock_connector
from engine.inventory.jobs import due_channels
from engine.inventory.service import inventory_for
from engine.inventory.snapshots import snapshots_of
from engine.inventory.sources import declared_pull_intervals
from engine.outbox.dispatcher import Dispatcher
from engine.scheduler import Scheduler, load_periodic_jobs
from engine.services import Services
from engine.storage.models import Ruleset, RulesetVersion
from tests.inventory.fake_channel import FakeChannel

SOURCE = 'source pdd "拼多多" {\n    platform pdd\n    pull stock every 30s\n}\n'


def _scheduler(services: Services, holder: str) -> Scheduler:
    scheduler = Scheduler(services, holder=holder)
    load_periodic_jobs(scheduler, ["engine.inventory.jobs"])
    return scheduler


def _publish_source(services: Services) -> None:
    now = services.clock.now()
    with services.db.transaction() as s:
        rs = Ruleset(name="shop", title="", draft_content=SOURCE, draft_updated_at=now, created_at=now,
                     latest_version=1)
        s.add(rs)
        s.flush()
        s.add(RulesetVersion(ruleset_id=rs.id, version=1, content=SOURCE, format="dsl",
                             checksum=hashlib.sha256(SOURCE.encode()).hexdigest(), published_by="ops",
                             published_at=now))


def test_jobs_push_pull_and_run_once_per_tick_across_workers(services, clock) -> None:
    pdd, douyin = FakeChannel("pdd"), FakeChannel("douyin")
    for channel in (pdd, douyin):
        register_stock_connector(services, channel)
    first, second = _scheduler(services, "worker-1"), _scheduler(services, "worker-2")
    names = {j.name for j in first.jobs}
    assert {"inventory.push_relay", "inventory.snapshots"} <= names
    assert ("inventory.reconcile" in names) == bool(services.settings.redis_url)
    inv = inventory_for(services)
    if inv.gate is not None:
        inv.gate.wipe()
        inv.ensure_gate()
    inv.adjust("A", 5, "inbound")
    inv.reserve("o1", [{"sku_id": "A", "qty": 2}])

    ran = first.run_pending(clock.now())
    assert {"inventory.push_relay", "inventory.snapshots"} <= set(ran)
    assert second.run_pending(clock.now()) == []  # the other worker's leases hold this tick
    assert Dispatcher(services, worker_id="w").dispatch_due(now=clock.now()) == 2
    assert pdd.shown == douyin.shown == {"A": 3}
    assert snapshots_of(inv, "pdd") == {}  # pulled before anything was shown

    clock.advance(10)
    assert "inventory.snapshots" in (first.run_pending(clock.now()) + second.run_pending(clock.now()))
    assert snapshots_of(inv, "pdd") == {}  # ticked, but 10 s < the default 90 s
    clock.advance(85)
    assert due_channels(services, clock.now()) == ["douyin", "pdd"]
    first.run_pending(clock.now())
    second.run_pending(clock.now())
    assert {sku: qty for sku, (qty, _token) in snapshots_of(inv, "pdd").items()} == {"A": 3}
    if inv.gate is not None:
        inv.gate.wipe()


def test_declared_pull_interval_replaces_the_default(services, clock) -> None:
    register_stock_connector(services, FakeChannel("pdd"))
    register_stock_connector(services, FakeChannel("taobao"))
    _publish_source(services)
    with services.db.session() as s:
        assert declared_pull_intervals(s) == {"pdd": 30}
    scheduler = _scheduler(services, "worker-1")
    scheduler.run_pending(clock.now())
    clock.advance(35)
    assert due_channels(services, clock.now()) == ["pdd"]  # 30 s declared; taobao keeps 90 s
    clock.advance(60)
    assert due_channels(services, clock.now()) == ["pdd", "taobao"]
