"""Inventory throughput, one run: raw redis-py EVALSHA loop (baseline); gate+SQL reserve
in-process on PostgreSQL + Redis; SQL-only on SQLite and PostgreSQL; a sold-out crowd
in-process; over HTTP against gunicorn (4 gthread workers) on PostgreSQL + Redis: the lightest
authenticated route (GET /stock/{sku}) as the server's own baseline, POST /stock/reserve
spread over 200 SKUs, and one hot SKU sold out by a crowd. Prints rates, p50/p99, shares of
the raw loop, CPU milliseconds per HTTP request by process kind (load generator, gunicorn,
PostgreSQL, Redis — everything shares this machine's cores), the issue's goals judged on
this run, and checks zero oversell.

Usage: python bench/inventory.py [--pg postgresql://...] [--redis redis://...] [--seconds 4]
Uses a private PostgreSQL schema and a private Redis key prefix, both removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis

from bench.support import Gunicorn, cpu_by_kind, keepalive_client
from engine.clock import SystemClock
from engine.inventory.audit import check_invariants
from engine.inventory.domain import InsufficientStock
from engine.inventory.gate import RedisGate
from engine.inventory.service import InventoryService, make_gate_client
from engine.storage.db import Database
from engine.storage.migrate import upgrade
from tests.support.backends import PostgresSchema

RESULTS: list[tuple[str, float, float, float, str]] = []


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def record(name: str, count: int, elapsed: float, lat: list[float], note: str = "") -> float:
    rate = count / elapsed if elapsed else 0.0
    RESULTS.append((name, rate, pct(lat, 0.50), pct(lat, 0.99), note))
    print(f"  {name:<46} {rate:>9,.0f}/s  p50 {pct(lat, .5):6.2f} ms  p99 {pct(lat, .99):6.2f} ms  {note}",
          flush=True)
    return rate


def raw_evalsha(redis_url: str, prefix: str, seconds: float) -> float:
    gate = RedisGate(redis.Redis.from_url(redis_url, decode_responses=True), prefix + "raw:")
    gate.client.set(gate.k_epoch, "1")
    gate.client.hset(gate.k_avail, "RAW", 10**9)
    sha = gate.client.script_load(gate._reserve.script)
    keys = [gate.k_avail, gate.k_epoch, None, gate.k_holds, gate.k_stream, gate.k_pend, gate.k_seen]
    lat: list[float] = []
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += 1
        k = f"r{n}"
        keys[2] = gate.k_hold + k
        t = time.perf_counter()
        gate.client.evalsha(sha, len(keys), *keys, "1", k, 0, "RAW", 1)
        lat.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    rate = record("raw redis-py EVALSHA loop (1 SKU)", n, elapsed, lat, "baseline")
    gate.wipe()
    return rate


def seed(inv: InventoryService, skus: int, qty: int) -> None:
    for i in range(skus):
        inv.adjust(f"SKU-{i:03d}", qty, "bench seed", key=f"seed-{i}")


def in_process(runs: list[tuple[str, InventoryService]], seconds: float, raw: float | None, skus: int = 200,
               rounds: int = 8) -> None:
    """Each run gets ``seconds`` in total, in ``rounds`` slices taken in turn, so a change in
    the machine's load (other jobs on the same cores) falls on every run alike."""
    lat: dict[str, list[float]] = {name: [] for name, _ in runs}
    spent: dict[str, float] = {name: 0.0 for name, _ in runs}
    n = 0
    for _ in range(rounds):
        for name, inv in runs:
            start = time.perf_counter()
            while time.perf_counter() - start < seconds / rounds:
                n += 1
                lines = [{"sku_id": f"SKU-{(n * 7 + j * 13) % skus:03d}", "qty": 1} for j in range(1 + n % 2)]
                t = time.perf_counter()
                inv.reserve(f"{name[:6]}-{n}", lines)
                lat[name].append(time.perf_counter() - t)
            spent[name] += time.perf_counter() - start
    for name, inv in runs:
        count = len(lat[name])
        share = f"{count / spent[name] / raw:.1%} of raw loop" if raw else ""
        record(name, count, spent[name], lat[name], share)
        assert check_invariants(inv.db) == [], "invariant violated"


def crowd_in_process(inv: InventoryService, seconds: float, raw: float) -> None:
    inv.adjust("HOT-INPROC", 50, "bench")
    lat: list[float] = []
    ok = refused = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        try:
            inv.reserve(f"crowd-{ok + refused}", [{"sku_id": "HOT-INPROC", "qty": 1}])
            ok += 1
        except InsufficientStock:
            refused += 1
        lat.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    record("sold-out crowd in-process (gate answers)", ok + refused, elapsed, lat,
           f"{(ok + refused) / elapsed / raw:.1%} of raw loop; {ok} sold, {refused} refused")
    assert ok == 50, f"sold {ok} of 50"


def request_maker(token: str, skus: int, mode: str) -> Any:
    """The n-th request of a load client (``tag`` tells clients apart) for ``mode``: read, reserve or hot."""

    def make(n: int, tag: str) -> bytes:
        sku = "HOT-HTTP" if mode == "hot" else f"SKU-{(n * 31 + hash(tag)) % skus:03d}"
        if mode == "read":
            head, body = f"GET /api/v1/stock/{sku} HTTP/1.1\r\n", b""
        else:
            body = json.dumps({"order_id": f"{tag}-{n}", "lines": [{"sku_id": sku, "qty": 1}]}).encode()
            head = (f"POST /api/v1/stock/reserve HTTP/1.1\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n")
        return (head + f"Host: bench\r\nAuthorization: Bearer {token}\r\n\r\n").encode() + body

    return make


def http_run(name: str, port: int, token: str, seconds: float, clients: int, mode: str, skus: int,
             raw: float | None = None) -> dict[int, int]:
    q: mp.Queue = mp.get_context("fork").Queue()
    make = request_maker(token, skus, mode)
    procs = [mp.get_context("fork").Process(target=keepalive_client,
                                            args=(port, make, f"{name[:4]}{i}-{uuid.uuid4().hex[:4]}", seconds, q))
             for i in range(clients)]
    before = cpu_by_kind()
    for p in procs:
        p.start()
    parts = [q.get(timeout=seconds + 60) for _ in procs]
    after = cpu_by_kind()  # before the clients exit, so their CPU time is still counted
    for p in procs:
        p.join()
    count = sum(p[0] for p in parts)
    elapsed = max(p[1] for p in parts)
    lat = [x for p in parts for x in p[2]]
    codes: dict[int, int] = {}
    for p in parts:
        for c, k in p[3].items():
            codes[c] = codes.get(c, 0) + k
    share = f"{count / elapsed / raw:.1%} of raw loop; " if raw else ""
    record(name, count, elapsed, lat, f"{share}status {dict(sorted(codes.items()))}")
    if count:
        used = {k: (after.get(k, 0.0) - before.get(k, 0.0)) * 1000 / count for k in sorted(after)}
        print("      CPU ms per request: " + ", ".join(f"{k} {v:.2f}" for k, v in used.items())
              + f"; all {sum(used.values()):.2f} (the machine has {os.cpu_count()} cores)", flush=True)
    return codes


def print_goals(raw: float, no_oversell: bool) -> None:
    """The issue's goals, each judged on this run's figures."""
    by_name = {r[0]: r for r in RESULTS}
    http = by_name["HTTP POST /stock/reserve (gunicorn 4 workers)"]
    crowd = by_name["sold-out crowd in-process (gate answers)"]
    crowd_http = by_name["HTTP sold-out crowd on 1 hot SKU (100 units)"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print("goals:")
    print(f"  HTTP reserve >= 1,000/s with p99 <= 20 ms: {http[1]:,.0f}/s, p99 {http[3]:.1f} ms — "
          f"{verdict(http[1] >= 1000 and http[3] <= 20)}")
    print(f"  sold-out crowd answered by the gate >= 40% of the raw loop: in-process {crowd[1] / raw:.1%} — "
          f"{verdict(crowd[1] / raw >= 0.40)}; over HTTP {crowd_http[1] / raw:.1%}")
    print(f"  zero oversell in every run: {verdict(no_oversell)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default=os.environ.get("ORDERPULSE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--redis", default=os.environ.get("ORDERPULSE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--clients", type=int, default=6)
    args = ap.parse_args()
    prefix = f"op:bench:{uuid.uuid4().hex[:8]}:"
    print(f"inventory bench ({os.cpu_count()} cores; {args.seconds:.0f} s per run; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")

    raw = raw_evalsha(args.redis, prefix, args.seconds)

    schema = PostgresSchema(args.pg)
    pg_url = schema.create()
    tmp = Path(tempfile.mkdtemp())
    server = None
    try:
        pg = Database(pg_url)
        upgrade(pg)
        gate = RedisGate(make_gate_client(args.redis), prefix)
        gated = InventoryService(pg, SystemClock(), gate)
        gated.ensure_gate()
        seed(gated, 200, 10**6)
        lite = Database(f"sqlite:///{tmp / 'bench.db'}")
        upgrade(lite)
        lite_inv = InventoryService(lite, SystemClock())
        seed(lite_inv, 200, 10**6)
        sql_pg = InventoryService(pg, SystemClock())
        print("  (in-process runs interleaved in 8 slices each)")
        in_process([("gate+SQL reserve in-process (PostgreSQL+Redis)", gated),
                    ("SQL-only reserve in-process (PostgreSQL)", sql_pg),
                    ("SQL-only reserve in-process (SQLite)", lite_inv)], args.seconds * 2, raw)
        crowd_in_process(gated, args.seconds, raw)
        for inv in (sql_pg, lite_inv):
            inv.close()

        from engine.auth.users import create_user, issue_token

        with pg.transaction() as s:
            user = create_user(s, "bench_ops", "ops", None, clock=SystemClock())
            token = issue_token(s, user, clock=SystemClock())
        gated.adjust("HOT-HTTP", 100, "bench crowd stock")
        env = dict(os.environ, ORDERPULSE_DATABASE_URL=pg_url, ORDERPULSE_REDIS_URL=args.redis,
                   ORDERPULSE_REDIS_PREFIX=prefix, ORDERPULSE_SECRET_KEY="bench-secret")
        server = Gunicorn("engine.app:create_app()", env, workers=4, threads=2).start()
        port = server.port
        print(f"  (HTTP: {args.clients} keep-alive client processes; gunicorn gthread, 4 workers x 2 threads)")
        http_run("HTTP GET /stock/{sku} (baseline: auth + 1 read)", port, token, args.seconds, args.clients,
                 "read", 200)
        http_run("HTTP POST /stock/reserve (gunicorn 4 workers)", port, token, args.seconds, args.clients,
                 "reserve", 200)
        codes = http_run("HTTP sold-out crowd on 1 hot SKU (100 units)", port, token, args.seconds, args.clients,
                         "hot", 1, raw)
        hot = gated.get("HOT-HTTP")
        assert codes.get(200, 0) == 100 and hot["reserved_stock"] == 100, (codes, hot)
        problems = check_invariants(pg)
        oversold = [r for r in problems if r.startswith("I1")]
        print(f"\nzero oversell: {'yes' if not oversold else 'NO'}; invariant problems: {len(problems)}")
        print(f"hot SKU: {hot['total_stock']} total, {hot['reserved_stock']} reserved, "
              f"{codes.get(200, 0)} answered 200, {codes.get(409, 0)} answered 409")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print_goals(raw, not oversold)
        gate.wipe()
        gated.close()
        pg.dispose()
    finally:
        if server is not None:
            server.stop()
        schema.drop()


if __name__ == "__main__":
    main()
