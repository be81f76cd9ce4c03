"""Inventory throughput, one run: raw redis-py EVALSHA loop (baseline); gate+SQL reserve
in-process on PostgreSQL + Redis; SQL-only on SQLite and PostgreSQL; HTTP ``POST /stock/reserve``
against gunicorn (4 workers) on PostgreSQL + Redis, spread over many SKUs and one hot SKU sold
out by a crowd. Prints rates, p50/p99 and shares of the raw loop; checks zero oversell.

Usage: python bench/inventory.py [--pg postgresql://...] [--redis redis://...] [--seconds 4]
Uses a private PostgreSQL schema and a private Redis key prefix, both removed afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis
import requests

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


def http_client(url: str, token: str, prefix: str, seconds: float, skus: int, hot: bool, out: mp.Queue) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    lat: list[float] = []
    codes: dict[int, int] = {}
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += 1
        sku = "HOT-HTTP" if hot else f"SKU-{(n * 31 + hash(prefix)) % skus:03d}"
        t = time.perf_counter()
        r = session.post(url, json={"order_id": f"{prefix}-{n}", "lines": [{"sku_id": sku, "qty": 1}]})
        lat.append(time.perf_counter() - t)
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
    out.put((n, time.perf_counter() - start, lat, codes))


def http_run(name: str, port: int, token: str, seconds: float, clients: int, hot: bool, skus: int) -> dict[int, int]:
    q: mp.Queue = mp.get_context("fork").Queue()
    url = f"http://127.0.0.1:{port}/api/v1/stock/reserve"
    procs = [mp.get_context("fork").Process(target=http_client,
                                            args=(url, token, f"{name[:4]}{i}-{uuid.uuid4().hex[:4]}", seconds,
                                                  skus, hot, q)) for i in range(clients)]
    for p in procs:
        p.start()
    parts = [q.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join()
    count = sum(p[0] for p in parts)
    elapsed = max(p[1] for p in parts)
    lat = [x for p in parts for x in p[2]]
    codes: dict[int, int] = {}
    for p in parts:
        for c, k in p[3].items():
            codes[c] = codes.get(c, 0) + k
    record(name, count, elapsed, lat, f"{clients} client processes; status {dict(sorted(codes.items()))}")
    return codes


def start_gunicorn(db_url: str, redis_url: str, prefix: str) -> tuple[subprocess.Popen[bytes], int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, ORDERPULSE_DATABASE_URL=db_url, ORDERPULSE_REDIS_URL=redis_url,
               ORDERPULSE_REDIS_PREFIX=prefix, ORDERPULSE_SECRET_KEY="bench-secret")
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen([gunicorn, "-w", "4", "-k", "gthread", "--threads", "4", "-b", f"127.0.0.1:{port}",
                             "--log-level", "warning", "engine.app:create_app()"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(200):
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code in (200, 503):
                return proc, port
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


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
    gunicorn_proc = None
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
        gunicorn_proc, port = start_gunicorn(pg_url, args.redis, prefix)
        http_run("HTTP POST /stock/reserve (gunicorn 4 workers)", port, token, args.seconds, args.clients, False, 200)
        codes = http_run("HTTP sold-out crowd on 1 hot SKU (100 units)", port, token, args.seconds, args.clients,
                         True, 1)
        hot = gated.get("HOT-HTTP")
        assert codes.get(200, 0) == 100 and hot["reserved_stock"] == 100, (codes, hot)
        problems = check_invariants(pg)
        oversold = [r for r in problems if r.startswith("I1")]
        print(f"\nzero oversell: {'yes' if not oversold else 'NO'}; invariant problems: {len(problems)}")
        print(f"hot SKU: {hot['total_stock']} total, {hot['reserved_stock']} reserved, "
              f"{codes.get(200, 0)} answered 200, {codes.get(409, 0)} answered 409")
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        gate.wipe()
        gated.close()
        pg.dispose()
    finally:
        if gunicorn_proc is not None:
            os.killpg(gunicorn_proc.pid, signal.SIGTERM)
            gunicorn_proc.wait(10)
        schema.drop()


if __name__ == "__main__":
    main()
