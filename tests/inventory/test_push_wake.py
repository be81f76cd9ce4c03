"""The stock push relay runs when push markers commit, not at its next 2 s tick: under the
background runner (dispatcher and relay woken on commit, their polls an hour away, the manual
clock never moved past the relay's period) a reservation's new figure reaches the six fake
platforms over signed HTTP; a hot SKU changing a thousand times is still pushed a few times,
each push the newest figure, never going backwards; a relay run that takes a full batch of
markers wakes the next one; a reservation committed by another process wakes it on
PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from connectors.fakes import PLATFORM_CREDENTIALS
from connectors.platform_stock import base_url_variable
from engine.inventory.audit import check_publications
from engine.inventory.channels import register_stock_connector
from engine.inventory.jobs import RELAY_SPACING_SECONDS
from engine.inventory.push import RELAY_BATCH
from engine.inventory.service import InventoryService, inventory_for
from engine.services import Services
from tests.inventory.fake_channel import FakeChannel
from tests.orders_in.conftest import FAKES, credentials, publish_sources
from tests.support.woken_job import runner_with, wait_until

RELAY = "inventory.push_relay"


@pytest.fixture
def platforms(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The six fake platforms on real time (the connectors sign with it), the environment pointing
    the published ``sources_six_channels`` at them."""
    fakes = {channel: cls(**credentials(channel)).start() for channel, cls in FAKES.items()}
    for channel, fake in fakes.items():
        monkeypatch.setenv(base_url_variable(channel), fake.url)
        for variable, value, _ in PLATFORM_CREDENTIALS[channel]:
            monkeypatch.setenv(variable, value)
    publish_sources(services)
    yield fakes
    for fake in fakes.values():
        fake.stop()


@pytest.fixture
def inv(services: Services) -> Iterator[InventoryService]:
    found = inventory_for(services)  # with the Redis gate when Redis is configured
    if found.gate is not None:
        found.gate.wipe()
        found.ensure_gate()
    yield found
    if found.gate is not None:
        found.gate.wipe()


def shown(platforms: dict[str, Any], code: str) -> dict[str, int]:
    return {channel: fake.catalogue[code].quantity for channel, fake in platforms.items()}


def test_a_reservation_reaches_the_six_fakes_without_waiting_for_the_relay_tick(services, clock, inv,
                                                                               platforms) -> None:
    code = "TEA-LJ-RELAY"
    for channel, fake in platforms.items():
        (fake.add_item if channel == "taobao" else fake.add_sku)(code, 0)
    start = clock.now()
    with runner_with(services, "engine.inventory.jobs", RELAY) as relay:
        inv.adjust(code, 100, "入库")
        wait_until(lambda: shown(platforms, code) == dict.fromkeys(platforms, 100), "the six fakes showing 100")
        inv.reserve("taobao/relay-1", [{"sku_id": code, "qty": 3}], channel="taobao")
        wait_until(lambda: shown(platforms, code) == dict.fromkeys(platforms, 97),
                   "the six fakes showing 97 after the reservation")
        wait_until(lambda: relay.woken_runs >= 2, "the woken runs counted")  # counted once each returned
        assert relay.failures == 0
    assert clock.now() == start  # no tick of the relay's 2 s period came: the commits woke it


def test_a_hot_sku_changing_a_thousand_times_is_pushed_a_few_times(services, inv) -> None:
    pdd, douyin = FakeChannel("pdd"), FakeChannel("douyin")
    for channel in (pdd, douyin):
        register_stock_connector(services, channel)
    changes = 1000
    with runner_with(services, "engine.inventory.jobs", RELAY) as relay:
        inv.adjust("HOT", 5000, "入库")
        wait_until(lambda: pdd.shown == douyin.shown == {"HOT": 5000}, "the first figure on both channels")
        before = {c.channel: len(c.pushes) for c in (pdd, douyin)}
        runs_before = relay.runs
        started = time.monotonic()
        for i in range(changes):
            inv.reserve(f"storm-{i}", [{"sku_id": "HOT", "qty": 1}])
        storm = time.monotonic() - started
        wait_until(lambda: pdd.shown == douyin.shown == {"HOT": 5000 - changes}, "the last figure on both channels")
        runs = relay.runs - runs_before
    most = storm / RELAY_SPACING_SECONDS + 2  # one run per spacing while it lasted, and one after it
    for channel in (pdd, douyin):
        pushed = channel.pushes[before[channel.channel]:]
        assert len(pushed) <= min(runs, most) < changes  # at most one push per relay run, runs spaced apart
        assert [p.version for p in pushed] == sorted({p.version for p in pushed})  # newer each time
        assert pushed[-1].available == 5000 - changes
        assert channel.backwards == []
    assert check_publications(services.db, {"pdd": pdd.pushes, "douyin": douyin.pushes}) == []


def test_a_full_batch_of_markers_wakes_the_next_relay_run(services, inv) -> None:
    pdd = FakeChannel("pdd")
    register_stock_connector(services, pdd)
    codes = [f"SKU-{i:04d}" for i in range(RELAY_BATCH + 40)]
    for code in codes:  # markers wait: no relay runs yet
        inv.adjust(code, 7, "入库")
    with runner_with(services, "engine.inventory.jobs", RELAY) as relay:
        wait_until(lambda: len(pdd.shown) == len(codes), "every SKU on the channel")
        assert relay.runs >= 2  # the first (due at start) took a batch; the rest did not wait for a tick
    assert pdd.shown == dict.fromkeys(codes, 7)


@pytest.mark.postgres
def test_postgres_a_reservation_in_another_process_wakes_this_relay(services, settings, clock, inv) -> None:
    pdd = FakeChannel("pdd")
    register_stock_connector(services, pdd)
    other = Services.build(settings, clock=clock)  # its own engine and pool: only NOTIFY links them
    elsewhere = InventoryService(other.db, other.clock)
    try:
        with runner_with(services, "engine.inventory.jobs", RELAY):
            elsewhere.adjust("A", 10, "入库")
            wait_until(lambda: pdd.shown == {"A": 10}, "the other process's stock on the channel")
            elsewhere.reserve("o1", [{"sku_id": "A", "qty": 4}])
            wait_until(lambda: pdd.shown == {"A": 6}, "the other process's reservation on the channel")
    finally:
        elsewhere.close()
        other.db.dispose()
