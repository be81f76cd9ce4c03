"""The price stage's cost per order, against ``quote_order`` alone, in the same run.

Orders (half PDD-like: two lines, a platform red packet, no per-line paid figure, so the stage
splits the discount; half own-channel mini-program orders that reach 满399赠丝巾, so the stage
adds a gift line) are stored first; the published promotion is the library's 女装节大促. Then,
page by page and taking turns so both meet the same load on a shared machine:

- the baseline: ``quote_order(plan, order)`` on the same orders (the pricing work alone: plan
  cached, audit log on, no database);
- the stage as the pipeline runs it: per order ``load_ref`` → ``price_stage`` → ``record``,
  ``--batch`` orders per transaction (the quote stored with its log, paid shares and gift
  lines written, the timeline note, the 价格异常 tag where due);
- the stage with one order per transaction (for information: what a pipeline that does not
  batch pays).

Wall-clock and per-CPU-second figures (the machine is shared). On SQLite (a file) and, when
reachable, PostgreSQL. Run: ``.venv/bin/python bench/order_pricing.py [--orders N] [--batch B]
[--quick] [--no-pg]``. The figure the pipeline's overhead is measured with is the stage's
cost per order (ms) and its ratio to ``quote_order``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.clock import SystemClock  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.logs import configure_logging  # noqa: E402
from engine.orders import store  # noqa: E402
from engine.orders.order_pricing import price_stage, published_promotion  # noqa: E402
from engine.orders.stages import load_ref, record  # noqa: E402
from engine.pricing import quote_order  # noqa: E402
from engine.services import Services  # noqa: E402
from engine.storage.migrate import upgrade  # noqa: E402

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
AT = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


def order(i: int) -> dict[str, Any]:
    """Order ``i``: even → a PDD-like two-line order, odd → a mini-program order with a gift."""
    at = AT + timedelta(seconds=i)
    base = {"order_id": f"B{i:09d}", "status": "awaiting_shipment", "created_at": at, "updated_at": at,
            "paid_at": at, "receiver": {"name": "王芳", "province": "浙江省", "city": "杭州市", "district": "西湖区"}}
    if i % 2 == 0:
        return {**base, "channel": "pdd", "freight": 800, "red_packet": 500,
                "payment": {"paid_amount": 33600 + 31700 - 2500 + 800},
                "lines": [{"line_id": f"{i}-1", "sku_id": "TEA-LJ-250", "qty": 2, "unit_price": 16800},
                          {"line_id": f"{i}-2", "sku_id": "SCARF-SILK", "qty": 1, "unit_price": 31700}]}
    return {**base, "channel": "miniprogram", "freight": 0, "customer": {"id": f"M{i}", "level": "金卡"},
            "payment": {"paid_amount": 63400 + 8990},
            "lines": [{"line_id": "1", "sku_id": "SCARF-SILK", "qty": 2, "unit_price": 31700, "paid_amount": 63400},
                      {"line_id": "2", "sku_id": "TSHIRT-W-M", "qty": 1, "unit_price": 8990, "paid_amount": 8990}]}


def build(url: str, n: int) -> tuple[Services, list[int], list[dict[str, Any]]]:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    services = Services.build(Settings(database_url=url, redis_url=None, secret_key="bench"), clock=SystemClock())
    upgrade(services.db)
    with services.db.transaction(immediate=True) as s:
        import_template(s, "promotion_apparel_festival", actor="bench", now=services.clock.now())
        rulesets.publish(s, "promotion_apparel_festival", actor="bench", now=services.clock.now(), note="bench")
    pks: list[int] = []
    docs: list[dict[str, Any]] = []
    for start in range(0, n, 500):
        items = [store.Incoming(order(i), "bench", "api") for i in range(start, min(n, start + 500))]
        for stored in store.store_orders(services.db, items, now=services.clock.now()):
            pks.append(stored.order_pk)
            assert stored.doc is not None
            docs.append(stored.doc)
    return services, pks, docs


def run(url: str, label: str, n: int, batch: int, singles: int) -> None:
    services, pks, docs = build(url, n)
    with services.db.session() as s:
        plan = published_promotion(s)
    assert plan is not None
    quote_wall = quote_cpu = stage_wall = stage_cpu = 0.0
    for start in range(0, n, batch):
        chunk = docs[start:start + batch]
        w, c = time.perf_counter(), time.process_time()
        for doc in chunk:
            quote_order(plan, doc)
        quote_wall += time.perf_counter() - w
        quote_cpu += time.process_time() - c
        w, c = time.perf_counter(), time.process_time()
        now = services.clock.now()
        with services.db.transaction(immediate=True) as s:
            for pk in pks[start:start + batch]:
                ref = load_ref(s, pk)
                assert ref is not None
                record(s, ref, price_stage(s, services, ref, now), actor="pipeline", now=now)
        stage_wall += time.perf_counter() - w
        stage_cpu += time.process_time() - c
    w, c = time.perf_counter(), time.process_time()
    for pk in pks[:singles]:
        now = services.clock.now()
        with services.db.transaction(immediate=True) as s:
            ref = load_ref(s, pk)
            assert ref is not None
            record(s, ref, price_stage(s, services, ref, now), actor="pipeline", now=now)
    single_wall, single_cpu = time.perf_counter() - w, time.process_time() - c
    services.db.dispose()
    print(f"{label}: {n:,} orders (half PDD-like split, half own-channel with a gift), batch {batch}")
    print(f"  quote_order alone                      {n / quote_wall:>9,.0f} orders/s "
          f"({1000 * quote_wall / n:.3f} ms/order; {n / quote_cpu:,.0f}/s per CPU-second)")
    print(f"  price stage, {batch} per transaction     {n / stage_wall:>9,.0f} orders/s "
          f"({1000 * stage_wall / n:.3f} ms/order; {n / stage_cpu:,.0f}/s per CPU-second)")
    print(f"  price stage, one per transaction       {singles / single_wall:>9,.0f} orders/s "
          f"({1000 * single_wall / singles:.3f} ms/order; {singles / single_cpu:,.0f}/s per CPU-second)")
    print(f"  stage / quote_order: {stage_wall / quote_wall:.2f}x wall clock, "
          f"{stage_cpu / quote_cpu:.2f}x per CPU-second (batched)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=4_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--singles", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI smoke run)")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    n, singles = (400, 100) if args.quick else (args.orders, args.singles)
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/bench.db", "SQLite (file, WAL)", n, args.batch, singles)
    if not args.no_pg:
        try:
            from tests.support.backends import PostgresSchema

            schema = PostgresSchema(PG_URL)
            url = schema.create()
        except Exception as exc:  # noqa: BLE001
            print(f"PostgreSQL not reachable ({exc.__class__.__name__}), skipped")
        else:
            try:
                run(url, "PostgreSQL (loopback)", n, args.batch, singles)
            finally:
                schema.drop()
    print(f"  (cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
