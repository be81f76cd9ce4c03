"""The heatmap's counters: the consumer counts each stored order once in its (Beijing day, hour,
channel) bucket, moves it when a newer version changes its creation time, never counts it twice
(run again, or a batch at a time), and the heatmap is exact whatever the consumer has read
(before it runs, half-way, after): always equal to a direct count over the orders."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from engine.analytics.hour_counts import CountCursor, HourCount, count_changes
from engine.analytics.hourly import hourly_heatmap
from engine.analytics.ranges import DateRange
from engine.analytics.sql_time import local_hour, local_weekday
from engine.orders.model import Order
from tests.fulfillment.conftest import sh
from tests.risk.helpers import order, publish, take_in

RANGE = DateRange(sh("2026-11-02 00:00").date(), sh("2026-11-15 00:00").date())


def _direct(services: Any) -> list[list[int]]:
    matrix = [[0] * 24 for _ in range(7)]
    with services.db.session() as s:
        dialect = s.get_bind().dialect.name
        wd, hr = local_weekday(Order.created_at, dialect), local_hour(Order.created_at, dialect)
        for row in s.execute(select(wd, hr, func.count()).where(
                Order.created_at >= RANGE.start, Order.created_at < RANGE.end, Order.dropped_by.is_(None))
                .group_by(wd, hr)):
            matrix[row[0] - 1][row[1]] += row[2]
    return matrix


def _heatmap(services: Any) -> dict[str, Any]:
    with services.db.session() as s:
        return hourly_heatmap(s, RANGE, ())


def test_counters_plus_pending_changes_equal_a_direct_count_at_every_step(services) -> None:
    services.clock.set(sh("2026-11-01 08:00"))
    publish(services, "sources_six_channels")
    rnd = random.Random(5)
    placed = []
    for i in range(60):
        at = sh("2026-11-01 00:00") + timedelta(minutes=rnd.randrange(16 * 24 * 60))
        channel = ("douyin", "taobao", "pdd")[i % 3]
        placed.append((f"H{i}", at, channel))
        take_in(services, order(f"H{i}", at=at, phone=None, channel=channel))
    direct = _direct(services)
    assert sum(map(sum, direct)) > 40
    assert _heatmap(services)["matrix"] == direct  # nothing counted yet: all from the pending orders

    services.clock.advance(31)
    import engine.analytics.hour_counts as hc

    batch, hc.BATCH = hc.BATCH, 25
    try:
        assert count_changes(services.db, services.clock.now(), max_batches=1) == 25  # half-way
        assert _heatmap(services)["matrix"] == direct
        assert count_changes(services.db, services.clock.now()) == 35
    finally:
        hc.BATCH = batch
    assert _heatmap(services)["matrix"] == direct
    assert count_changes(services.db, services.clock.now()) == 0
    with services.db.session() as s:
        assert s.scalar(select(func.sum(HourCount.orders))) == 60
        assert s.get(CountCursor, "hourly") is not None

    # a newer version moves H0 to Monday 2026-11-09 03:00 Beijing time (and H1 out of the range)
    services.clock.advance(60)
    oid, _, channel = placed[0]
    take_in(services, order(oid, at=sh("2026-11-09 03:00"), phone=None, channel=channel,
                            updated_at=sh("2026-12-31 00:00")))
    take_in(services, order(placed[1][0], at=sh("2026-12-20 10:00"), phone=None, channel=placed[1][2],
                            updated_at=sh("2026-12-31 00:00")))
    moved = _direct(services)
    assert moved != direct and moved[0][3] >= 1
    assert _heatmap(services)["matrix"] == moved  # before the consumer reads the change
    services.clock.advance(31)
    assert count_changes(services.db, services.clock.now()) == 2
    assert _heatmap(services)["matrix"] == moved
    with services.db.session() as s:
        assert s.scalar(select(func.sum(HourCount.orders))) == 60
        assert s.scalar(select(HourCount.orders).where(HourCount.day == sh("2026-11-09 03:00").date(),
                                                       HourCount.hour == 3, HourCount.channel == channel)) >= 1
