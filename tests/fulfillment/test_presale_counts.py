"""The presale counters equal a direct SQL count over the orders: presale orders of three channels
due over five Asia/Shanghai days, not shipped, shipped by the platform (shipped, in part,
delivered, completed), shipped by us in part and in whole, cancelled, cancelled by a person, a
test order a cleaning dropped, an ordinary order; newer versions that ship one, move one to
another day and cancel one. They stay equal when kept version by version, when derived from
scratch (the migration's back-fill, over orders stored before it), and when an order changed
outside the store, ship and cancel paths is passed through them by the worker's job. The plan's
figures and overdue orders (read from them) equal the direct count at the clock's time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Integer, and_, case, cast, func, insert, select, update

from engine.analytics.hour_counts import CountCursor
from engine.analytics.sql_time import SHANGHAI
from engine.fulfillment.presale_counts import SHIPPED_STATUSES, PresaleCount, PresaleOrder, rebuild, reconcile_changed
from engine.fulfillment.sql import iso_text, ship_by_day, ship_by_text
from engine.inventory.service import inventory_for
from engine.orders.model import Order
from engine.orders.order_cancel import cancel_order
from engine.orders.shipping import read_request, ship_order
from engine.storage.db import Database
from engine.storage.migrate import upgrade
from tests.conftest import auth
from tests.risk.helpers import order, publish, take_in
from tests.support import backends

NOW = datetime(2026, 11, 13, 12, 0, tzinfo=SHANGHAI)
TEA = {"line_id": "1", "sku_id": "TEA-COLD", "title": "冷泡茶包", "qty": 1, "unit_price": 3900, "amount": 3900}
SCARF = {"line_id": "2", "sku_id": "SCARF-SILK", "title": "丝巾", "qty": 1, "unit_price": 1000, "amount": 1000}


def sh(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


# id, channel, presale ship-by (Beijing time; None: not presale), status, receiver name
ORDERS = [
    ("S1", "douyin", sh(12, 10), "awaiting_shipment", "王小明"),
    ("S2", "douyin", sh(12, 20), "shipped", "王小明"),
    ("S3", "douyin", sh(13, 9), "paid_hold", "王小明"),
    ("S4", "taobao", sh(13, 23), "partially_shipped", "王小明"),
    ("S5", "taobao", sh(13, 11, 30), "awaiting_shipment", "王小明"),  # we ship one of its two lines
    ("S6", "taobao", sh(14, 1), "delivered", "王小明"),  # the 13th in UTC, the 14th in Beijing
    ("S7", "pdd", sh(14, 8), "completed", "王小明"),
    ("S8", "pdd", sh(14, 10), "cancelled", "王小明"),
    ("S9", "pdd", sh(15, 12), "awaiting_shipment", "王小明"),  # a newer version moves it to the 16th
    ("S10", "douyin", sh(15, 0, 30), "awaiting_shipment", "王小明"),  # a newer version cancels it
    ("S11", "douyin", sh(12, 23, 59), "awaiting_shipment", "王小明"),  # a newer version ships it
    ("S12", "taobao", sh(16, 18), "awaiting_shipment", "王小明"),  # we ship it whole
    ("S13", "pdd", sh(13, 7), "awaiting_shipment", "王小明"),  # a person cancels it
    ("T1", "douyin", sh(13, 10), "awaiting_shipment", "测试"),  # a test order: the cleaning drops it
    ("N1", "douyin", None, "awaiting_shipment", "王小明"),
]
# what the orders count in the end, per (day, channel): due, shipped
EXPECTED = {
    ("2026-11-12", "douyin"): (3, 2),  # S1 waiting, S2, S11 shipped
    ("2026-11-13", "douyin"): (1, 0),  # S3 (held: still to ship)
    ("2026-11-13", "taobao"): (2, 2),  # S4 in part by the platform, S5 in part by us
    ("2026-11-14", "taobao"): (1, 1),  # S6
    ("2026-11-14", "pdd"): (1, 1),  # S7
    ("2026-11-16", "pdd"): (1, 0),  # S9, moved
    ("2026-11-16", "taobao"): (1, 1),  # S12
}


def _presale(oid: str, channel: str, ship_by: datetime | None, status: str, name: str, **extra: Any) -> dict[str, Any]:
    body = order(oid, at=sh(1, 10), channel=channel, phone=None, status=status, **extra)
    body["receiver"]["name"] = name
    if ship_by is not None:
        body.update(presale=True, presale_ship_by=ship_by)
    return body


def _ship(services: Any, pk: int, ref: str, tracking_no: str, lines: list[dict[str, Any]] | None = None) -> str:
    inventory = inventory_for(services)
    for sku in ("TEA-COLD", "SCARF-SILK"):
        if inventory.get(sku) is None:
            inventory.adjust(sku, 50, "入库")
    wanted = [{"sku_id": "TEA-COLD", "qty": 1}, {"sku_id": "SCARF-SILK", "qty": 1}] if ref.endswith("S5") else [
        {"sku_id": "TEA-COLD", "qty": 1}]
    inventory.reserve(ref, wanted, channel=ref.split("/")[0])
    body: dict[str, Any] = {"courier": "SF", "tracking_no": tracking_no}
    if lines is not None:
        body["lines"] = lines
    return ship_order(services, pk, read_request(body), via="api", actor="user:wh").order_status


@pytest.fixture
def stored(services: Any) -> Any:
    publish(services, "sources_six_channels")
    services.clock.set(sh(10, 12))
    pks: dict[str, int] = {}
    for oid, channel, ship_by, status, name in ORDERS:
        extra = {"lines": [TEA, SCARF]} if oid == "S5" else {}
        pks[oid] = take_in(services, _presale(oid, channel, ship_by, status, name, **extra))
    later = {"updated_at": sh(11, 12)}
    take_in(services, _presale("S9", "pdd", sh(16, 9), "awaiting_shipment", "王小明", **later))
    take_in(services, _presale("S10", "douyin", sh(15, 0, 30), "cancelled", "王小明", **later))
    take_in(services, _presale("S11", "douyin", sh(12, 23, 59), "shipped", "王小明", **later))
    assert _ship(services, pks["S5"], "taobao/S5", "SF5000000001", [{"sku_id": "SCARF-SILK", "qty": 1}]) \
        == "partially_shipped"
    assert _ship(services, pks["S12"], "taobao/S12", "SF1200000001") == "shipped"
    cancel_order(services, pks["S13"], "买家不要了", actor="user:ops", role="ops")
    services.clock.set(NOW)
    services.pks = pks
    return services


def _direct(session: Any, now: datetime) -> dict[tuple[str, str], tuple[int, int, int]]:
    """Per (ship-by day, channel): due, shipped, overdue at ``now`` — straight from the orders."""
    dialect = session.get_bind().dialect.name
    ship_by, day = ship_by_text(dialect), ship_by_day(dialect)
    shipped = Order.status.in_(SHIPPED_STATUSES)
    overdue = and_(~shipped, ship_by < iso_text(now))
    stmt = (select(day, Order.channel, func.count(), func.sum(cast(case((shipped, 1), else_=0), Integer)),
                   func.sum(cast(case((overdue, 1), else_=0), Integer)))
            .where(ship_by.is_not(None), Order.status != "cancelled", Order.dropped_by.is_(None))
            .group_by(day, Order.channel))
    return {(d if isinstance(d, str) else d.isoformat(), c): (int(n), int(s), int(late))
            for d, c, n, s, late in session.execute(stmt)}


def _counters(session: Any) -> dict[tuple[str, str], tuple[int, int]]:
    return {(r.day.isoformat(), r.channel): (r.due, r.shipped)
            for r in session.scalars(select(PresaleCount)) if r.due or r.shipped}


def _without_overdue(direct: dict[tuple[str, str], tuple[int, int, int]]) -> dict[tuple[str, str], tuple[int, int]]:
    return {k: (v[0], v[1]) for k, v in direct.items()}


def test_the_counters_kept_by_every_writer_equal_the_direct_count(stored) -> None:
    with stored.db.session() as s:
        dropped = s.scalar(select(Order.dropped_by).where(Order.order_id == "T1"))
        direct = _direct(s, NOW)
        assert dropped is not None  # the test order is stored, dropped
        assert _counters(s) == _without_overdue(direct) == EXPECTED
        assert {k: v[2] for k, v in direct.items() if v[2]} == {("2026-11-12", "douyin"): 1,
                                                               ("2026-11-13", "douyin"): 1}  # S1, S3
        rows = {r.order_pk: (r.day.isoformat(), r.shipped) for r in s.scalars(select(PresaleOrder))}
    pks = stored.pks
    assert rows == {pks["S1"]: ("2026-11-12", False), pks["S2"]: ("2026-11-12", True),
                    pks["S11"]: ("2026-11-12", True), pks["S3"]: ("2026-11-13", False),
                    pks["S4"]: ("2026-11-13", True), pks["S5"]: ("2026-11-13", True),
                    pks["S6"]: ("2026-11-14", True), pks["S7"]: ("2026-11-14", True),
                    pks["S9"]: ("2026-11-16", False), pks["S12"]: ("2026-11-16", True)}


def test_the_counters_derived_from_scratch_equal_the_kept_ones(stored) -> None:
    with stored.db.session() as s:
        kept = _counters(s)
    with stored.db.transaction() as s:
        assert rebuild(s.connection()) == 10
    with stored.db.session() as s:
        assert _counters(s) == kept == EXPECTED


@pytest.mark.parametrize("channel", ["", "taobao,pdd"])
def test_the_plan_read_from_the_counters_equals_the_direct_count_at_now(client, tokens, stored, channel) -> None:
    query = {"from": "2026-11-12", "to": "2026-11-16"}
    if channel:
        query["channel"] = channel
    body = client.get("/api/v1/metrics/presale", query_string=query, headers=auth(tokens["warehouse"])).get_json()
    with stored.db.session() as s:
        direct = {k: v for k, v in _direct(s, NOW).items() if not channel or k[1] in channel.split(",")}
    got = {(d["day"], c): (f["due"], f["shipped"], f["overdue"]) for d in body["by_day"]
           for c, f in d["by_channel"].items()}
    assert got == direct
    assert [d["day"] for d in body["by_day"]] == ["2026-11-12", "2026-11-13", "2026-11-14", "2026-11-15",
                                                 "2026-11-16"]
    assert body["by_day"][3] == {"day": "2026-11-15", "due": 0, "shipped": 0, "waiting": 0, "overdue": 0,
                                 "by_channel": {}}  # S9 moved away, S10 cancelled: no figures left
    if channel:
        assert body["totals"] == {"due": 6, "shipped": 5, "waiting": 1, "overdue": 0}
        assert body["overdue_total"] == 0 and body["overdue"] == []
    else:
        assert body["totals"] == {"due": 10, "shipped": 7, "waiting": 3, "overdue": 2}
        assert body["overdue_total"] == 2
        assert [(o["order_id"], o["overdue_s"]) for o in body["overdue"]] == [("S1", 26 * 3600), ("S3", 3 * 3600)]


def test_a_change_made_outside_the_usual_paths_is_counted_by_the_worker_job(stored) -> None:
    from engine.scheduler import Scheduler, load_periodic_jobs

    assert reconcile_changed(stored.db, NOW + timedelta(minutes=1)) == 0  # everything already counted
    with stored.db.transaction() as s:  # a status set by hand: no refresh in its transaction
        s.execute(update(Order).where(Order.id == stored.pks["S1"]).values(
            status="shipped", changed_at=NOW + timedelta(minutes=2)))
    with stored.db.session() as s:
        assert _counters(s) == EXPECTED != _without_overdue(_direct(s, NOW))
    assert reconcile_changed(stored.db, NOW + timedelta(minutes=2, seconds=10)) == 0  # not yet past the lag
    scheduler = Scheduler(stored, holder="worker-a")
    load_periodic_jobs(scheduler, ["engine.analytics.jobs"])
    stored.clock.set(NOW + timedelta(minutes=3))
    assert "analytics.presale_counts" in scheduler.run_pending()
    with stored.db.session() as s:
        assert _counters(s) == _without_overdue(_direct(s, NOW)) == {**EXPECTED, ("2026-11-12", "douyin"): (3, 3)}
        cursor = s.scalar(select(CountCursor).where(CountCursor.name == "presale"))
        assert cursor is not None and cursor.order_pk == stored.pks["S1"]


@pytest.fixture
def bare_database(tmp_path: Path) -> Iterator[Database]:
    with backends.private_database_url(tmp_path, "before_presale") as url:
        db = Database(url)
        yield db
        db.dispose()


def test_the_migration_back_fills_the_counters_from_the_orders_stored_before_it(bare_database: Database) -> None:
    db = bare_database
    upgrade(db, "0022_boards_risk_rows_sku_index")
    at = sh(1, 10)
    docs: list[tuple[str, str, Any, str | None]] = [  # order id, channel, doc's presale_ship_by, dropped by
        ("M1", "douyin", sh(12, 10), None), ("M2", "douyin", sh(12, 20), None), ("M3", "pdd", sh(14, 1), None),
        ("M4", "pdd", sh(14, 1), None), ("M5", "pdd", sh(14, 2), "cleaning:3"), ("M6", "pdd", None, None),
        ("M7", "taobao", "null", None), ("M8", "taobao", sh(13, 7, 15), None)]
    statuses = {"M1": "awaiting_shipment", "M2": "completed", "M3": "partially_shipped", "M4": "cancelled",
                "M5": "awaiting_shipment", "M6": "awaiting_shipment", "M7": "awaiting_shipment", "M8": "paid_hold"}
    with db.engine.begin() as conn:
        for oid, channel, ship_by, dropped in docs:
            doc: dict[str, Any] = {"order_id": oid, "channel": channel, "status": statuses[oid]}
            if ship_by == "null":
                doc["presale_ship_by"] = None
            elif ship_by is not None:
                doc.update(presale=True, presale_ship_by=iso_text(ship_by))
            conn.execute(insert(Order.__table__).values(
                channel=channel, order_id=oid, shop="旗舰店", status=statuses[oid], created_at=at, updated_at=at,
                total=0, freight=0, tags=[], doc=doc, revision=1, source=channel, via="pull", stored_at=at,
                changed_at=at, dropped_by=dropped, dropped_rule="测试单" if dropped else None))
    upgrade(db)
    with db.engine.connect() as conn:
        counts = {(r.day.isoformat(), r.channel): (r.due, r.shipped) for r in conn.execute(select(PresaleCount))}
        rows = {r.order_pk: (r.ship_by, r.day.isoformat(), r.shipped) for r in conn.execute(select(PresaleOrder))}
        ids = dict(conn.execute(select(Order.order_id, Order.id)).all())
        cursor = conn.execute(select(CountCursor.changed_at).where(CountCursor.name == "presale")).scalar()
    with db.session() as s:
        assert counts == _without_overdue(_direct(s, NOW))
    assert counts == {("2026-11-12", "douyin"): (2, 1), ("2026-11-14", "pdd"): (1, 1),
                      ("2026-11-13", "taobao"): (1, 0)}
    assert rows == {ids["M1"]: ("2026-11-12T02:00:00+00:00", "2026-11-12", False),
                    ids["M2"]: ("2026-11-12T12:00:00+00:00", "2026-11-12", True),
                    ids["M3"]: ("2026-11-13T17:00:00+00:00", "2026-11-14", True),
                    ids["M8"]: ("2026-11-12T23:15:00+00:00", "2026-11-13", False)}
    assert cursor is not None  # the worker's job goes on from the newest change stored
