"""Order pipeline speed: orders carried from stored to the end of their stages per second, against
the sum of the stages' costs measured alone, in the same run.

The stages are those of ``engine/orders/pipeline_stages.py`` (risk, price, reserve, ticket),
with the standard templates published (``risk_standard``'s three risk rules, the festival
promotion with its price check, the order lifecycle machine and its ``follow`` binding, the
after-sales machines), so each stage does its real work; ``--no-rules`` publishes nothing (the
price and ticket stages then only say there is nothing to do). Orders are normalized two-line orders of
three SKUs with ample stock, stored through the store (pages of 200, not timed). Per chunk of
``--chunk`` orders, turn by turn so both meet the same load on a shared machine:

- **pipeline**: the driver (``Pipeline.run_due``, batches of ``--batch`` orders per
  transaction: claim, every stage, timeline entries, pipeline rows, one commit);
- **one order at a time**: the same driver without its batch scopes (every ticket written by
  its own statements, the published versions read per stage), as before tickets were written
  together;
- **stages alone**: each stage by itself over another chunk of the same orders, one
  transaction per ``--batch`` orders that reads them (one query, as the driver's claim does)
  and runs the stage on each (its own commit), nothing recorded, with the batch scopes the
  driver gives its stages (``pipeline_stages.BATCH_SCOPES``: one read of what is published, the
  ticket stage's rows written together) — the sum over the stages is the baseline.

Printed per back end: orders/s (wall clock and per CPU-second of this process), the stages'
sum, and the ratio pipeline/sum (the driver's overhead; goal <= 1.5x), and the goal >= 500
orders/s on SQLite in one process. PostgreSQL (a private schema) and Redis (the inventory gate,
mirrored after each commit) when reachable. Logging is on (JSON to /dev/null), as in production.
Run: ``.venv/bin/python bench/pipeline.py [--orders N] [--batch B] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, update

from engine.clock import SystemClock
from engine.config import Settings
from engine.logs import configure_logging
from engine.orders import pipeline_stages, store
from engine.orders.model import Order
from engine.orders.pipeline import Pipeline
from engine.orders.pipeline_model import OrderPipeline
from engine.orders.stages import OrderRef
from engine.services import Services
from engine.storage.migrate import upgrade

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
T0 = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
SKUS = ("BENCH-TEE-M", "BENCH-SCARF", "BENCH-CAP")


def orders(prefix: str, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        a, b = SKUS[i % 3], SKUS[(i + 1) % 3]
        # the order id's own phone, so chunks of orders (prefixes C0-, C200- …) do not repeat buyers
        phone = f"139{zlib.crc32(f'{prefix}{i}'.encode()) % 10**8:08d}"
        out.append({
            "order_id": f"{prefix}{i:08d}", "channel": "douyin", "shop": "抖店", "status": "awaiting_shipment",
            "created_at": T0, "paid_at": T0 + timedelta(minutes=1), "updated_at": T0 + timedelta(minutes=2),
            "buyer_phone": phone,  # one buyer each, as on a festival day (the risk windows stay small)
            "receiver": {"name": "李四", "phone": phone, "province": "浙江省", "city": "杭州市",
                         "district": "西湖区", "address": "浙江省杭州市西湖区文三路90号"},
            "lines": [{"line_id": "1", "sku_id": a, "title": a, "qty": 1, "unit_price": 9900, "amount": 9900},
                      {"line_id": "2", "sku_id": b, "title": b, "qty": 2, "unit_price": 4900, "amount": 9800}],
            "freight": 0, "payment": {"method": "alipay", "paid_amount": 19700},
        })
    return out


RULES = ("risk_standard", "promotion_apparel_festival", "order_lifecycle", "order_presale",
         "aftersales_refund_only", "aftersales_return_refund")


def publish_rules(services: Services) -> None:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction(immediate=True) as s:
        for name in RULES:
            import_template(s, name, actor="bench", now=services.clock.now())
            rulesets.publish(s, name, actor="bench", now=services.clock.now(), note="bench")


def put(services: Services, batch: list[dict[str, Any]]) -> list[int]:
    pks = []
    for i in range(0, len(batch), 200):
        items = [store.Incoming(o, "douyin", "pull", None, "bench") for o in batch[i:i + 200]]
        pks += [s.order_pk for s in store.store_orders(services.db, items, now=services.clock.now())]
    return pks


def load_refs(session: Any, pks: list[int]) -> list[OrderRef]:
    """The batch's orders as stages see them, in one query (as the driver's claim reads them)."""
    rows = session.execute(select(Order.id, Order.channel, Order.order_id, Order.revision, Order.status,
                                  Order.source, Order.doc, Order.tags).where(Order.id.in_(pks))).all()
    return [OrderRef(pk=r.id, channel=r.channel, order_id=r.order_id, revision=r.revision, status=r.status,
                     source=r.source, doc=r.doc or {}, tags=tuple(r.tags or ())) for r in rows]


def stages_alone(services: Services, pks: list[int], batch: int) -> tuple[dict[str, float], dict[str, float]]:
    """Each stage by itself over ``pks``: per ``batch`` orders one transaction that reads them
    (one query) and runs the stage on each; seconds and CPU-seconds per stage."""
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for name, stage in pipeline_stages.STAGES:
        start, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(pks), batch):
            with services.db.transaction(immediate=True) as session:
                now = services.clock.now()
                part = pks[i:i + batch]
                scopes = [begin(session, services, part) for begin in pipeline_stages.BATCH_SCOPES]
                for ref in load_refs(session, part):
                    stage(session, services, ref, now)
                for scope in scopes:
                    scope.write(session)
                    scope.close(session)
        wall[name] = time.perf_counter() - start
        cpu[name] = time.process_time() - c0
    return wall, cpu


def run(url: str, label: str, n: int, chunk: int, batch: int, redis_url: str | None,
        rules: bool = True) -> dict[str, float]:
    prefix = f"op:bench:{uuid.uuid4().hex[:8]}:"
    services = Services.build(Settings(database_url=url, redis_url=redis_url, redis_prefix=prefix,
                                       secret_key="bench"), clock=SystemClock())
    try:
        upgrade(services.db)
        if rules:
            publish_rules(services)
        for sku in SKUS:
            services.inventory.adjust(sku, 10_000_000, "bench")
        if services.inventory.gate is not None:
            services.inventory.ensure_gate()
        pipeline = Pipeline(services, batch=batch)
        one_by_one = Pipeline(services, batch=batch, batch_scopes=[])
        warm = put(services, orders("W", 50))
        pipeline.run_due()
        del warm
        alone = {name: 0.0 for name, _ in pipeline_stages.STAGES}
        alone_cpu = dict(alone)
        piped = piped_cpu = single = single_cpu = 0.0
        moved = 0
        for c in range(0, n, chunk):
            size = min(chunk, n - c)
            base = put(services, orders(f"S{c}-", size))
            with services.db.transaction() as s:  # the baseline's orders are not the pipeline's work
                s.execute(update(OrderPipeline).where(OrderPipeline.order_pk.in_(base)).values(status="done"))
            wall, cpu = stages_alone(services, base, batch)
            for name in alone:
                alone[name] += wall[name]
                alone_cpu[name] += cpu[name]
            put(services, orders(f"P{c}-", size))
            start, c0 = time.perf_counter(), time.process_time()
            moved += pipeline.run_due(limit=size)
            piped += time.perf_counter() - start
            piped_cpu += time.process_time() - c0
            put(services, orders(f"O{c}-", size))
            start, c0 = time.perf_counter(), time.process_time()
            moved_single = one_by_one.run_due(limit=size)
            single += time.perf_counter() - start
            single_cpu += time.process_time() - c0
            assert moved_single == size, (moved_single, size)
        assert moved == n, (moved, n)
    finally:
        if services.redis is not None:
            keys = list(services.redis.scan_iter(f"{prefix}*"))
            if keys:
                services.redis.delete(*keys)
        services.db.dispose()
    total, total_cpu = sum(alone.values()), sum(alone_cpu.values())
    print(f"{label}:")
    print(f"  pipeline, stored → {pipeline_stages.STAGES[-1][0]}  {n / piped:>9,.0f} orders/s   "
          f"({n} orders, batches of {batch}; {n / piped_cpu:,.0f}/s per CPU-second)")
    print(f"  one order at a time (no batch scopes)  {n / single:>9,.0f} orders/s   "
          f"({n / single_cpu:,.0f}/s per CPU-second); batched / one at a time {single / piped:.2f}x wall, "
          f"{single_cpu / piped_cpu:.2f}x CPU")
    for name in alone:
        print(f"    stage {name:<10} alone           {n / alone[name]:>9,.0f} orders/s   "
              f"({n / alone_cpu[name]:,.0f}/s per CPU-second)")
    print(f"  sum of the stages alone                {n / total:>9,.0f} orders/s   "
          f"({n / total_cpu:,.0f}/s per CPU-second)")
    print(f"  overhead pipeline / sum of stages      {piped / total:>9.2f}x wall, {piped_cpu / total_cpu:.2f}x CPU")
    return {"rate": n / piped, "rate_cpu": n / piped_cpu, "ratio": piped / total, "ratio_cpu": piped_cpu / total_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=4_000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI smoke run)")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-rules", action="store_true", help="publish no rules (stages with nothing to do)")
    args = parser.parse_args()
    n = 600 if args.quick else args.orders
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115
    stages = " → ".join(name for name, _ in pipeline_stages.STAGES)
    print(f"stages: {stages}")
    with tempfile.TemporaryDirectory() as tmp:
        lite = run(f"sqlite:///{tmp}/bench.db", "SQLite (file, WAL), one process", n, args.chunk, args.batch, None,
                   not args.no_rules)
    met = lambda rate, ratio: "met" if rate >= 500 and ratio <= 1.5 else "NOT met"  # noqa: E731
    print(f"  goal >= 500 orders/s and overhead <= 1.5x: wall clock {met(lite['rate'], lite['ratio'])}, per "
          f"CPU-second {met(lite['rate_cpu'], lite['ratio_cpu'])} (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)")
    if not args.no_pg:
        try:
            from tests.support.backends import PostgresSchema

            schema = PostgresSchema(PG_URL)
            url = schema.create()
        except Exception as exc:  # noqa: BLE001
            print(f"PostgreSQL not reachable ({exc.__class__.__name__}), skipped")
        else:
            redis_url: str | None = REDIS_URL
            try:
                import redis

                redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
            except Exception:  # noqa: BLE001
                redis_url = None
            try:
                run(url, f"PostgreSQL (loopback){' + Redis gate' if redis_url else ''}", n, args.chunk, args.batch,
                    redis_url, not args.no_rules)
            finally:
                schema.drop()
    print(f"  (cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end)")


if __name__ == "__main__":
    main()
