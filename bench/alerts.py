"""Risk rules and analytics over a large order store, each against a baseline in the same run.

Stores are generated fast with bulk inserts straight into the tables (orders with their
normalized documents, lines, and the risk keys the risk stage writes), spread over a year,
phones and devices drawn from pools so a buyer has a few orders, districts drawn (skewed) from
the real division table, promised ship times a day after creation, a fifth of the orders
shipped by the platform. The ``risk_standard`` template (three rules over two dimensions:
buyer_phone and customer.device_id) is published through the rulesets service.

1. Risk evaluation cost per order, at ``--small`` (10k) and ``--orders`` (1M) stored orders:
   ``--probes`` new orders (stored untimed, some of them a scalper's fifth order) each run
   through the risk stage's work (:func:`engine.risk.stage.run_risk_rules`: write its keys,
   read each key's window, decide, store a flag) in its own transaction, as the pipeline runs it.
   Baseline, measured order by order in the same loop: reading the order the stage is given
   (:func:`engine.orders.stages.load_ref`, one primary-key read). Printed per order, per rule
   (3 rules), the ratio to the baseline, and large/small (flat as the store grows: ~1.0x).
   Goal: <= 0.2 ms per order per rule at 1M.
2. Analytics over the large store, once its counters are derived (:func:`derive_counters`: what
   a running OrderPulse keeps as orders arrive): the heatmap, the map (with growth) and the
   deviation for a 7-day, a 30-day and the whole-year range, each repeated; p50/p95 per query.
   Baseline: the plainest indexed question over the same range (``count(*)`` of the range's
   orders). Goal: p95 <= 100 ms. Every analytics endpoint, over HTTP: ``bench/analytics.py``.

3. The alerts in the pipeline (``bench/alerts_pipeline.py``): orders/s with ``risk_standard`` and
   ``alerts_standard`` on vs off (goal >= 0.8x) and the counter update's cost per event against
   reading the same rows alone; ``--alert-orders N`` (0 skips it), ``--only-alerts``.

Wall and per-CPU-second figures (``time.process_time`` of this process: the database is in
process for SQLite). Run: ``.venv/bin/python bench/alerts.py [--orders N] [--small N]
[--probes N] [--pg]`` (``--pg``: the same on PostgreSQL in a private schema; slower to fill).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from engine.analytics.deviation import deviation_report
from engine.analytics.geo import centroids, geo_overview
from engine.analytics.hourly import hourly_heatmap
from engine.analytics.ranges import DateRange
from engine.clock import ManualClock
from engine.config import Settings
from engine.logs import configure_logging
from engine.orders.model import Order
from engine.orders.stages import load_ref
from engine.risk.published import published_risk_rules
from engine.risk.stage import run_risk_rules
from engine.services import Services
from engine.storage.migrate import upgrade

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
START = datetime(2025, 12, 1, tzinfo=UTC)
SPAN_DAYS = 365
END = START + timedelta(days=SPAN_DAYS)
CHANNELS = ("douyin", "taobao", "pdd", "kuaishou", "xiaohongshu", "miniprogram")
METHODS = ("alipay", "wechat", "unionpay", "credit_card")
SKUS = [("TEA-COLD", "冷泡茶包", 3900), ("JAR-GLASS", "玻璃冷萃瓶", 5900), ("TEA-GREEN", "明前龙井", 12800),
        ("CUP-TRAVEL", "便携茶杯", 4900), ("TEA-BLACK", "正山小种", 9800)]


def analyze(conn: Any) -> None:
    """Fresh planner statistics for the bench's own tables (on PostgreSQL only its schema's: a bare
    ANALYZE would walk, and lock, every schema of the shared database)."""
    if conn.dialect.name != "postgresql":
        conn.exec_driver_sql("ANALYZE")
        return
    for (name,) in conn.exec_driver_sql("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"):
        conn.exec_driver_sql(f'ANALYZE "{name}"')


def derive_counters(store: Any) -> None:
    """The analytics counters a running OrderPulse keeps as orders arrive, derived for a store the
    bench filled in bulk the way the migrations back-fill them (deviation, presale, return
    reasons) and the hourly consumer catches up (hourly and district counters), each step timed
    and printed; on PostgreSQL the analytics tables VACUUMed after, as autovacuum would."""
    from engine.analytics.deviation_counts import DEFAULT_THRESHOLD_S, rebuild
    from engine.analytics.hour_counts import count_changes
    from engine.analytics.return_reason_counts import rebuild as rebuild_reasons
    from engine.fulfillment.presale_counts import rebuild as rebuild_presale

    steps: list[tuple[str, str, Callable[[Any], int]]] = [
        ("deviation counters derived from the orders", "orders", lambda conn: rebuild(conn, DEFAULT_THRESHOLD_S)),
        ("presale counters derived from the orders", "orders", rebuild_presale),
        ("return-reason counters derived from the refund tickets", "tickets", rebuild_reasons)]
    for label, unit, step in steps:
        started = time.perf_counter()
        with store.services.db.engine.begin() as conn:
            analyze(conn)
            counted = step(conn)
            analyze(conn)
        print(f"  {label} (the migration's back-fill): {counted:,} {unit} in {time.perf_counter() - started:.1f}s")
    started = time.perf_counter()
    counted = count_changes(store.services.db, END + timedelta(days=1), max_batches=10**6)
    took = time.perf_counter() - started
    print(f"  hourly and district counters filled from nothing: {counted:,} orders in {took:.1f}s "
          f"({counted / max(took, 1e-9):,.0f}/s)")
    if store.sqlite:
        return
    started = time.perf_counter()  # what autovacuum does after a bulk change: pages all-visible, index-only scans
    with store.services.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for (name,) in conn.exec_driver_sql("SELECT tablename FROM pg_tables WHERE schemaname = "
                                            "current_schema() AND left(tablename, 10) = 'analytics_'").all():
            conn.exec_driver_sql(f'VACUUM ANALYZE "{name}"')
    print(f"  VACUUM ANALYZE of the analytics tables in {time.perf_counter() - started:.1f}s")


def _ts(value: datetime, sqlite: bool) -> Any:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ") if sqlite else value


def _doc(oid: str, channel: str, at: datetime, phone: str, device: str, place: Any, method: str,
         promised: datetime, shipped: datetime | None, lines: list[tuple[str, str, int]]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "order_id": oid, "channel": channel, "status": "shipped" if shipped else "awaiting_shipment",
        "created_at": at.isoformat(), "updated_at": at.isoformat(), "paid_at": at.isoformat(),
        "promised_ship_at": promised.isoformat(), "buyer_phone": phone,
        "customer": {"id": "C" + phone[-6:], "device_id": device},
        "receiver": {"province": place.province, "city": place.city, "district": place.district,
                     "adcode": place.adcode, "lat": place.lat, "lng": place.lng},
        "lines": [{"line_id": str(i + 1), "sku_id": s, "title": t, "qty": 1, "unit_price": p, "amount": p}
                  for i, (s, t, p) in enumerate(lines)],
        "payment": {"method": method, "paid_amount": sum(p for _, _, p in lines)}}
    if shipped:
        doc["shipped_at"] = shipped.isoformat()
    return doc


class Store:
    """A migrated database filled with generated orders."""

    def __init__(self, url: str, label: str) -> None:
        self.url, self.label = url, label
        self.clock = ManualClock(END)
        settings = Settings(database_url=url, secret_key="bench", testing=True)
        self.services = Services.build(settings, clock=self.clock)
        upgrade(self.services.db)
        self.sqlite = self.services.db.is_sqlite
        self.next_id = 1
        places = sorted(centroids().values(), key=lambda c: c.adcode)
        rnd = random.Random(7)
        # a few hundred busy districts and a long tail
        self.places = [p for p in places if p.district]
        self.weights = [rnd.paretovariate(1.2) for _ in self.places]
        by_city = {p.city: p for p in self.places}
        self.burst_places = [by_city[c] for c in ("杭州市", "南京市", "成都市")]

    def publish_risk(self) -> None:
        from engine.rulesets import service as rulesets
        from engine.templates import import_template

        with self.services.db.transaction(immediate=True) as s:
            import_template(s, "risk_standard", actor="bench", now=self.clock.now())
            rulesets.publish(s, "risk_standard", actor="bench", now=self.clock.now(), note="bench")
        # every order generated below gets its keys as it is inserted: keys complete for all time
        with self.services.db.engine.begin() as conn:
            for dim in ("buyer_phone", "customer.device_id"):
                conn.exec_driver_sql(self._sql("INSERT INTO risk_dimensions (dimension, covered_from, filled_at, "
                                               "filled_orders) VALUES (?, NULL, ?, 0)"),
                                     (dim, _ts(self.clock.now(), self.sqlite)))

    def _sql(self, text: str) -> str:
        return text if self.sqlite else text.replace("?", "%s")

    def fill(self, n: int, *, seed: int = 1, batch: int = 20_000) -> float:
        """Insert ``n`` orders (with lines and risk keys); seconds taken."""
        rnd = random.Random(seed)
        phones = [f"13{rnd.randrange(10**9):09d}" for _ in range(max(n // 3, 1))]
        devices = [f"dev-{rnd.randrange(16**10):010x}" for _ in range(max(n // 3, 1))]
        started = time.perf_counter()
        order_sql = self._sql(
            "INSERT INTO orders (id, channel, order_id, shop, status, created_at, updated_at, paid_at, "
            "promised_ship_at, buyer_phone, phone_tail, province, city, district, adcode, total, freight, tags, doc, "
            "revision, source, via, stored_at, changed_at) VALUES "
            "(?, ?, ?, '旗舰店', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '[]', ?, 1, ?, 'pull', ?, ?)")
        line_sql = self._sql("INSERT INTO order_lines (order_pk, line_no, line_id, sku_id, title, qty, unit_price, "
                             "amount) VALUES (?, ?, ?, ?, ?, 1, ?, ?)")
        key_sql = self._sql("INSERT INTO risk_keys (order_pk, dimension, value, at) VALUES (?, ?, ?, ?)")
        done = 0
        while done < n:
            size = min(batch, n - done)
            picks = rnd.choices(self.places, self.weights, k=size)
            orders, lines, keys = [], [], []
            for i in range(size):
                pk = self.next_id
                self.next_id += 1
                at = START + timedelta(seconds=rnd.randrange(SPAN_DAYS * 86400))
                channel = CHANNELS[pk % 6]
                phone, device, place = rnd.choice(phones), rnd.choice(devices), picks[i]
                promised = at + timedelta(hours=24)
                shipped = promised + timedelta(minutes=rnd.randrange(-600, 300)) if pk % 5 == 0 else None
                bought = rnd.sample(SKUS, rnd.choice((1, 1, 2)))
                oid = f"B{pk}"
                doc = _doc(oid, channel, at, phone, device, place, rnd.choice(METHODS), promised, shipped,
                           [(s, t, p) for s, t, p in bought])
                ts = _ts(at, self.sqlite)
                orders.append((pk, channel, oid, doc["status"], ts, ts, ts, _ts(promised, self.sqlite), phone,
                               phone[-4:], place.province, place.city, place.district, place.adcode,
                               sum(p for _, _, p in bought), json.dumps(doc, ensure_ascii=False), channel, ts, ts))
                for no, (s, t, p) in enumerate(bought):
                    lines.append((pk, no, str(no + 1), s, t, p, p))
                keys.append((pk, "buyer_phone", phone, ts))
                keys.append((pk, "customer.device_id", device, ts))
            with self.services.db.engine.begin() as conn:
                raw = conn.connection.driver_connection
                cur = raw.cursor()  # type: ignore[union-attr]
                cur.executemany(order_sql, orders)
                cur.executemany(line_sql, lines)
                cur.executemany(key_sql, keys)
                cur.close()
            done += size
        if not self.sqlite:
            with self.services.db.engine.begin() as conn:
                conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('orders', 'id'), %s)" % self.next_id)
                analyze(conn)
        else:
            with self.services.db.engine.begin() as conn:
                analyze(conn)
        return time.perf_counter() - started

    def probes(self, m: int, seed: int = 99) -> list[int]:
        """``m`` new orders at the end of the year: bursts of one phone (every 25th probe starts a
        5-order burst to 3 cities), the rest phones of the pool. Stored untimed."""
        rnd = random.Random(seed)
        phones = [f"13{rnd.randrange(10**9):09d}" for _ in range(m)]
        pks = []
        sql = self._sql(
            "INSERT INTO orders (id, channel, order_id, shop, status, created_at, updated_at, paid_at, "
            "promised_ship_at, buyer_phone, phone_tail, province, city, district, adcode, total, freight, tags, doc, "
            "revision, source, via, stored_at, changed_at) VALUES "
            "(?, ?, ?, '旗舰店', 'awaiting_shipment', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 3900, 0, '[]', ?, 1, ?, 'push', "
            "?, ?)")
        rows = []
        for i in range(m):
            pk = self.next_id
            self.next_id += 1
            burst = (i // 5) % 5 == 0
            phone = phones[i - i % 5] if burst else phones[i]
            at = END - timedelta(hours=2) + timedelta(seconds=i)
            place = self.burst_places[i % 3] if burst else self.places[rnd.randrange(len(self.places))]
            promised = at + timedelta(hours=24)
            doc = _doc(f"P{pk}", "douyin", at, phone, f"dev-p{i // 3}", place, METHODS[i % 4], promised, None,
                       [SKUS[0][:3]])
            ts = _ts(at, self.sqlite)
            rows.append((pk, "douyin", f"P{pk}", ts, ts, ts, _ts(promised, self.sqlite), phone, phone[-4:],
                         place.province, place.city, place.district, place.adcode,
                         json.dumps(doc, ensure_ascii=False), "douyin", ts, ts))
            pks.append(pk)
        with self.services.db.engine.begin() as conn:
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cur.executemany(sql, rows)
            cur.close()
        return pks

    def risk_cost(self, pks: list[int]) -> dict[str, float]:
        """Per order: the stage's work and the baseline (load_ref), wall and CPU seconds."""
        db = self.services.db
        with db.session() as s:
            rules = published_risk_rules(s)
        assert len(rules.rules) == 3
        stage_wall = stage_cpu = base_wall = base_cpu = 0.0
        held = 0
        for pk in pks:
            with db.transaction(immediate=True) as s:
                s.connection()  # BEGIN (IMMEDIATE on SQLite) is the pipeline's, not the stage's: untimed
                w, c = time.perf_counter(), time.process_time()
                ref = load_ref(s, pk)
                w2, c2 = time.perf_counter(), time.process_time()
                assert ref is not None
                notes = run_risk_rules(s, ref, self.clock.now(), rules)
                w3, c3 = time.perf_counter(), time.process_time()
            base_wall += w2 - w
            base_cpu += c2 - c
            stage_wall += w3 - w2
            stage_cpu += c3 - c2
            held += any(n.hold for n in notes)
        m = len(pks)
        return {"stage_ms": stage_wall / m * 1000, "stage_cpu_ms": stage_cpu / m * 1000,
                "base_ms": base_wall / m * 1000, "base_cpu_ms": base_cpu / m * 1000, "held": held}

    def dispose(self) -> None:
        self.services.db.dispose()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def analytics(store: Store, repeats: int) -> list[tuple[str, float, float, float, float]]:
    last = (END - timedelta(days=1)).astimezone(UTC).date()
    ranges = {"7d": DateRange(last - timedelta(days=6), last), "30d": DateRange(last - timedelta(days=29), last),
              "365d": DateRange(START.date() + timedelta(days=1), last)}
    db = store.services.db
    queries: dict[str, Callable[[Any, DateRange], Any]] = {
        "hourly": lambda s, r: hourly_heatmap(s, r, ()),
        "geo": lambda s, r: geo_overview(s, r, (), min_orders=10),
        "deviation": lambda s, r: deviation_report(s, r, (), threshold_s=7200, now=END, cursor=None, limit=50),
        "baseline count(*)": lambda s, r: s.scalar(select(func.count()).select_from(Order).where(
            Order.created_at >= r.start, Order.created_at < r.end)),
    }
    out = []
    for rname, rng in ranges.items():
        for qname, run in queries.items():
            walls, cpus = [], []
            with db.session() as s:
                run(s, rng)  # warm
                for _ in range(repeats):
                    w, c = time.perf_counter(), time.process_time()
                    run(s, rng)
                    walls.append((time.perf_counter() - w) * 1000)
                    cpus.append((time.process_time() - c) * 1000)
            out.append((f"{qname} {rname}", statistics.median(walls), _p(walls, 0.95), statistics.median(cpus),
                        _p(cpus, 0.95)))
    return out


def run(url_for: Callable[[int], str], label: str, small: int, large: int, probes: int, repeats: int) -> None:
    print(f"{label}:")
    figures = {}
    for n in (small, large):
        store = Store(url_for(n), label)
        try:
            store.publish_risk()
            took = store.fill(n)
            print(f"  filled {n:,} orders in {took:.1f}s ({n / took:,.0f}/s, bulk insert with lines and risk keys)")
            pks = store.probes(probes)
            store.risk_cost(pks[: min(200, len(pks))])  # warm (caches, statements); counted orders differ
            figures[n] = store.risk_cost(pks[min(200, len(pks)):])
            f = figures[n]
            print(f"  risk stage at {n:>9,} stored: {f['stage_ms']:.3f} ms/order = {f['stage_ms'] / 3:.3f} ms/order/rule "
                  f"(CPU {f['stage_cpu_ms'] / 3:.3f}); baseline load_ref {f['base_ms']:.3f} ms (CPU {f['base_cpu_ms']:.3f}) "
                  f"(ratio {f['stage_ms'] / f['base_ms']:.2f}x); held {f['held']}")
            if n == large:
                derive_counters(store)  # what a running OrderPulse keeps as the orders arrive
                print(f"  analytics over {n:,} orders ({repeats} runs each; ms)   p50    p95   cpu p50  cpu p95")
                timed = analytics(store, repeats)
                for name, p50, p95, c50, c95 in timed:
                    print(f"    {name:<28} {p50:>7.1f} {p95:>7.1f} {c50:>8.1f} {c95:>8.1f}")
                worst = max((t for t in timed if not t[0].startswith("baseline")), key=lambda t: t[2])
                print(f"  goal p95 <= 100 ms for the analytics: {'met' if worst[2] <= 100 else 'NOT met'} (worst "
                      f"{worst[0]} p95 {worst[2]:.1f} ms; every endpoint: bench/analytics.py)")
        finally:
            store.dispose()
    s, lg = figures[small], figures[large]
    per_rule = lg["stage_ms"] / 3
    print(f"  flatness: {large:,} vs {small:,} stored {lg['stage_ms'] / s['stage_ms']:.2f}x wall, "
          f"{lg['stage_cpu_ms'] / s['stage_cpu_ms']:.2f}x CPU")
    print(f"  goal <= 0.2 ms per order per rule at {large:,}: {'met' if per_rule <= 0.2 else 'NOT met'} "
          f"(wall {per_rule:.3f} ms, CPU {lg['stage_cpu_ms'] / 3:.3f} ms; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--probes", type=int, default=2_200)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL (a private schema)")
    parser.add_argument("--alert-orders", type=int, default=2000,
                        help="orders through the pipeline with the alerts on and off (0: skip that section)")
    parser.add_argument("--only-alerts", action="store_true", help="only the alerts' pipeline section")
    args = parser.parse_args()
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115
    if args.alert_orders:
        from bench.alerts_pipeline import section

        section(args.alert_orders, 200, 100, args.pg)
    if args.only_alerts:
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(lambda n: f"sqlite:///{tmp}/bench_{n}.db", "SQLite (file, WAL)", args.small, args.orders, args.probes,
            args.repeats)
    if args.pg:
        from tests.support.backends import PostgresSchema

        schemas = {n: PostgresSchema(PG_URL) for n in (args.small, args.orders)}
        try:
            urls = {n: schema.create() for n, schema in schemas.items()}
            run(urls.__getitem__, "PostgreSQL (loopback)", args.small, args.orders, args.probes, args.repeats)
        finally:
            for schema in schemas.values():
                schema.drop()
    print(f"  (cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end; {date.today()})")


if __name__ == "__main__":
    main()
