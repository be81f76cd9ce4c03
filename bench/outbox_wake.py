"""Outbox latency: from the commit that enqueues a delivery to a fake counterpart receiving its
HTTP call, with the dispatcher woken on commit (in-process signal on SQLite, LISTEN/NOTIFY on
PostgreSQL) against the same dispatcher polling only (every ``--interval`` seconds, the
runner's default 1 s), in the same run.

Each mode gets a fresh database and a background runner; deliveries are enqueued one
transaction each at random (exponential) gaps, ``--rate`` per second on average, so they arrive
at every phase of the poll. The handler posts the payload to a local HTTP counterpart, which
stamps its arrival. Prints p50/p99/max per mode and the ratio of the p99s.

Run: ``.venv/bin/python bench/outbox_wake.py [--n 200] [--rate 20]`` (SQLite file), or with
``ORDERPULSE_DATABASE_URL=postgresql://…`` for PostgreSQL (a private schema, dropped after).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.support import private_database  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.logs import configure_logging  # noqa: E402
from engine.outbox import enqueue  # noqa: E402
from engine.outbox.registry import Delivery  # noqa: E402
from engine.runner import BackgroundRunner  # noqa: E402
from engine.services import Services  # noqa: E402
from engine.storage.migrate import upgrade  # noqa: E402

TOPIC = "bench.wake"


class Counterpart:
    """Stamps the arrival (``time.perf_counter``) of each call by its ``seq``."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers and body leave in two segments, 40 ms apart

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.perf_counter()
                with outer.lock:
                    outer.arrived.setdefault(int(json.loads(body)["seq"]), at)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/call"


def run(mode: str, folder: str, n: int, rate: float, interval: float, seed: int) -> list[float]:
    url, drop = private_database(folder, f"wake_{mode}")
    services = Services.build(Settings(database_url=url, secret_key="bench"))
    upgrade(services.db)
    counterpart = Counterpart()
    http = requests.Session()

    def call(delivery: Delivery) -> None:
        http.post(counterpart.url, json=delivery.payload, timeout=10).raise_for_status()

    services.handlers.register(TOPIC, call)
    runner = BackgroundRunner(services, interval=interval, job_modules=[], wake_on_commit=mode == "wake").start()
    committed: dict[int, float] = {}
    gaps = random.Random(seed)
    try:
        time.sleep(0.2)  # the runner's first pass is behind it
        for seq in range(n):
            time.sleep(gaps.expovariate(rate))
            with services.db.transaction() as s:
                enqueue(s, TOPIC, {"seq": seq}, now=services.clock.now())
            committed[seq] = time.perf_counter()
        deadline = time.monotonic() + interval + 30
        while len(counterpart.arrived) < n and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        runner.stop()
        counterpart.server.shutdown()
        services.db.dispose()
        drop()
    if len(counterpart.arrived) < n:
        raise SystemExit(f"{mode}: only {len(counterpart.arrived)} of {n} deliveries arrived")
    return [(counterpart.arrived[seq] - committed[seq]) * 1000 for seq in range(n)]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="deliveries per mode")
    parser.add_argument("--rate", type=float, default=20.0, help="enqueues per second (mean)")
    parser.add_argument("--interval", type=float, default=1.0, help="the dispatcher's poll (seconds)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115
    backend = "postgresql" if os.environ.get("ORDERPULSE_DATABASE_URL", "").startswith("postgresql") else "sqlite"
    with tempfile.TemporaryDirectory() as folder:
        results = {mode: run(mode, folder, args.n, args.rate, args.interval, args.seed) for mode in ("wake", "poll")}
    for mode, label in (("wake", "wake on commit"), ("poll", f"polling only ({args.interval:g} s)")):
        ms = results[mode]
        print(f"outbox commit→counterpart, {backend}, {label}: n={len(ms)} p50 {pct(ms, 50):.1f} ms, "
              f"p99 {pct(ms, 99):.1f} ms, max {max(ms):.1f} ms, mean {statistics.fmean(ms):.1f} ms")
    ratio = pct(results["poll"], 99) / pct(results["wake"], 99)
    print(f"outbox commit→counterpart, {backend}: p99 polling / p99 wake-on-commit = {ratio:.1f}x "
          f"(p50 {pct(results['poll'], 50) / pct(results['wake'], 50):.1f}x)")


if __name__ == "__main__":
    main()
