"""The ticket stage's speed next to its baseline from the same run.

Each order is a stored, paid order; each measured unit is one transaction on it.

- ticket stage: ``engine.orders.order_tickets.ticket_stage`` — find the published ``follow``
  declarations, choose the one for the order, evaluate its ticket data, open the ticket, link
  it to the order (``order_tickets``), compute the statuses the order passed and fire 付款 as the
  platform (checks, history, deadlines, idempotency key);
- baseline: the same ticket opened and 付款 fired straight through the workflow
  (``create_instance_in`` + ``fire_in``) with the data written by hand: what the stage costs
  without its declarations.

Both sides run in interleaved slices on SQLite (and PostgreSQL when ``--postgres URL`` is
given); figures are orders per second of wall time and per CPU second of this process (the
machine is shared), and the stage's cost as a multiple of the baseline's.

Run: ``.venv/bin/python bench/order_tickets.py [--orders N] [--postgres URL]``.
Goal: the declarations cost at most 1.5x the bare workflow.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.clock import SystemClock
from engine.config import Settings
from engine.orders.order_tickets import ticket_stage
from engine.orders.pipeline_model import OrderTicket
from engine.orders.stages import load_ref
from engine.orders.store import Incoming, store_orders
from engine.rulesets import service as rulesets
from engine.services import Services
from engine.storage.migrate import upgrade
from engine.templates import import_template
from engine.workflow.registry import registry_of
from engine.workflow.service import fire_in
from engine.workflow.tickets import create_instance_in

T0 = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


def order(n: int) -> dict[str, Any]:
    return {"order_id": f"B{n:07d}", "channel": "douyin", "shop": "抖店", "status": "awaiting_shipment",
            "created_at": T0, "paid_at": T0 + timedelta(minutes=1), "updated_at": T0 + timedelta(minutes=1),
            "buyer_phone": "13812345678",
            "lines": [{"line_id": f"L{n}", "sku_id": "TEA-LJ-250", "qty": 1, "unit_price": 16800, "amount": 16800}],
            "payment": {"paid_amount": 16800}, "freight": 0}


def setup(url: str, orders: int) -> tuple[Services, list[int]]:
    services = Services.build(Settings(database_url=url, secret_key="bench"), clock=SystemClock())
    upgrade(services.db)
    with services.db.transaction(immediate=True) as s:
        for name in ("order_lifecycle", "order_presale"):
            import_template(s, name, actor="bench", now=services.clock.now())
            rulesets.publish(s, name, actor="bench", now=services.clock.now(), note="bench")
    stored = store_orders(services.db, [Incoming(order(n), "douyin", "pull") for n in range(orders)],
                          now=services.clock.now())
    return services, [x.order_pk for x in stored]


def run_stage(services: Services, pk: int) -> None:
    with services.db.transaction() as s:
        ref = load_ref(s, pk)
        assert ref is not None
        notes = ticket_stage(s, services, ref, services.clock.now())
        assert [n.kind for n in notes] == ["ticket_opened", "ticket_action"], notes


def run_baseline(services: Services, pk: int) -> None:
    with services.db.transaction() as s:
        ref = load_ref(s, pk)
        assert ref is not None
        compiled = registry_of(services).compiled(s, "order_lifecycle", 1, "order_lifecycle")
        now = services.clock.now()
        inst = create_instance_in(s, compiled, {"order_id": ref.order_id, "channel": ref.channel,
                                                "consumer_phone": ref.doc.get("buyer_phone")},
                                  actor="platform", now=now, role="platform")
        s.add(OrderTicket(order_pk=pk, kind="order", refund_id="", instance_id=inst.id, machine=compiled.name,
                          created_at=now))
        s.flush()
        fire_in(s, services, compiled, inst, "付款", {}, actor="platform", role="platform", via="platform",
                idempotency_key=f"platform:order:awaiting_shipment:付款:{pk}", now=now)


def measure(label: str, url: str, orders: int, slices: int = 8) -> None:
    services, pks = setup(url, 2 * orders)
    stage_pks, base_pks = pks[:orders], pks[orders:]
    per = max(1, orders // slices)
    times = {"stage": [0.0, 0.0], "baseline": [0.0, 0.0]}
    for i in range(0, orders, per):
        for name, fn, chunk in (("stage", run_stage, stage_pks[i:i + per]),
                                ("baseline", run_baseline, base_pks[i:i + per])):
            wall, cpu = time.perf_counter(), time.process_time()
            for pk in chunk:
                fn(services, pk)
            times[name][0] += time.perf_counter() - wall
            times[name][1] += time.process_time() - cpu
    services.db.dispose()
    stage, base = times["stage"], times["baseline"]
    print(f"{label}: {orders} orders each side")
    print(f"  ticket stage: {orders / stage[0]:8.0f} orders/s wall, {orders / stage[1]:8.0f} per CPU second")
    print(f"  baseline:     {orders / base[0]:8.0f} orders/s wall, {orders / base[1]:8.0f} per CPU second")
    print(f"  stage / baseline: {stage[0] / base[0]:.2f}x wall, {stage[1] / base[1]:.2f}x CPU (goal <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL whose database may be emptied")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="op-bench-") as folder:
        measure("SQLite", f"sqlite:///{folder}/bench.db", args.orders)
    if args.postgres:
        measure("PostgreSQL", args.postgres, args.orders)


if __name__ == "__main__":
    main()
