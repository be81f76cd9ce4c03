"""The fulfillment deviation counters equal a direct SQL count over the same orders: orders of three
channels promised over three days, shipped on time or late by the platform, shipped by us, not
shipped, cancelled, moved to another promise by a newer version, cancelled by a newer version.
They stay equal when kept version by version, when derived from scratch (the migration's
back-fill), and after the published threshold changes; the endpoint's late figures, which add the
unshipped orders past promise + threshold at the clock's time, equal the direct count too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Integer, and_, case, cast, func, literal, or_, select

from engine.analytics.deviation_counts import (
    SHIPPED_STATUSES,
    DeviationCount,
    DeviationDay,
    DeviationMonth,
    ensure_threshold,
    rebuild,
    refresh_orders,
)
from engine.analytics.sql_time import SHANGHAI, local_date, local_hour, seconds_between
from engine.orders.model import Order
from engine.orders.pipeline_model import OrderShipment
from tests.conftest import auth
from tests.risk.helpers import order, publish, take_in

CHANNELS = ("douyin", "taobao", "pdd")
NOW = datetime(2026, 11, 13, 12, 0, tzinfo=SHANGHAI)


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def _kind(i: int) -> tuple[str, int | None]:
    """(status, minutes shipped after promise) of order ``i``: late, on time, early, exactly 2 h,
    not shipped, cancelled."""
    return [("shipped", 150), ("shipped", 30), ("delivered", -45), ("shipped", 120),
            ("awaiting_shipment", None), ("cancelled", None), ("completed", 200)][i % 7]


@pytest.fixture
def stored(services: Any) -> Any:
    publish(services, "sources_six_channels")
    services.clock.set(NOW)
    pks: dict[str, int] = {}
    for i in range(42):
        channel = CHANNELS[i % 3]
        promised = sh(11 + i % 3, (i * 5) % 24, 30 * (i % 2))  # days 11–13, hours spread, :00 and :30
        status, after = _kind(i)
        extra: dict[str, Any] = {"promised_ship_at": promised, "status": status}
        if after is not None:
            extra["shipped_at"] = promised + timedelta(minutes=after)
        pks[f"G{i}"] = take_in(services, order(f"G{i}", at=promised - timedelta(days=1), channel=channel, phone=None,
                                               **extra))
    # newer versions: one moves its promise to another day and hour, one is cancelled, one ships late
    later = {"updated_at": sh(14, 0)}
    take_in(services, order("G4", at=sh(10, 0), channel="taobao", phone=None, promised_ship_at=sh(13, 23),
                            status="awaiting_shipment", **later))
    take_in(services, order("G11", at=sh(10, 0), channel="pdd", phone=None, promised_ship_at=sh(12, 7),
                            status="cancelled", **later))
    take_in(services, order("G18", at=sh(10, 0), channel="douyin", phone=None, promised_ship_at=sh(12, 18),
                            status="shipped", shipped_at=sh(12, 23), **later))
    # shipped by us: a shipment row, 4 h after the promise, the counters moved in its transaction
    with services.db.transaction() as s:
        promised = s.scalar(select(Order.promised_ship_at).where(Order.id == pks["G25"]))
        s.add(OrderShipment(order_pk=pks["G25"], courier="SF", tracking_no="SF9025", lines=[], via="api",
                            actor="user:wh", at=promised + timedelta(hours=4), writeback_status="accepted"))
        s.flush()
        refresh_orders(s.connection(), [pks["G25"]])
    return services


def _direct(session: Any, threshold_s: int, now: datetime | None = None) -> dict[tuple[str, str, int], tuple[int, ...]]:
    """Per (channel, day, hour of promise): orders, shipped, late — straight from the orders.
    Late: shipped more than the threshold after the promise, or (with ``now``) not shipped and
    past it by more than the threshold."""
    dialect = session.get_bind().dialect.name
    first = (select(func.min(OrderShipment.at)).where(OrderShipment.order_pk == Order.id)
             .correlate(Order).scalar_subquery())
    platform = Order.doc["shipped_at"].as_string()
    if dialect == "postgresql":
        platform_at: Any = case((Order.status.in_(SHIPPED_STATUSES), cast(platform, Order.promised_ship_at.type)))
        now_value: Any = now
    else:
        platform_at = case((Order.status.in_(SHIPPED_STATUSES), func.strftime("%Y-%m-%d %H:%M:%f", platform)))
        now_value = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if now else None
    shipped = func.coalesce(first, platform_at)
    late_shipped = and_(shipped.is_not(None), seconds_between(shipped, Order.promised_ship_at, dialect) > threshold_s)
    late: Any = late_shipped
    if now is not None:
        late = or_(late_shipped, and_(shipped.is_(None), seconds_between(literal(now_value), Order.promised_ship_at,
                                                                         dialect) > threshold_s))
    day, hour = local_date(Order.promised_ship_at, dialect), local_hour(Order.promised_ship_at, dialect)
    stmt = (select(Order.channel, day, hour, func.count(), func.count(shipped),
                   func.sum(cast(case((late, 1), else_=0), Integer)))
            .where(Order.promised_ship_at.is_not(None), Order.dropped_by.is_(None), Order.status != "cancelled")
            .group_by(Order.channel, day, hour))
    return {(c, d if isinstance(d, str) else d.isoformat(), int(h)): (int(n), int(s), int(late_n))
            for c, d, h, n, s, late_n in session.execute(stmt)}


def _counters(session: Any) -> dict[tuple[str, str, int], tuple[int, ...]]:
    return {(r.channel, r.day.isoformat(), r.hour): (r.due, r.shipped, r.late)
            for r in session.scalars(select(DeviationCount)) if r.due or r.shipped or r.late}


def test_counters_kept_version_by_version_equal_the_direct_count(stored) -> None:
    with stored.db.session() as s:
        expected = _direct(s, 7200)
        assert _counters(s) == expected
    orders, shipped, late = (sum(v[i] for v in expected.values()) for i in range(3))
    assert orders == 42 - 6 - 1  # six cancelled at first, G11 cancelled by its newer version
    assert 0 < late < shipped < orders  # late, on time and unshipped orders all take part


def _rollups(session: Any) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    days = {(r.day, r.channel, r.due, r.shipped, r.late) for r in session.scalars(select(DeviationDay))
            if r.due or r.shipped or r.late}
    months = {(r.month, r.hour, r.channel, r.due, r.shipped, r.late) for r in session.scalars(select(DeviationMonth))
              if r.due or r.shipped or r.late}
    return days, months


def test_counters_derived_from_scratch_equal_the_kept_ones(stored) -> None:
    with stored.db.session() as s:
        kept, kept_rollups = _counters(s), _rollups(s)
    assert len(kept_rollups[0]) == 5 and len(kept_rollups[1]) > 10  # (day, channel) and (hour, channel) of November
    with stored.db.transaction() as s:
        rebuild(s.connection(), 7200)
    with stored.db.session() as s:
        assert _counters(s) == kept == _direct(s, 7200)
        assert _rollups(s) == kept_rollups


def test_a_new_threshold_re_derives_the_counters(stored) -> None:
    assert ensure_threshold(stored.db, 3 * 3600) is True
    assert ensure_threshold(stored.db, 3 * 3600) is False
    with stored.db.session() as s:
        assert _counters(s) == _direct(s, 3 * 3600)
    # a version after the change is counted under the new threshold
    take_in(stored, order("G0", at=sh(10, 0), channel="douyin", phone=None, promised_ship_at=sh(11, 0),
                          status="shipped", shipped_at=sh(11, 2, 30), updated_at=sh(12, 0)))
    with stored.db.session() as s:
        assert _counters(s) == _direct(s, 3 * 3600)


@pytest.mark.parametrize("channel", ["", "taobao"])
def test_the_endpoint_late_figures_equal_the_direct_count_at_now(client, tokens, stored, channel) -> None:
    with stored.db.session() as s:
        expected = {k: v for k, v in _direct(s, 7200, NOW).items() if not channel or k[0] == channel}
    query = {"from": "2026-11-11", "to": "2026-11-13", "limit": 200}
    if channel:
        query["channel"] = channel
    body = client.get("/api/v1/metrics/fulfillment-deviation", query_string=query,
                      headers=auth(tokens["ops"])).get_json()
    assert body["totals"]["orders"] == sum(v[0] for v in expected.values())
    assert body["totals"]["late"] == sum(v[2] for v in expected.values())
    by_day: dict[str, list[int]] = {}
    for (_, day, _), (n, _, late) in expected.items():
        by_day.setdefault(day, [0, 0])
        by_day[day][0] += n
        by_day[day][1] += late
    assert {d["day"]: [d["orders"], d["late"]] for d in body["by_day"]} == by_day
    assert len(body["late_orders"]) == body["totals"]["late"]
    # the same figures under a query's own threshold (read from the per-order rows)
    asked = client.get("/api/v1/metrics/fulfillment-deviation", query_string={**query, "threshold": "150m"},
                       headers=auth(tokens["ops"])).get_json()
    with stored.db.session() as s:
        at_150 = {k: v for k, v in _direct(s, 9000, NOW).items() if not channel or k[0] == channel}
    assert asked["totals"]["late"] == sum(v[2] for v in at_150.values())
    assert len(asked["late_orders"]) == asked["totals"]["late"]


def test_the_worker_re_derives_them_once_a_ruleset_publishes_another_threshold(stored) -> None:
    from engine.analytics.deviation_counts import counted_threshold
    from engine.scheduler import Scheduler, load_periodic_jobs

    scheduler = Scheduler(stored, holder="worker-a")
    load_periodic_jobs(scheduler, ["engine.analytics.jobs"])
    from engine.rulesets import service as rulesets
    from tests.order_tickets.support import template_text

    publish(stored, "fulfillment_standard")
    assert "analytics.deviation_threshold" in scheduler.run_pending()  # 2 h: nothing to re-derive
    with stored.db.session() as s:
        assert counted_threshold(s.connection()) == 7200
    with stored.db.transaction(immediate=True) as s:
        rulesets.put_draft(s, "fulfillment_standard", now=NOW, actor="admin",
                           content=template_text("fulfillment_standard").replace("late after 2h", "late after 3h"))
        rulesets.publish(s, "fulfillment_standard", actor="admin", now=NOW, note="3h")
    stored.clock.set(NOW + timedelta(minutes=1))
    assert "analytics.deviation_threshold" in scheduler.run_pending()
    with stored.db.session() as s:
        assert counted_threshold(s.connection()) == 3 * 3600
        assert _counters(s) == _direct(s, 3 * 3600)


def test_a_change_made_outside_the_ship_and_store_paths_is_counted_by_the_worker(stored) -> None:
    from sqlalchemy import update

    from engine.analytics.deviation_counts import reconcile_changed

    assert reconcile_changed(stored.db, NOW + timedelta(minutes=1)) == 0  # everything already counted
    with stored.db.transaction() as s:  # a status set by hand: no refresh in its transaction
        pk = s.scalar(select(Order.id).where(Order.order_id == "G0"))
        s.execute(update(Order).where(Order.id == pk).values(status="cancelled", changed_at=NOW + timedelta(minutes=2)))
    with stored.db.session() as s:
        assert _counters(s) != _direct(s, 7200)
    assert reconcile_changed(stored.db, NOW + timedelta(minutes=2, seconds=10)) == 0  # not yet past the lag
    assert reconcile_changed(stored.db, NOW + timedelta(minutes=3)) == 1
    with stored.db.session() as s:
        assert _counters(s) == _direct(s, 7200)


def test_the_late_figures_equal_the_direct_count_as_the_clock_passes_each_promise(stored) -> None:
    """Every 35 minutes over the three days (each time another minute of the hour), under the
    counted 2 h and under a query's own 90 min and 150 min: the hours of promise that ended before now − threshold add their unshipped
    orders from the counters, the hour holding that instant reads its orders, and the shipped
    orders between the query's threshold and the counted one move in or out of late."""
    from engine.analytics.deviation import deviation_report
    from engine.analytics.ranges import DateRange

    rng = DateRange(sh(11, 0).date(), sh(13, 0).date())
    for threshold_s in (7200, 5400, 9000):
        now = sh(11, 1)
        seen = set()
        while now <= sh(14, 3):
            with stored.db.session() as s:
                expected = sum(v[2] for v in _direct(s, threshold_s, now).values())
                body = deviation_report(s, rng, (), threshold_s=threshold_s, now=now, cursor=None, limit=200)
            assert body["totals"]["late"] == expected == len(body["late_orders"]), (threshold_s, now)
            seen.add(expected)
            now += timedelta(minutes=35)
        assert len(seen) == 4, threshold_s  # the figure moved as unshipped orders passed promise + threshold


def _figures(direct: dict[tuple[str, str, int], tuple[int, ...]], first: str, last: str) -> dict[str, Any]:
    """The report's figures (orders, late) per channel, hour and day, from the direct count."""
    out: dict[str, dict[Any, list[int]]] = {"channel": {}, "hour": {}, "day": {}}
    for (channel, day, hour), (n, _, late) in direct.items():
        if first <= day <= last:
            for kind, key in (("channel", channel), ("hour", hour), ("day", day)):
                figure = out[kind].setdefault(key, [0, 0])
                figure[0] += n
                figure[1] += late
    return out


@pytest.mark.parametrize("first,last", [("2026-10-01", "2026-11-30"), ("2026-11-01", "2026-12-05"),
                                        ("2026-10-15", "2026-11-12")])
def test_ranges_of_whole_months_read_the_monthly_and_daily_counters_exactly(stored, first, last) -> None:
    """Ranges made of whole months and days, the clock in the middle of the promises, at the end of
    November and in December (then November is a whole month before the cutoff's): per channel,
    hour and day, under the counted and a query's own threshold, equal to the direct count."""
    from datetime import date

    from engine.analytics.deviation import deviation_report
    from engine.analytics.ranges import DateRange

    rng = DateRange(date.fromisoformat(first), date.fromisoformat(last))
    for now in (sh(12, 9, 40), sh(30, 23, 50), datetime(2026, 12, 5, 10, 0, tzinfo=SHANGHAI)):
        for threshold_s in (7200, 5400):
            with stored.db.session() as s:
                expected = _figures(_direct(s, threshold_s, now), first, last)
                body = deviation_report(s, rng, (), threshold_s=threshold_s, now=now, cursor=None, limit=500)
            got = {"channel": {r["channel"]: [r["orders"], r["late"]] for r in body["by_channel"]},
                   "hour": {r["hour"]: [r["orders"], r["late"]] for r in body["by_hour"]},
                   "day": {r["day"]: [r["orders"], r["late"]] for r in body["by_day"]}}
            assert got == expected, (first, last, now, threshold_s)
            assert sum(v[1] for v in expected["day"].values()) == body["totals"]["late"] == len(body["late_orders"])
