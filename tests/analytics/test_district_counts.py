"""The order map's counters: orders per (day, channel, district) and per (month, channel,
district), kept by the heatmap's consumer. Over ranges made of whole months, of days only and of
both, with and without a channel filter, the map's per-district counts equal a direct
``GROUP BY adcode`` over the orders at every step: before the consumer runs, half-way, after it,
and after newer versions move an order to another district, another month, and out of the
counts (a test order dropped by cleaning); the migration's back-fill gives the consumer's
counters."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from alembic import command
from sqlalchemy import func, select

from engine.analytics.geo import centroids, per_district
from engine.analytics.hour_counts import DistrictDay, DistrictMonth, count_changes, derive_districts
from engine.analytics.ranges import DateRange, whole_months
from engine.orders.model import Order
from engine.storage.migrate import alembic_config, upgrade
from tests.fulfillment.conftest import sh
from tests.risk.helpers import ADDRESSES, order, publish, take_in

RANGES = [DateRange(date(2026, 9, 1), date(2026, 11, 30)),  # three whole months
          DateRange(date(2026, 9, 14), date(2026, 11, 9)),  # days, October whole, days
          DateRange(date(2026, 10, 3), date(2026, 10, 27)),  # days only
          DateRange(date(2026, 8, 31), date(2026, 12, 1))]  # a day either side of three months
NOWHERE = "某某路1号"  # no district: counted as unplaced


def _direct(services: Any, rng: DateRange, channels: list[str]) -> dict[str, int]:
    with services.db.session() as s:
        stmt = select(Order.adcode, func.count()).where(Order.created_at >= rng.start, Order.created_at < rng.end,
                                                        Order.dropped_by.is_(None))
        if channels:
            stmt = stmt.where(Order.channel.in_(channels))
        return {code or "": n for code, n in s.execute(stmt.group_by(Order.adcode))}


def _mapped(services: Any, ranges: list[DateRange], channels: list[str]) -> list[dict[str, int]]:
    """The map's counts of several ranges read together (one statement), as codes → orders."""
    with services.db.session() as s:
        per_range = per_district(s, ranges, channels)
    outs = []
    for placed, unplaced in per_range:
        out = {c.adcode: n for c, n in placed.items()}
        if unplaced:
            out["?"] = unplaced
        outs.append(out)
    return outs


def _as_placed(direct: dict[str, int]) -> dict[str, int]:
    """The direct count laid out as the map lays it out (codes with no centroid: unplaced)."""
    known = centroids()
    out: dict[str, int] = {}
    for code, n in direct.items():
        key = code if code in known else "?"
        out[key] = out.get(key, 0) + n
    return out


def _check(services: Any) -> int:
    total = 0
    for rng in RANGES:
        for channels in ([], ["taobao"], ["douyin", "pdd"]):
            # the range and the period before it (what the map's growth reads), in one statement
            ranges = [rng, rng.previous(), RANGES[0]]
            direct = [_as_placed(_direct(services, r, channels)) for r in ranges]
            assert _mapped(services, ranges, channels) == direct, (rng, channels)
            total += sum(direct[0].values())
    return total


def test_whole_months_of_a_range() -> None:
    assert whole_months(date(2026, 9, 1), date(2026, 11, 30)) == (date(2026, 9, 1), date(2026, 12, 1))
    assert whole_months(date(2026, 1, 31), date(2026, 3, 31)) == (date(2026, 2, 1), date(2026, 4, 1))
    assert whole_months(date(2026, 1, 31), date(2026, 3, 30)) == (date(2026, 2, 1), date(2026, 3, 1))
    assert whole_months(date(2026, 1, 31), date(2026, 2, 27)) is None
    assert whole_months(date(2026, 2, 1), date(2026, 2, 28)) == (date(2026, 2, 1), date(2026, 3, 1))
    assert whole_months(date(2026, 2, 2), date(2026, 2, 28)) is None


def test_district_counters_plus_pending_changes_equal_a_direct_count_at_every_step(services) -> None:
    services.clock.set(sh("2026-12-02 08:00"))
    publish(services, "sources_six_channels")
    rnd = random.Random(11)
    cities = sorted(ADDRESSES)
    placed = []
    for i in range(72):
        at = sh("2026-08-29 00:00") + timedelta(minutes=rnd.randrange(96 * 24 * 60))
        channel = ("douyin", "taobao", "pdd")[i % 3]
        address = NOWHERE if i % 9 == 0 else ADDRESSES[cities[rnd.randrange(len(cities))]]
        placed.append((f"D{i}", at, channel))
        take_in(services, order(f"D{i}", at=at, phone=None, channel=channel,
                                receiver={"name": "王小明", "phone": "13900000000", "address": address}))
    assert _check(services) > 100  # nothing counted yet: the orders themselves

    services.clock.advance(31)
    import engine.analytics.hour_counts as hc

    batch, hc.BATCH = hc.BATCH, 30
    try:
        assert count_changes(services.db, services.clock.now(), max_batches=1) == 30  # half-way
        _check(services)
        assert count_changes(services.db, services.clock.now()) == 42
    finally:
        hc.BATCH = batch
    _check(services)
    with services.db.session() as s:
        for channel in ("*", "douyin"):  # every channel, one channel
            n = 72 if channel == "*" else 24
            assert s.scalar(select(func.sum(DistrictDay.orders)).where(DistrictDay.channel == channel)) == n
            assert s.scalar(select(func.sum(DistrictMonth.orders)).where(DistrictMonth.channel == channel)) == n
        assert s.scalar(select(func.count()).select_from(DistrictMonth).where(
            DistrictMonth.month == date(2026, 10, 1), DistrictMonth.channel != "*")) >= 6

    # newer versions: D1 moves to 成都 (another district, same day), D2 to another month and
    # district, D3 becomes a test order that cleaning drops
    services.clock.advance(60)
    later = sh("2026-12-31 00:00")
    for oid, at, channel, address in ((placed[1][0], placed[1][1], placed[1][2], ADDRESSES["成都"]),
                                      (placed[2][0], sh("2026-10-15 09:00"), placed[2][2], ADDRESSES["北京"])):
        take_in(services, order(oid, at=at, phone=None, channel=channel, updated_at=later,
                                receiver={"name": "王小明", "phone": "13900000000", "address": address}))
    with services.db.transaction() as s:  # dropped by a cleaning rule (as test orders are)
        s.get(Order, _pk(services, placed[3][0])).dropped_by = "test_orders"
        s.get(Order, _pk(services, placed[3][0])).changed_at = services.clock.now()
    _check(services)  # before the consumer reads the change
    services.clock.advance(31)
    assert count_changes(services.db, services.clock.now()) == 3
    _check(services)
    with services.db.session() as s:
        assert s.scalar(select(func.sum(DistrictDay.orders)).where(DistrictDay.channel == "*")) == 71
        assert s.scalar(select(func.sum(DistrictMonth.orders)).where(DistrictMonth.channel != "*")) == 71
        days = {(r.day, r.channel, r.adcode, r.orders) for r in s.scalars(select(DistrictDay))}
        months = {(r.month, r.channel, r.adcode, r.orders) for r in s.scalars(select(DistrictMonth))}

    # the revision before the counters, then the migration: it reads each counted order's code
    # and derives the same counters (zeros left by moves aside); the map still equals the orders
    cfg = alembic_config(services.db)
    with services.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0025_analytics_districts-1")
    upgrade(services.db)
    _check(services)
    with services.db.session() as s:
        assert {(r.day, r.channel, r.adcode, r.orders) for r in s.scalars(select(DistrictDay))} == {
            d for d in days if d[3]}
        assert {(r.month, r.channel, r.adcode, r.orders) for r in s.scalars(select(DistrictMonth))} == {
            m for m in months if m[3]}
    with services.db.engine.begin() as conn:  # derived again, the same
        assert derive_districts(conn) == len([d for d in days if d[3]])
    with services.db.session() as s:
        assert {(r.day, r.channel, r.adcode, r.orders) for r in s.scalars(select(DistrictDay))} == {
            d for d in days if d[3]}
        assert {(r.month, r.channel, r.adcode, r.orders) for r in s.scalars(select(DistrictMonth))} == {
            m for m in months if m[3]}


def _pk(services: Any, order_id: str) -> int:
    with services.db.session() as s:
        pk = s.scalar(select(Order.id).where(Order.order_id == order_id))
        assert pk is not None
        return int(pk)
