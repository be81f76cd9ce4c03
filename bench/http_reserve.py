"""What a stock reservation costs over HTTP in production shape, against two baselines measured
in the same run: a Flask route that does nothing (the floor of Flask under gunicorn) and the
lightest authenticated read, ``GET /api/v1/stock/{sku}``.

Both servers run under gunicorn (gthread, ``--workers`` x ``--threads``) on PostgreSQL + Redis
(a private schema and key prefix, removed after). Load: ``--clients`` processes, each one
kept-alive connection. The three phases take turns in ``--rounds`` slices, so a change in the
machine's load (other jobs share its cores) falls on each alike. Then the same three requests
through the WSGI apps called directly in this process, in turns (no server, no sockets: the
steadiest view of the app's own CPU on a shared machine). Prints per phase: requests/s,
p50/p99, app CPU ms per request (the gunicorn master and workers, from /proc), CPU ms per request
of PostgreSQL, Redis and the clients (PostgreSQL and Redis are shared with anything else running
on the machine: noisy), and the issue's two ratios. Checks the stock ledger against the counters
and that nothing oversold.

Run: ``.venv/bin/python bench/http_reserve.py [--seconds 12] [--rounds 4]`` with
``ORDERPULSE_DATABASE_URL=postgresql://…`` and ``ORDERPULSE_REDIS_URL=redis://…`` (defaults: the
local test database and Redis).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support import Gunicorn, PhaseResult, http_phase, noop_app, pct, private_database  # noqa: E402

SKUS = 200


def in_process(apps: list[tuple[str, Any, Callable[[int], dict[str, Any]]]], seconds: float,
               rounds: int) -> dict[str, float]:
    """CPU milliseconds per request of each WSGI app called directly in this process (no server,
    no sockets), the apps taking turns in ``rounds`` slices: the steadiest view of the app's own
    cost on a shared machine. ``environ(n)`` gives the n-th request's WSGI environ."""
    spent = {name: 0.0 for name, _, _ in apps}
    count = {name: 0 for name, _, _ in apps}
    status: list[str] = []

    def start_response(code: str, headers: Any, exc_info: Any = None) -> None:
        status.append(code)

    for _ in range(rounds):
        for name, app, environ in apps:
            wall = time.perf_counter() + seconds / rounds
            cpu = time.process_time()
            while time.perf_counter() < wall:
                count[name] += 1
                for _chunk in app(environ(count[name]), start_response):
                    pass
                if not status.pop().startswith("200"):
                    raise SystemExit(f"{name}: request {count[name]} was not answered 200")
            spent[name] += time.process_time() - cpu
    return {name: spent[name] * 1000 / count[name] for name in spent}


def in_process_ratios(services: Any, token: str, seconds: float, rounds: int) -> None:
    """The same three requests through the WSGI apps in this process; prints the CPU ratios."""
    from werkzeug.test import EnvironBuilder

    from engine.app import create_app

    def template(path: str, method: str = "GET", body: bytes = b"", bearer: bool = True) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if bearer else {}
        return EnvironBuilder(path=path, method=method, data=body, headers=headers,
                              content_type="application/json" if body else None).get_environ()

    def fresh(environ: dict[str, Any], path: str, body: bytes = b"") -> dict[str, Any]:
        return {**environ, "PATH_INFO": path, "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}

    read = template("/api/v1/stock/SKU-000")
    post = template("/api/v1/stock/reserve", "POST", b"{}")
    floor = template("/noop", bearer=False)
    tag = uuid.uuid4().hex[:6]

    def reserve_body(n: int) -> bytes:
        return json.dumps({"order_id": f"ip{tag}-{n}", "lines": [{"sku_id": f"SKU-{n * 31 % SKUS:03d}",
                                                                    "qty": 1}]}).encode()

    app = create_app(services=services)
    ms = in_process([("noop", noop_app(), lambda n: fresh(floor, "/noop")),
                     ("read", app, lambda n: fresh(read, f"/api/v1/stock/SKU-{n * 31 % SKUS:03d}")),
                     ("reserve", app, lambda n: fresh(post, "/api/v1/stock/reserve", reserve_body(n)))],
                    seconds, rounds)
    print(f"  in-process (the WSGI apps called directly, in turns): CPU ms/request no-op {ms['noop']:.3f}, "
          f"GET /stock {ms['read']:.3f}, reserve {ms['reserve']:.3f}; reserve / no-op {ms['reserve'] / ms['noop']:.2f}x, "
          f"reserve - no-op {ms['reserve'] - ms['noop']:.3f} ms, GET - no-op {ms['read'] - ms['noop']:.3f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=12.0, help="per phase, over all rounds")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--in-process-only", action="store_true", help="skip gunicorn: only the in-process ratios")
    args = ap.parse_args()
    os.environ.setdefault("ORDERPULSE_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    os.environ.setdefault("ORDERPULSE_REDIS_URL", "redis://127.0.0.1:6379/0")
    from engine.clock import SystemClock
    from engine.config import Settings
    from engine.inventory.audit import check_invariants
    from engine.inventory.service import inventory_for
    from engine.logs import configure_logging
    from engine.services import Services
    from engine.storage.migrate import upgrade

    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115
    url, drop = private_database("", "http")
    prefix = f"op:bench:{uuid.uuid4().hex[:8]}:"
    servers: list[Gunicorn] = []
    try:
        services = Services.build(Settings(database_url=url, redis_url=os.environ["ORDERPULSE_REDIS_URL"],
                                           redis_prefix=prefix, secret_key="bench"))
        upgrade(services.db)
        from engine.auth.users import create_user, issue_token

        with services.db.transaction() as s:
            token = issue_token(s, create_user(s, "bench_ops", "ops", None, clock=SystemClock()),
                                clock=SystemClock())
        inventory = inventory_for(services)
        for i in range(SKUS):
            inventory.adjust(f"SKU-{i:03d}", 10**7, "bench seed", key=f"seed-{i}")
        if args.in_process_only:
            in_process_ratios(services, token, args.seconds, args.rounds)
            if inventory.gate is not None:
                inventory.gate.wipe()
            services.db.dispose()
            return
        env = dict(os.environ, ORDERPULSE_DATABASE_URL=url, ORDERPULSE_REDIS_PREFIX=prefix,
                   ORDERPULSE_SECRET_KEY="bench-secret")
        noop = Gunicorn("bench.support:noop_app()", env, args.workers, args.threads).start("/noop")
        servers.append(noop)
        app = Gunicorn("engine.app:create_app()", env, args.workers, args.threads).start()
        servers.append(app)

        auth = f"Host: bench\r\nAuthorization: Bearer {token}\r\n"

        def noop_request(n: int, tag: str) -> bytes:
            return b"GET /noop HTTP/1.1\r\nHost: bench\r\n\r\n"

        def read_request(n: int, tag: str) -> bytes:
            return f"GET /api/v1/stock/SKU-{(n * 31 + len(tag)) % SKUS:03d} HTTP/1.1\r\n{auth}\r\n".encode()

        def reserve_request(n: int, tag: str) -> bytes:
            body = json.dumps({"order_id": f"{tag}-{n}",
                               "lines": [{"sku_id": f"SKU-{(n * 31 + len(tag)) % SKUS:03d}", "qty": 1}]}).encode()
            return (f"POST /api/v1/stock/reserve HTTP/1.1\r\n{auth}Content-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode() + body

        phases = [("no-op Flask route (GET /noop)", noop, noop_request),
                  ("GET /api/v1/stock/{sku} (auth + 1 read)", app, read_request),
                  ("POST /api/v1/stock/reserve", app, reserve_request)]
        totals = {name: PhaseResult() for name, _, _ in phases}
        load = os.getloadavg()
        print(f"http reserve bench: {os.cpu_count()} cores, load average {load[0]:.2f} at start; gunicorn gthread "
              f"{args.workers} workers x {args.threads} threads per server; {args.clients} kept-alive clients; "
              f"{args.rounds} rounds of {args.seconds / args.rounds:.1f} s per phase, phases in turn")
        for _name, server, make in phases:  # warm up: each worker's first requests build lazy state
            http_phase(server, make, clients=args.clients, seconds=1.0, tag=f"w{uuid.uuid4().hex[:4]}")
        for r in range(args.rounds):
            for name, server, make in phases:
                totals[name].add(http_phase(server, make, clients=args.clients, seconds=args.seconds / args.rounds,
                                            tag=f"r{r}{uuid.uuid4().hex[:4]}"))
        for name, result in totals.items():
            per = {k: v * 1000 / result.count for k, v in sorted(result.cpu.items()) if k != "gunicorn"}
            print(f"  {name:<42} {result.rate:>7,.0f}/s  p50 {pct(result.latencies, .5):5.2f} ms  "
                  f"p99 {pct(result.latencies, .99):6.2f} ms  app CPU {result.app_ms():.3f} ms/req  "
                  f"status {dict(sorted(result.codes.items()))}")
            print("      other CPU ms/req: " + ", ".join(f"{k} {v:.3f}" for k, v in per.items())
                  + f"; app+postgres+redis {result.app_ms() + per.get('postgres', 0) + per.get('redis', 0):.3f}")
        floor, read, reserve = (totals[name] for name, _, _ in phases)
        cpu_ratio = reserve.app_ms() / floor.app_ms()
        rate_ratio = reserve.rate / read.rate
        print(f"  app CPU per reservation / no-op route: {cpu_ratio:.2f}x (goal <= 2.0x: "
              f"{'met' if cpu_ratio <= 2.0 else 'NOT met'}); per GET /stock: {read.app_ms() / floor.app_ms():.2f}x")
        print(f"  reservations/s / GET /stock/s: {rate_ratio:.2f}x (goal >= 0.9x: "
              f"{'met' if rate_ratio >= 0.9 else 'NOT met'})")
        in_process_ratios(services, token, args.seconds, args.rounds)
        problems = check_invariants(services.db)
        print(f"  ledger == counters, zero oversell: {'yes' if not problems else problems[:5]}; "
              f"load average at the end {os.getloadavg()[0]:.2f} (the machine is shared: absolute numbers are noisy)")
        gate = inventory.gate
        if gate is not None:
            gate.wipe()
        services.db.dispose()
        if problems:
            raise SystemExit(1)
    finally:
        for server in servers:
            server.stop()
        drop()


if __name__ == "__main__":
    main()
