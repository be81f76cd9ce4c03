"""The operations analytics over a large order store, each query against baselines in the same run.

The store is generated as ``bench/alerts.py`` generates it (bulk inserts of orders spread over a
year with lines, districts drawn skewed from the division table, promised ship times a day after
creation, a fifth shipped), plus: one order in 20 with an after-sales ticket (a platform refund
with a reason drawn from the standard list, opened within two weeks of the order) and one in 50 a
presale order with a ship-by date. The hourly counters (:mod:`engine.analytics.hour_counts`) are
then filled by their consumer from nothing, timed, as a worker would after the upgrade.

Queries, for a 7-day, a 30-day and the whole-year range, each repeated (p50/p95 in ms, wall and
CPU of this process):

- ``hourly`` (the heatmap: counters plus the orders changed since the cursor) against
  ``hourly, detail`` (the same figures by ``GROUP BY`` over every order of the range through the
  ``ix_orders_analytics`` index: what the heatmap did before the counters);
- ``geo``, ``deviation``, ``return reasons`` and ``presale plan`` as the API runs them;
- ``baseline count(*)``: the plainest indexed question over the same range (the orders created
  in it). Ratios are printed against it and, for the heatmap, against the detail query.

Goal (issue 13): p95 <= 100 ms. Run: ``.venv/bin/python bench/analytics.py [--orders N]
[--repeats N] [--pg]`` (``--pg``: the same on PostgreSQL in a private schema).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from engine.analytics.deviation import deviation_report
from engine.analytics.geo import geo_overview
from engine.analytics.hour_counts import count_changes
from engine.analytics.hourly import hourly_heatmap
from engine.analytics.ranges import DateRange
from engine.analytics.return_reasons import return_reasons
from engine.analytics.sql_time import local_hour, local_weekday
from engine.fulfillment.presale import presale_plan
from engine.logs import configure_logging
from engine.orders.model import Order

_spec = importlib.util.spec_from_file_location("bench_alerts", ROOT / "bench" / "alerts.py")
assert _spec is not None and _spec.loader is not None
bench_alerts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_alerts)
Store, START, END, SPAN_DAYS, PG_URL, _ts = (bench_alerts.Store, bench_alerts.START, bench_alerts.END,
                                             bench_alerts.SPAN_DAYS, bench_alerts.PG_URL, bench_alerts._ts)
REASONS = ("面料起球", "尺码偏差", "色差", "做工瑕疵", "与描述不符", "物流破损", "七天无理由", "拍错/不想要")


def add_returns_and_presale(store: Any, n: int, seed: int = 3) -> tuple[int, int]:
    """Refund tickets for one order in 20, presale ship-by dates for one in 50 (bulk)."""
    rnd = random.Random(seed)
    sqlite = store.sqlite
    sql = store._sql
    inst_sql = sql("INSERT INTO workflow_instances (id, machine, ruleset, ruleset_version, state, data, version, "
                   "order_id, closed, created_by, created_at, updated_at, state_entered_at) VALUES "
                   "(?, 'return_refund', 'aftersales_return_refund', 1, '待审核', ?, 1, ?, ?, 'platform', ?, ?, ?)")
    ticket_sql = sql("INSERT INTO order_tickets (order_pk, kind, refund_id, line_id, instance_id, machine, "
                     "platform_status, created_at) VALUES (?, 'refund', ?, '1', ?, 'return_refund', 'requested', ?)")
    tickets = presale = 0
    with store.services.db.engine.begin() as conn:
        rows = conn.execute(select(Order.id, Order.order_id, Order.created_at).where(
            (Order.id % 20 == 0) | (Order.id % 50 == 1))).all()
        instances, links, ship_by = [], [], []
        for r in rows:
            created = r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC)
            if r.id % 20 == 0:
                at = created + timedelta(hours=rnd.randrange(2, 24 * 14))
                ts = _ts(at, sqlite)
                data = json.dumps({"order_id": r.order_id, "reason": rnd.choice(REASONS), "refund_amount": 3900},
                                  ensure_ascii=False)
                instances.append((r.id, data, r.order_id, False, ts, ts, ts))
                links.append((r.id, f"RF{r.id}", r.id, ts))
                tickets += 1
            if r.id % 50 == 1:
                ship_by.append((json.dumps(
                    (created + timedelta(days=rnd.randrange(3, 30))).astimezone(UTC).isoformat()), r.id))
                presale += 1
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cur.executemany(inst_sql, instances)
        cur.executemany(ticket_sql, links)
        setter = ("UPDATE orders SET doc = json_set(doc, '$.presale', json('true'), '$.presale_ship_by', json(?)) "
                  "WHERE id = ?") if sqlite else (
            "UPDATE orders SET doc = (doc::jsonb || jsonb_build_object('presale', true, 'presale_ship_by', "
            "%s::jsonb))::json WHERE id = %s")
        cur.executemany(setter, ship_by)
        cur.close()
        conn.exec_driver_sql("ANALYZE")
    return tickets, presale


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _hourly_detail(s: Any, r: DateRange) -> Any:
    dialect = s.get_bind().dialect.name
    wd, hr = local_weekday(Order.created_at, dialect), local_hour(Order.created_at, dialect)
    return s.execute(select(Order.channel, wd, hr, func.count()).where(
        Order.created_at >= r.start, Order.created_at < r.end, Order.dropped_by.is_(None))
        .group_by(Order.channel, wd, hr)).all()


def measure(store: Any, repeats: int) -> list[tuple[str, str, float, float, float, float]]:
    last = (END - timedelta(days=1)).astimezone(UTC).date()
    ranges = {"7d": DateRange(last - timedelta(days=6), last), "30d": DateRange(last - timedelta(days=29), last),
              "365d": DateRange(START.date() + timedelta(days=1), last)}
    queries: dict[str, Callable[[Any, DateRange], Any]] = {
        "baseline count(*)": lambda s, r: s.scalar(select(func.count()).select_from(Order).where(
            Order.created_at >= r.start, Order.created_at < r.end)),
        "hourly": lambda s, r: hourly_heatmap(s, r, ()),
        "hourly, detail": _hourly_detail,
        "geo": lambda s, r: geo_overview(s, r, (), min_orders=10),
        "deviation": lambda s, r: deviation_report(s, r, (), threshold_s=7200, now=END, cursor=None, limit=50),
        "return reasons": lambda s, r: return_reasons(s, r, ()),
        "presale plan": lambda s, r: presale_plan(s, r, (), now=END),
    }
    out = []
    for rname, rng in ranges.items():
        for qname, run in queries.items():
            walls, cpus = [], []
            with store.services.db.session() as s:
                run(s, rng)  # warm
                for _ in range(repeats):
                    w, c = time.perf_counter(), time.process_time()
                    run(s, rng)
                    walls.append((time.perf_counter() - w) * 1000)
                    cpus.append((time.process_time() - c) * 1000)
            out.append((rname, qname, statistics.median(walls), _p(walls, 0.95), statistics.median(cpus),
                        _p(cpus, 0.95)))
    return out


def run(url: str, label: str, n: int, repeats: int) -> None:
    print(f"{label}:")
    store = Store(url, label)
    try:
        took = store.fill(n)
        print(f"  filled {n:,} orders in {took:.1f}s")
        started = time.perf_counter()
        tickets, presale = add_returns_and_presale(store, n)
        print(f"  added {tickets:,} refund tickets and {presale:,} presale ship-by dates in "
              f"{time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        counted = count_changes(store.services.db, END + timedelta(days=1), max_batches=10**6)
        took = time.perf_counter() - started
        print(f"  hourly counters filled from nothing: {counted:,} orders in {took:.1f}s ({counted / took:,.0f}/s)")
        figures = measure(store, repeats)
        base = {r: p95 for r, q, _, p95, _, _ in figures if q == "baseline count(*)"}
        detail = {r: p95 for r, q, _, p95, _, _ in figures if q == "hourly, detail"}
        print(f"  over {n:,} orders ({repeats} runs each; ms)       p50     p95  cpu p50  cpu p95  p95/count(*)")
        worst = 0.0
        for rname, qname, p50, p95, c50, c95 in figures:
            extra = f"  {p95 / base[rname]:>6.2f}x"
            if qname == "hourly":
                extra += f"  ({p95 / detail[rname]:.3f}x the detail query)"
            if qname not in ("baseline count(*)", "hourly, detail"):
                worst = max(worst, p95)
            print(f"    {qname + ' ' + rname:<30} {p50:>7.1f} {p95:>7.1f} {c50:>8.1f} {c95:>8.1f}{extra}")
        print(f"  goal p95 <= 100 ms for every analytics query: {'met' if worst <= 100 else 'NOT met'} "
              f"(worst p95 {worst:.1f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    finally:
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL (a private schema)")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{tmp}/bench_analytics.db", "SQLite (file, WAL)", args.orders, args.repeats)
    if args.pg:
        from tests.support.backends import PostgresSchema

        schema = PostgresSchema(PG_URL)
        try:
            run(schema.create(), "PostgreSQL (loopback)", args.orders, args.repeats)
        finally:
            schema.drop()
    print(f"  (cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end; {date.today()})")


if __name__ == "__main__":
    main()
