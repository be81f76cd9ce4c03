"""The alerts' cost in the order pipeline, against a baseline in the same run (a section of
``bench/alerts.py``; runnable alone too).

Two databases side by side, fed turn by turn with the same chunks of orders so both meet the
same load on a shared machine:

- **off**: the pipeline's other templates (festival promotion, order lifecycle, presale,
  after-sales) published, neither ``risk_standard`` nor ``alerts_standard``: ``Pipeline.run_due``
  over the chunk;
- **on**: the same plus ``risk_standard`` and ``alerts_standard``: ``Pipeline.run_due`` over the
  chunk, then the alerts' run (:func:`engine.alerts.service.run_alerts`: the chunk's orders
  and ticket transitions counted into the measures, every alert evaluated) — what a worker does
  for each chunk when it is woken.

Printed: orders/s off and on, the ratio on/off (goal >= 0.8x), and the counter update's cost
per event (the alerts' run divided by the rows it read) against reading the same rows alone
(the consumer's select without counting) as a ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import SKUS, orders, put  # noqa: E402
from engine.alerts.counters import SOURCES, _rows  # noqa: E402
from engine.alerts.service import run_alerts  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.logs import configure_logging  # noqa: E402
from engine.orders.pipeline import Pipeline  # noqa: E402
from engine.services import Services  # noqa: E402
from engine.storage.migrate import upgrade  # noqa: E402

OTHER = ("promotion_apparel_festival", "order_lifecycle", "order_presale", "aftersales_refund_only",
         "aftersales_return_refund")
WITH_ALERTS = ("risk_standard", *OTHER, "alerts_standard")


def _services(url: str, templates: tuple[str, ...]) -> Services:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    services = Services.build(Settings(database_url=url, secret_key="bench"), clock=SystemClock())
    upgrade(services.db)
    with services.db.transaction(immediate=True) as s:
        for name in templates:
            import_template(s, name, actor="bench", now=services.clock.now())
            rulesets.publish(s, name, actor="bench", now=services.clock.now(), note="bench")
    for sku in SKUS:
        services.inventory.adjust(sku, 10_000_000, "bench")
    return services


def _read_alone(services: Services, since: dict[str, int]) -> tuple[float, int]:
    """Read the rows past ``since`` of every source as the consumer does, counting nothing."""
    start = time.perf_counter()
    rows = 0
    with services.db.session() as s:
        conn = s.connection()
        for source in SOURCES:
            after = since[source]
            while True:
                got = _rows(conn, source, after=after)
                if not got:
                    break
                rows += len(got)
                after = got[-1].id
    return time.perf_counter() - start, rows


def _tops(services: Services) -> dict[str, int]:
    from sqlalchemy import func, select

    from engine.alerts.counters import _ORD, _SHP, _TIX, _TRN

    tables = {"orders": _ORD, "returns": _TIX, "tickets": _TRN, "shipments": _SHP}
    with services.db.session() as s:
        return {source: s.scalar(select(func.coalesce(func.max(tables[source].c.id), 0))) for source in SOURCES}


def run(url_off: str, url_on: str, label: str, n: int, chunk: int, batch: int) -> dict[str, float]:
    off, on = _services(url_off, OTHER), _services(url_on, WITH_ALERTS)
    try:
        p_off, p_on = Pipeline(off, batch=batch), Pipeline(on, batch=batch)
        for services, pipeline in ((off, p_off), (on, p_on)):  # warm: caches, statements, the back-fill
            put(services, orders("W", 50))
            pipeline.run_due()
        run_alerts(on)
        t_off = t_on = t_alerts = t_read = 0.0
        events = read_rows = 0
        for c in range(0, n, chunk):
            size = min(chunk, n - c)
            put(off, orders(f"C{c}-", size))
            start = time.perf_counter()
            assert p_off.run_due(limit=size) == size
            t_off += time.perf_counter() - start

            put(on, orders(f"C{c}-", size))
            before = _tops(on)
            start = time.perf_counter()
            assert p_on.run_due(limit=size) == size
            middle = time.perf_counter()
            result = run_alerts(on)
            end = time.perf_counter()
            t_on += end - start
            t_alerts += end - middle
            events += result.rows_read
            took, rows = _read_alone(on, before)
            t_read += took
            read_rows += rows
    finally:
        off.db.dispose()
        on.db.dispose()
    rate_off, rate_on = n / t_off, n / t_on
    per_event, per_read = t_alerts / max(events, 1) * 1e6, t_read / max(read_rows, 1) * 1e6
    print(f"{label}: pipeline with risk_standard + alerts_standard on vs off ({n} orders, chunks of {chunk})")
    print(f"  off {rate_off:>8,.0f} orders/s   on {rate_on:>8,.0f} orders/s (pipeline + alerts' run)   "
          f"ratio on/off {rate_on / rate_off:.2f}x  (goal >= 0.8x: {'met' if rate_on / rate_off >= 0.8 else 'NOT met'})")
    print(f"  counter update per event {per_event:>8.1f} µs ({events} events: orders and ticket transitions, "
          f"alerts evaluated each run)   reading the same rows alone {per_read:.1f} µs   ratio {per_event / per_read:.2f}x")
    return {"ratio": rate_on / rate_off, "per_event_us": per_event}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--pg", action="store_true", help="also on PostgreSQL (private schemas)")
    args = parser.parse_args()
    section(args.orders, args.chunk, args.batch, args.pg)


def section(n: int, chunk: int, batch: int, pg: bool) -> None:
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115
    with tempfile.TemporaryDirectory() as tmp:
        run(f"sqlite:///{tmp}/off.db", f"sqlite:///{tmp}/on.db", "SQLite (file, WAL)", n, chunk, batch)
    if pg:
        from tests.support.backends import PostgresSchema

        url = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
        schemas = [PostgresSchema(url), PostgresSchema(url)]
        try:
            off_url, on_url = (schema.create() for schema in schemas)
            run(off_url, on_url, "PostgreSQL (loopback)", n, chunk, batch)
        finally:
            for schema in schemas:
                schema.drop()
    print(f"  (cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
