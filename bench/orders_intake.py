"""Order intake speed: orders stored per second from raw platform payloads (map + clean + store),
against a baseline of the same rows inserted directly, in the same run.

Payloads are the Douyin ``shop_order_detail`` sample of tests/orders/payloads, each given its
own order id; the rules are the ``sources_six_channels`` template, published (its ``douyin``
mapping and its cleaning, with the region resolver). Figures, on SQLite (a file) and, when
reachable, PostgreSQL (a private schema):

- intake, pages of ``--batch`` payloads per transaction (how pulls and imports store);
- intake, one payload per transaction (how a push stores);
- the baseline: the same orders, already mapped and cleaned, inserted straight into the four
  tables (order, lines, raw payload, timeline entry) with executemany, one transaction per page
  — what storing costs with no mapping, no cleaning and no version check; intake and baseline
  take turns page by page, so both meet the same load on a shared machine;
- a second intake of the same payloads (every one ``unchanged``: the version check alone).

Logging is on (JSON to /dev/null), as in production. Run:
``.venv/bin/python bench/orders_intake.py [--orders N] [--batch B] [--quick]``.
Goal: intake >= 2,000 orders/s on SQLite in one process, and >= 0.5x the direct insert.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert

from engine.clock import SystemClock
from engine.config import Settings
from engine.logs import configure_logging
from engine.orders import document
from engine.orders.intake import (
    intake_platform_order,
    intake_platform_orders,
    map_payload,
)
from engine.orders.model import Order, OrderEvent, OrderLine, OrderPayload
from engine.orders.published import published_rules
from engine.services import Services
from engine.storage.migrate import upgrade

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def sample_payload() -> dict[str, Any]:
    found = sorted((ROOT / "tests" / "orders" / "payloads").glob("douyin_*.json"))
    if not found:
        raise SystemExit("no tests/orders/payloads/douyin_*.json sample to build payloads from")
    return json.loads(found[0].read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def payloads(n: int, start: int = 0) -> list[dict[str, Any]]:
    base = sample_payload()
    out = []
    for i in range(start, start + n):
        p = copy.deepcopy(base)
        p["order_id"] = f"69{i:017d}"
        for j, sku in enumerate(p.get("sku_order_list") or []):
            sku["order_id"] = f"69{i:017d}{j}"
            sku["parent_order_id"] = p["order_id"]
        out.append(p)
    return out


def publish_rules(services: Services) -> None:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction(immediate=True) as s:
        import_template(s, "sources_six_channels", actor="bench", now=services.clock.now())
        rulesets.publish(s, "sources_six_channels", actor="bench", now=services.clock.now(), note="bench")


def build(url: str) -> Services:
    services = Services.build(Settings(database_url=url, redis_url=None, secret_key="bench"), clock=SystemClock())
    upgrade(services.db)
    publish_rules(services)
    return services


def direct_insert(services: Services, chunk: list[Any], first_pk: int) -> float:
    """The baseline: one page of the same rows straight into the four tables (executemany, one
    transaction); returns the seconds it took."""
    now = services.clock.now()
    start = time.perf_counter()
    next_pk = first_pk
    with services.db.transaction(immediate=True) as session:
        conn = session.connection()
        orders, lines, raws, events = [], [], [], []
        for inc in chunk:
            next_pk += 1
            order = inc.order
            doc = document.to_json(order)
            receiver = order.get("receiver") or {}
            orders.append({
                "id": next_pk, "channel": order["channel"], "order_id": "D" + str(order["order_id"]),
                "shop": str(order.get("shop") or ""), "status": order["status"],
                "created_at": order.get("created_at") or order["updated_at"], "updated_at": order["updated_at"],
                "paid_at": order.get("paid_at"), "promised_ship_at": order.get("promised_ship_at"),
                "buyer_phone": order.get("buyer_phone"), "phone_tail": document.phone_tail(order),
                "province": receiver.get("province"), "city": receiver.get("city"),
                "district": receiver.get("district"), "adcode": receiver.get("adcode"),
                "total": document.order_total(order), "freight": int(order.get("freight") or 0),
                "tags": [], "doc": doc, "revision": 1, "source": inc.source, "via": inc.via,
                "mapping": inc.mapping, "ruleset": inc.ruleset, "ruleset_version": inc.ruleset_version,
                "dropped_rule": None, "dropped_by": None, "stored_at": now, "changed_at": now})
            for no, line in enumerate(order.get("lines") or []):
                lines.append({"order_pk": next_pk, "line_no": no, "line_id": line.get("line_id"),
                              "sku_id": line.get("sku_id"), "platform_sku_id": line.get("platform_sku_id"),
                              "title": line.get("title"), "qty": line.get("qty") or 0,
                              "unit_price": line.get("unit_price"), "amount": line.get("amount"),
                              "paid_amount": line.get("paid_amount")})
            raws.append({"id": next_pk, "order_pk": next_pk, "source": inc.source, "via": inc.via,
                         "received_at": now, "version_at": order["updated_at"],
                         "digest": document.digest(inc.payload), "payload": inc.payload})
            events.append({"order_pk": next_pk, "revision": 1, "kind": "created", "at": now, "actor": "bench",
                           "payload_id": next_pk, "changes": [], "detail": {}, "ruleset": inc.ruleset,
                           "ruleset_version": inc.ruleset_version})
        conn.execute(insert(Order.__table__), orders)
        conn.execute(insert(OrderLine.__table__), lines)
        conn.execute(insert(OrderPayload.__table__), raws)
        conn.execute(insert(OrderEvent.__table__), events)
    return time.perf_counter() - start


def run(url: str, label: str, n: int, batch: int, singles: int) -> dict[str, float]:
    services = build(url)
    try:
        rules = published_rules(services)
        ref = rules.mapping("douyin")
        batch_payloads = payloads(n)
        # warm: compile the mapping and the cleaning, load the region data
        intake_platform_order(services, source="douyin", payload=payloads(1, start=n + singles + 1)[0], via="pull")

        # intake and the baseline take turns page by page, so both see the same machine load
        mapped = [map_payload(rules, ref, p, source="douyin", via="pull") for p in batch_payloads]
        intake_seconds = direct_seconds = intake_cpu = direct_cpu = 0.0
        outcomes = []
        for i in range(0, n, batch):
            start, cpu = time.perf_counter(), time.process_time()
            outcomes += intake_platform_orders(services, source="douyin", payloads=batch_payloads[i:i + batch],
                                               via="pull")
            intake_seconds += time.perf_counter() - start
            intake_cpu += time.process_time() - cpu
            cpu = time.process_time()
            direct_seconds += direct_insert(services, mapped[i:i + batch], -1_000_000_000 + i)  # ids apart from intake's
            direct_cpu += time.process_time() - cpu
        paged, direct = n / intake_seconds, n / direct_seconds
        assert all(o.outcome == "created" for o in outcomes), {o.outcome for o in outcomes}

        start = time.perf_counter()
        again = []
        for i in range(0, n, batch):
            again += intake_platform_orders(services, source="douyin", payloads=batch_payloads[i:i + batch],
                                            via="pull")
        repeat = n / (time.perf_counter() - start)
        assert all(o.outcome == "unchanged" for o in again)

        single_payloads = payloads(singles, start=n)
        start, cpu = time.perf_counter(), time.process_time()
        for p in single_payloads:
            assert intake_platform_order(services, source="douyin", payload=p, via="push").outcome == "created"
        single = singles / (time.perf_counter() - start)
        single_cpu = singles / (time.process_time() - cpu)
    finally:
        services.db.dispose()
    print(f"{label}:")
    print(f"  intake, pages of {batch} per transaction   {paged:>9,.0f} orders/s   ({n} payloads: map + clean + store)")
    print(f"  direct insert of the same rows, per page  {direct:>9,.0f} orders/s   (baseline)")
    print(f"  ratio intake/direct                      {paged / direct:>9.2f}x")
    print(f"  per CPU-second of this process: intake {n / intake_cpu:,.0f}/s, direct {n / direct_cpu:,.0f}/s, "
          f"ratio {direct_cpu / intake_cpu:.2f}x")
    print(f"  intake, one payload per transaction      {single:>9,.0f} orders/s   ({singles} payloads; "
          f"{single_cpu:,.0f}/s per CPU-second)")
    print(f"  same payloads again (all unchanged)      {repeat:>9,.0f} orders/s")
    return {"paged": paged, "direct": direct, "single": single, "repeat": repeat, "paged_cpu": n / intake_cpu,
            "direct_cpu": n / direct_cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--singles", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI smoke run)")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    n, singles = (1_000, 200) if args.quick else (args.orders, args.singles)
    devnull = open(os.devnull, "w")  # noqa: SIM115
    configure_logging(stream=devnull)
    with tempfile.TemporaryDirectory() as tmp:
        lite = run(f"sqlite:///{tmp}/bench.db", "SQLite (file, WAL)", n, args.batch, singles)
    wall_met = lite["paged"] >= 2000 and lite["paged"] >= 0.5 * lite["direct"]
    cpu_met = lite["paged_cpu"] >= 2000 and lite["paged_cpu"] >= 0.5 * lite["direct_cpu"]
    print(f"  goal >= 2,000 orders/s and >= 0.5x direct: wall clock {'met' if wall_met else 'NOT met'}, per "
          f"CPU-second {'met' if cpu_met else 'NOT met'} (load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores: wall figures shrink with the load, CPU-seconds do not)")
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
