"""SQLite writers of one process, as the embedded default has them now (queued in arrival
order, ``engine.storage.write_queue``; the outbox's platform calls made with no lock held,
``calls_out``) against as they were (SQLite's busy handler alone; the call inside the
delivery's write transaction), in the same run.

The embedded default runs everything in one process: the API's threads, the order pipeline
and the outbox dispatcher all take SQLite's write lock with ``BEGIN IMMEDIATE``. This bench
puts ``--writers`` threads in the API's place (each: an immediate transaction that queues an
outbox row and holds the lock for ``--hold-ms`` of Python work, then a short pause) beside one
outbox dispatcher whose handler makes a real HTTP call to a local counterpart inside its
transaction, as the write-backs and stock pushes do. Each mode gets a fresh database and runs
``--seconds``; the counterpart answers after ``--answer-ms``. The bench prints the writers'
transactions per second and their wait for the lock (p50/p99/max), the dispatcher's
deliveries per second, and the ratios now/before.

Run: ``.venv/bin/python bench/sqlite_writers.py [--writers 8] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import pct  # noqa: E402
from engine.clock import SystemClock  # noqa: E402
from engine.config import Settings  # noqa: E402
from engine.logs import configure_logging  # noqa: E402
from engine.outbox import enqueue  # noqa: E402
from engine.outbox.dispatcher import Dispatcher  # noqa: E402
from engine.services import Services  # noqa: E402
from engine.storage.db import Database  # noqa: E402
from engine.storage.migrate import upgrade  # noqa: E402

TOPIC = "bench.http"


class _Counterpart(BaseHTTPRequestHandler):
    answer_s = 0.005

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.answer_s)
        body = b'{"code":0}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _no_queue() -> Iterator[None]:
    """SQLite's busy handler alone: the process queue taken out of every BEGIN IMMEDIATE."""
    original = Database.write_turn

    @contextlib.contextmanager
    def bypass(self: Database) -> Iterator[None]:
        yield

    Database.write_turn = bypass  # type: ignore[method-assign]
    try:
        yield
    finally:
        Database.write_turn = original  # type: ignore[method-assign]


def run_mode(folder: Path, name: str, url: str, writers: int, hold_ms: float, seconds: float,
             calls_out: bool) -> dict[str, float]:
    settings = Settings(database_url=f"sqlite:///{folder / (name + '.db')}", secret_key="bench")
    services = Services.build(settings, clock=SystemClock())
    upgrade(services.db)
    http = requests.Session()
    assert services.handlers is not None

    def handler(delivery: Any) -> None:
        # reads what it will send first, as the platform handlers do (the push state, the shipment)
        delivery.session.execute(text("SELECT count(*) FROM outbox WHERE delivery_id = :d"),
                                 {"d": delivery.delivery_id})
        delivery.outside(lambda: http.post(url, json=delivery.payload, timeout=10).raise_for_status())

    services.handlers.register(TOPIC, handler, calls_out=calls_out)
    stop = threading.Event()
    waits: list[float] = []
    done = [0]
    lock = threading.Lock()

    def writer(i: int) -> None:
        n = 0
        while not stop.is_set():
            asked = time.perf_counter()
            with services.db.transaction(immediate=True) as s:
                s.execute(text("SELECT 1"))  # BEGIN IMMEDIATE runs with the first statement
                got = time.perf_counter()
                enqueue(s, TOPIC, {"writer": i, "n": n}, now=services.clock.now(), source="bench")
                until = got + hold_ms / 1000
                while time.perf_counter() < until:
                    pass
            with lock:
                waits.append(got - asked)
            n += 1
            time.sleep(0.002)

    def dispatch() -> None:
        d = Dispatcher(services, worker_id="bench")
        while not stop.is_set():
            done[0] += d.dispatch_due(limit=20)
            if not done[0]:
                time.sleep(0.01)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    threads.append(threading.Thread(target=dispatch))
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(60)
    elapsed = time.perf_counter() - started
    services.db.dispose()
    return {"writes": len(waits) / elapsed, "delivered": done[0] / elapsed, "p50": pct(waits, 0.5),
            "p99": pct(waits, 0.99), "max": max(waits) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--hold-ms", type=float, default=0.5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--answer-ms", type=float, default=5.0)
    args = parser.parse_args()
    configure_logging(logging.WARNING)
    _Counterpart.answer_s = args.answer_ms / 1000
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counterpart)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/"
    with tempfile.TemporaryDirectory(prefix="orderpulse-bench-") as tmp:
        folder = Path(tmp)
        with _no_queue():
            busy = run_mode(folder, "before", url, args.writers, args.hold_ms, args.seconds, calls_out=False)
        queued = run_mode(folder, "now", url, args.writers, args.hold_ms, args.seconds, calls_out=True)
    server.shutdown()
    print(f"{args.writers} writer threads (hold {args.hold_ms} ms) + 1 dispatcher (an HTTP call per delivery, "
          f"answered in {args.answer_ms} ms), {args.seconds:.0f} s each, SQLite")
    for name, r in (("before", busy), ("now", queued)):
        print(f"  {name:<13} writes {r['writes']:7.0f}/s  wait p50 {r['p50']:6.1f} p99 {r['p99']:7.1f} "
              f"max {r['max']:7.1f} ms  dispatcher {r['delivered']:6.0f} deliveries/s")
    print(f"ratio now/before: writes {queued['writes'] / busy['writes']:.2f}x, wait p99 "
          f"{queued['p99'] / max(busy['p99'], 1e-9):.2f}x, dispatcher {queued['delivered'] / max(busy['delivered'], 1e-9):.2f}x")


if __name__ == "__main__":
    main()
