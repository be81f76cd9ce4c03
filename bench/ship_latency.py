"""Shipping latency over real HTTP, one run, four modes side by side:

1. ``POST /api/v1/orders/{id}/ship`` (a threaded HTTP server in this process) → the fake
   platform accepting the write-back (its ship API, signed, right carrier code), for orders of
   all six platforms in turn;
2. a stock reservation → all six fake platforms showing the SKU's new figure (push marker →
   relay job, woken by the marker's commit → outbox → each platform's stock API);
3. one fake's answer over a kept-alive connection (a ``requests.Session``), the case where a
   fake without TCP_NODELAY costs a delayed ACK (~40 ms) per answer. The connectors open a
   connection per call, where the kernel's quick-ACK start hides it, so 1 and 2 barely show it.

Modes, each with a fresh database, fresh fakes and its own background runner:
``wake`` (the product: dispatcher woken on commit, fakes answering with TCP_NODELAY; on
PostgreSQL the six channels' stock pushes delivered side by side), ``serial`` (the same with
every delivery in turn, as before the pushes went side by side), ``nagle`` (the same with the fakes' TCP_NODELAY off: what the fakes did before) and ``poll``
(dispatcher polling only, every ``--interval`` s, and the stock push relay on its 2 s period:
how both worked before they woke on commit). Prints p50/p99/max per mode and measure, the ratio of each baseline's p99 to the
product's, and CPU seconds of this process per shipped order (the machine is shared).

Two more modes measure the write-back under a stock-push flood (what a peak day does: every
SKU's figure changing while orders ship): a thread adjusts ``--flood-skus`` SKUs listed on
all six fakes over and over during the ship phase, so thousands of ``inventory.stock_push``
rows wait in the outbox. ``flood`` is the product (write-backs claimed before other topics),
``fifo`` the same flood with the write-back claimed in plain due order (as before). Printed:
ship → accepted p50/p95/p99 of ``wake`` (no flood), ``flood`` and ``fifo``, and the ratios
flood / no flood and fifo / flood, all from the same run, with the push backlog seen.

Run: ``.venv/bin/python bench/ship_latency.py [--n 60] [--stock 30]`` (SQLite file), or with
``ORDERPULSE_DATABASE_URL=postgresql://…`` (a private schema, dropped after) and
``ORDERPULSE_REDIS_URL``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import private_database  # noqa: E402
from connectors.fakes import PLATFORM_CREDENTIALS  # noqa: E402
from connectors.fakes.base import FakeServer  # noqa: E402
from connectors.platform_stock import base_url_variable  # noqa: E402
from engine.app import create_app  # noqa: E402
from engine.auth.users import create_user, issue_token  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.inventory.jobs import RELAY_EVERY_SECONDS  # noqa: E402
from engine.inventory.service import inventory_for  # noqa: E402
from engine.logs import configure_logging  # noqa: E402
from engine.orders.intake import intake_platform_order  # noqa: E402
from engine.orders.sources import order_client, order_sources  # noqa: E402
from engine.orders.writeback import register_writeback_handler  # noqa: E402
from engine.runner import BackgroundRunner  # noqa: E402
from engine.services import Services  # noqa: E402
from engine.storage.migrate import upgrade  # noqa: E402
from tests.orders_in.conftest import FAKES, credentials, platform_order_id  # noqa: E402

CHANNELS = tuple(FAKES)
MODES = ("wake", "serial", "nagle", "poll", "flood", "fifo")
FLOOD_MODES = ("flood", "fifo")


def stamp_accepts(fake: FakeServer) -> None:
    """Stamp each message the fake accepts with ``time.perf_counter()``."""
    accept = fake.accept
    fake.accept = lambda message: accept({**message, "_at": time.perf_counter()})  # type: ignore[method-assign]


def publish_sources(services: Services) -> None:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction(immediate=True) as s:
        import_template(s, "sources_six_channels", actor="bench", now=services.clock.now())
        rulesets.publish(s, "sources_six_channels", actor="bench", now=services.clock.now(), note="bench")


def wait_for(done: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.001)


def pending_pushes(services: Services) -> int:
    """Stock pushes waiting in the outbox."""
    from engine.inventory.push import PUSH_TOPIC

    with services.db.session() as s:
        return int(s.execute(text("SELECT count(*) FROM outbox WHERE topic = :t AND status = 'pending'"),
                             {"t": PUSH_TOPIC}).scalar_one())


class PushFlood:
    """A thread changing the figures of ``codes`` (listed on all six fakes) round after round,
    so the relay keeps thousands of stock pushes queued; it notes the largest backlog seen."""

    def __init__(self, services: Services, inventory: Any, codes: list[str]) -> None:
        self.services, self.inventory, self.codes = services, inventory, codes
        self.stop = threading.Event()
        self.backlog: list[int] = []
        self.thread = threading.Thread(target=self._run, name="bench-push-flood", daemon=True)

    def _run(self) -> None:
        delta = 1
        while not self.stop.is_set():
            for code in self.codes:
                if self.stop.is_set():
                    break
                self.inventory.adjust(code, delta, "盘点")
            self.backlog.append(pending_pushes(self.services))
            delta = -delta

    def start(self, services: Services, minimum: int) -> None:
        self.thread.start()
        wait_for(lambda: pending_pushes(services) >= minimum, 120, f"{minimum} stock pushes queued")

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(60)


def arrives(done: Any, timeout: float) -> bool:
    """Whether ``done()`` comes true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def run(mode: str, folder: str, n: int, stock_n: int, interval: float, seed: int,
        flood_skus: int = 0, cap: float = 60.0) -> dict[str, Any]:
    FakeServer.tcp_nodelay = mode != "nagle"
    fakes = {c: cls(**credentials(c)).start() for c, cls in FAKES.items()}
    for channel, fake in fakes.items():
        os.environ[base_url_variable(channel)] = fake.url
        for variable, value, _ in PLATFORM_CREDENTIALS[channel]:
            os.environ[variable] = value
        stamp_accepts(fake)
    url, drop = private_database(folder, f"ship_{mode}")
    services = Services.build(Settings(database_url=url, redis_url=os.environ.get("ORDERPULSE_REDIS_URL"),
                                       redis_prefix=f"op:bench:{uuid.uuid4().hex[:6]}:", secret_key="bench"))
    upgrade(services.db)
    publish_sources(services)
    register_writeback_handler(services)
    if mode == "fifo":  # the write-back claimed in plain due order, as before it was claimed first
        from engine.orders.writeback import WRITEBACK_TOPIC

        services.handlers.register(WRITEBACK_TOPIC, services.handlers.get(WRITEBACK_TOPIC))
    with services.db.transaction() as s:
        token = issue_token(s, create_user(s, "bench_warehouse", "warehouse", None, clock=services.clock),
                            clock=services.clock)
    server = make_server("127.0.0.1", 0, create_app(services=services), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    api = f"http://127.0.0.1:{server.server_port}/api/v1"
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {token}"
    inventory = inventory_for(services)
    runner = BackgroundRunner(services, interval=interval, job_modules=["engine.inventory.jobs"],
                              wake_on_commit=mode != "poll")
    if mode == "serial":
        runner.dispatcher.lanes = 1
    runner.start()
    try:
        # --- orders to ship, prepared before the clock starts -------------------------------
        inventory.adjust("TEA-LJ-250", 100_000, "入库")
        prepared = []
        for i in range(n):
            channel = CHANNELS[i % len(CHANNELS)]
            fake = fakes[channel]
            order = fake.scenario.create([("TEA-LJ-250", 1)], freight=0, platform_discount=0, seller_discount=0)
            order_id = platform_order_id(channel, order)
            client = order_client(services, order_sources(services)[channel])
            assert client is not None
            outcome = intake_platform_order(services, source=channel, payload=client.order_detail(order_id),
                                            via="pull")
            inventory.reserve(f"{channel}/{order_id}", [{"sku_id": "TEA-LJ-250", "qty": 1}], channel=channel)
            prepared.append((channel, outcome.order_pk, f"SF{1_000_000_000 + i}"))
        # --- stock SKUs listed on every fake, shown once before the clock starts ------------
        codes = [f"BENCH-{i:04d}" for i in range(stock_n)]
        for code in codes:
            for channel, fake in fakes.items():
                (fake.add_item if channel == "taobao" else fake.add_sku)(code, 0)  # type: ignore[attr-defined]
            inventory.adjust(code, 100, "入库")
        wait_for(lambda: all(f.catalogue[c].quantity == 100 for f in fakes.values() for c in codes), 120,
                 "the first stock figures on the fakes")
        flood = None
        if mode in FLOOD_MODES:
            flood_codes = [f"FLOOD-{i:04d}" for i in range(flood_skus)]
            for code in flood_codes:
                for channel, fake in fakes.items():
                    (fake.add_item if channel == "taobao" else fake.add_sku)(code, 0)  # type: ignore[attr-defined]
            flood = PushFlood(services, inventory, flood_codes)
        time.sleep(0.5)
        if flood is not None:
            flood.start(services, minimum=min(2000, 3 * flood_skus))
        gaps = random.Random(seed)
        cpu0 = time.process_time()
        ship_ms = []
        capped = 0
        for channel, pk, tracking in prepared:
            time.sleep(gaps.expovariate(10.0))
            fake = fakes[channel]
            seen = len(fake.messages)
            started = time.perf_counter()
            answer = http.post(f"{api}/orders/{pk}/ship", json={"courier": "SF", "tracking_no": tracking}, timeout=30)
            if answer.status_code != 201:
                raise SystemExit(f"ship {channel} {pk}: {answer.status_code} {answer.text}")
            def accepted(f: FakeServer = fake, t: str = tracking, k: int = seen) -> bool:
                return any(m.get("tracking_no") == t for m in f.messages[k:])

            if flood is not None and not arrives(accepted, cap):
                ship_ms.append(cap * 1000)  # not accepted within the cap: counted as the cap (a lower bound)
                capped += 1
                continue
            wait_for(accepted, 600, f"{channel} accepting {tracking}")
            at = next(m["_at"] for m in fake.messages[seen:] if m.get("tracking_no") == tracking)
            ship_ms.append((at - started) * 1000)
        ship_cpu = (time.process_time() - cpu0) / max(1, len(prepared))
        backlog: list[int] = []
        if flood is not None:
            flood.finish()
            backlog = flood.backlog
            return {"ship": ship_ms, "stock": [], "answer": [], "ship_cpu": ship_cpu, "stock_cpu": 0.0,
                    "backlog": backlog, "capped": capped}
        stock_ms = []
        cpu0 = time.process_time()
        for i, code in enumerate(codes):
            time.sleep(gaps.expovariate(4.0))
            started = time.perf_counter()
            inventory.reserve(f"bench-{mode}-{i}", [{"sku_id": code, "qty": 1}])
            wait_for(lambda c=code: all(f.catalogue[c].quantity == 99 for f in fakes.values()), 60,
                     f"six fakes showing {code}")
            stock_ms.append((time.perf_counter() - started) * 1000)
        stock_cpu = (time.process_time() - cpu0) / max(1, len(codes))
        keep_alive = requests.Session()
        answer_ms = []
        for _ in range(100):
            started = time.perf_counter()
            keep_alive.get(f"{fakes['miniprogram'].url}/stock", timeout=10)  # unsigned: a 401 answer, same shape
            answer_ms.append((time.perf_counter() - started) * 1000)
    finally:
        runner.stop()
        server.shutdown()
        for fake in fakes.values():
            fake.stop()
        services.db.dispose()
        drop()
    return {"ship": ship_ms, "stock": stock_ms, "answer": answer_ms, "ship_cpu": ship_cpu, "stock_cpu": stock_cpu}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def report_flood(results: dict[str, dict[str, Any]], labels: dict[str, str], backend: str) -> None:
    """Ship → accepted p50/p95/p99 with and without the push flood, and their ratios."""
    what = "POST /ship → fake accepts write-back"
    for mode in ("wake", "flood", "fifo"):
        if mode in results:
            ms = results[mode]["ship"]
            seen = results[mode].get("backlog") or []
            flood = f", push backlog max {max(seen)} rows" if seen else ""
            if results[mode].get("capped"):
                flood += f", {results[mode]['capped']} not accepted within the cap (counted as the cap)"
            print(f"{what}, {backend}, {labels[mode]}: n={len(ms)} p50 {pct(ms, 50):.1f} ms, p95 {pct(ms, 95):.1f} ms, "
                  f"p99 {pct(ms, 99):.1f} ms{flood}")
    for top, bottom in (("flood", "wake"), ("fifo", "flood"), ("fifo", "wake")):
        if top in results and bottom in results:
            ratios = ", ".join(f"{pct(results[top]['ship'], p) / pct(results[bottom]['ship'], p):.1f}x at p{p}"
                               for p in (50, 95, 99))
            print(f"{what}, {backend}: {top} / {bottom} = {ratios}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60, help="orders shipped per mode (spread over the six platforms)")
    parser.add_argument("--stock", type=int, default=30, help="reservations per mode")
    parser.add_argument("--interval", type=float, default=1.0, help="the runner's poll (seconds)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--flood-n", type=int, default=20, help="orders shipped per flood mode")
    parser.add_argument("--cap", type=float, default=60.0,
                        help="seconds a flood mode waits for one write-back; longer counts as the cap (a lower bound)")
    parser.add_argument("--flood-skus", type=int, default=300,
                        help="SKUs whose figures change over and over in the flood modes (x6 channels)")
    args = parser.parse_args()
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115
    backend = "postgresql" if os.environ.get("ORDERPULSE_DATABASE_URL", "").startswith("postgresql") else "sqlite"
    modes = [m for m in args.modes.split(",") if m in MODES]
    labels = {"wake": "wake on commit + TCP_NODELAY (product)",
              "serial": "the same, every delivery in turn", "nagle": "wake on commit, fakes without TCP_NODELAY",
              "poll": f"dispatcher polling every {args.interval:g} s, relay every {RELAY_EVERY_SECONDS} s",
              "flood": "stock-push flood, write-backs claimed first (product)",
              "fifo": "stock-push flood, write-backs in plain due order (before)"}
    with tempfile.TemporaryDirectory() as folder:
        results = {}
        for m in modes:
            started = time.monotonic()
            results[m] = run(m, folder, args.flood_n if m in FLOOD_MODES else args.n, args.stock, args.interval,
                             args.seed, args.flood_skus, args.cap)
            print(f"[{m} done in {time.monotonic() - started:.0f} s]", file=sys.stderr, flush=True)
    report_flood(results, labels, backend)
    for measure, what in (("ship", "POST /ship → fake accepts write-back"),
                          ("stock", "reservation → six fakes show the figure"),
                          ("answer", "a fake's answer on a kept-alive connection")):
        for mode in modes:
            ms = results[mode][measure]
            if not ms or mode in FLOOD_MODES:  # the flood modes are reported by report_flood
                continue
            print(f"{what}, {backend}, {labels[mode]}: n={len(ms)} p50 {pct(ms, 50):.1f} ms, "
                  f"p99 {pct(ms, 99):.1f} ms, max {max(ms):.1f} ms")
        if "wake" in results:
            base = pct(results["wake"][measure], 99)
            for mode in modes:
                if mode != "wake" and mode not in FLOOD_MODES and results[mode][measure]:
                    ratio99 = pct(results[mode][measure], 99) / base
                    ratio50 = pct(results[mode][measure], 50) / pct(results["wake"][measure], 50)
                    print(f"{what}, {backend}: {mode} / product = {ratio99:.1f}x at p99, {ratio50:.1f}x at p50")
            if measure != "answer":
                print(f"{what}, {backend}: goal p99 <= 500 ms: {'met' if base <= 500 else 'NOT met'} ({base:.1f} ms)")
    for mode in modes:
        if mode in FLOOD_MODES:
            print(f"CPU of this process (server, runner, fakes, flood, client) per shipped order, {labels[mode]}: "
                  f"{results[mode]['ship_cpu'] * 1000:.1f} ms")
            continue
        print(f"CPU of this process (server, runner, fakes, client) per shipped order, {labels[mode]}: "
              f"{results[mode]['ship_cpu'] * 1000:.1f} ms; per reservation pushed to the six fakes: "
              f"{results[mode]['stock_cpu'] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
