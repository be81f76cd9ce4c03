"""Workflow engine speed, each figure next to its baseline from the same run.

1. In memory: tickets through the after-sales path (5 transitions each) through the engine's
   real decision, ``CompiledMachine.check_action`` (one shared ``transitions`` machine per
   declaration version; state, webhook-only, role, required fields, field types and guard as the
   library's trigger and conditions, effects collected by its callback) vs. the naive use of
   ``transitions`` (a new ``Machine`` per ticket, state only, no checks).
2. Persisted: ``fire_action`` (checks, conditional UPDATE, history row, outbox, deadlines; one
   transaction each) on SQLite and, when reachable, PostgreSQL; also the statements each
   transition sends (BEGIN and COMMIT included; psycopg's implicit BEGIN is not a statement).
3. Webhook → transition latency (p50/p99) with 50 concurrent clients against a real
   ``orderpulse serve`` subprocess (SQLite), signed HMAC-SHA256 requests.

Run: ``.venv/bin/python bench/workflow.py [--quick]``. Goals: in-memory ≥ 2× naive, SQLite
persisted ≥ 1,000 transitions/s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from transitions import Machine

from dsl.parser import parse_text
from engine.clock import SystemClock
from engine.config import Settings
from engine.drill.listening import free_port, wait_until_answering
from engine.services import Services
from engine.storage.migrate import upgrade
from engine.workflow import service
from engine.workflow.machine import CompiledMachine, Move
from engine.workflow.webhooks import sign_body

TEMPLATE = (ROOT / "templates_library" / "aftersales_standard.op").read_text(encoding="utf-8")
# the 补发 branch of the standard after-sales machine: five staff actions from 待审核 to 已关闭
PERSIST_PATH = [("审核通过", "cs", {}), ("登记退货物流", "cs", {"return_tracking_no": "SF1"}),
                ("质检通过", "warehouse", {"qc_result": "合格"}), ("生成补发单", "cs", {}), ("补发签收", "cs", {})]
HOOK_RULES = """
hook bench_carrier signed {
    secret env BENCH_HOOK_SECRET
    ticket = payload.ticket_id
}
machine delivery "配送" {
    data { order_id: text }
    initial 运输中
    state 运输中 owner 平台 deadline 3d
    state 已签收 final
    action 签收 from 运输中 to 已签收 via webhook bench_carrier
}
"""


class NaiveTicket:
    def __init__(self) -> None:
        self.state = ""


def bench_in_memory(tickets: int, slices: int = 8) -> dict[str, float]:
    """Both sides in interleaved slices, timed in CPU seconds of this process (``process_time``),
    so other load on a shared machine does not count against either."""
    decl = parse_text(TEMPLATE).machines[0]
    compiled = CompiledMachine("aftersales_standard", 1, decl, parse_text(TEMPLATE))
    steps = [a for a, _, _ in PERSIST_PATH]
    roles = [r for _, r, _ in PERSIST_PATH]
    payloads = [dict(p) for _, _, p in PERSIST_PATH]
    spec = {"states": [s.name for s in decl.states], "initial": decl.initial,
            "transitions": [{"trigger": a.name, "source": list(a.sources), "dest": a.target} for a in decl.actions],
            "auto_transitions": False}

    def ours(n_tickets: int) -> float:
        start = time.process_time()
        for n in range(n_tickets):
            state, data = compiled.initial, {"order_id": "O", "consumer_id": "c"}
            for action, role, payload in zip(steps, roles, payloads):
                decision = compiled.check_action(state, action, payload, data=data, instance_id=n, role=role)
                assert isinstance(decision, Move), decision
                state, data = decision.target, decision.data
        return time.process_time() - start

    def naive(n_tickets: int) -> float:
        start = time.process_time()
        for _ in range(n_tickets):
            model = NaiveTicket()
            Machine(model=model, **spec)
            for action in steps:
                model.trigger(action)  # type: ignore[attr-defined]
        return time.process_time() - start

    per_slice, naive_per_slice = max(tickets // slices, 1), max(tickets // slices // 10, 20)
    ours_cpu = naive_cpu = 0.0
    for _ in range(slices):
        ours_cpu += ours(per_slice)
        naive_cpu += naive(naive_per_slice)
    return {"ours_checked": slices * per_slice * len(steps) / ours_cpu,
            "naive": slices * naive_per_slice * len(steps) / naive_cpu}


def _publish(services: Services, name: str, content: str) -> None:
    from engine.rulesets import service as rulesets

    now = services.clock.now()
    with services.db.transaction(immediate=True) as s:
        rulesets.create_ruleset(s, name=name, content=content, actor="bench", now=now)
    with services.db.transaction(immediate=True) as s:
        rulesets.publish(s, name, actor="bench", now=now)


def _statements_per_transition(services: Services, tid: int) -> float:
    """Round trips per transition (statements, plus COMMIT) over the after-sales path, counted on
    one more ticket after the timed run so the counter costs the timing nothing."""
    from sqlalchemy import event

    count = 0

    def on_statement(*_: object) -> None:
        nonlocal count
        count += 1

    event.listen(services.db.engine, "before_cursor_execute", on_statement)
    event.listen(services.db.engine, "commit", on_statement)
    try:
        for action, role, payload in PERSIST_PATH:
            service.fire_action(services, tid, action, dict(payload), actor="bench", role=role,
                                idempotency_key=f"{tid}:{action}")
    finally:
        event.remove(services.db.engine, "before_cursor_execute", on_statement)
        event.remove(services.db.engine, "commit", on_statement)
    return count / len(PERSIST_PATH)


def bench_persisted(url: str, tickets: int) -> tuple[float, float, float]:
    """(transitions/s by the wall clock, transitions/s per CPU-second of this process,
    statements per transition)."""
    services = Services.build(Settings(database_url=url, secret_key="bench"), clock=SystemClock())
    upgrade(services.db)
    _publish(services, "aftersales_standard", TEMPLATE)
    ids = [service.create_instance(services, "aftersales", {"order_id": f"O{i}", "consumer_id": "c"},
                                   actor="bench")["id"] for i in range(tickets + 1)]
    counted = ids.pop()
    service.fire_action(services, ids[0], "审核通过", {}, actor="warm", role="cs")  # warm the registry
    start, cpu = time.perf_counter(), time.process_time()
    fired = 0
    for tid in ids[1:]:
        for action, role, payload in PERSIST_PATH:
            service.fire_action(services, tid, action, dict(payload), actor="bench", role=role,
                                idempotency_key=f"{tid}:{action}")
            fired += 1
    rate = fired / (time.perf_counter() - start)
    cpu_rate = fired / max(time.process_time() - cpu, 1e-9)
    statements = _statements_per_transition(services, counted)
    services.db.dispose()
    return rate, cpu_rate, statements


def bench_webhooks(tickets: int, clients: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="op-bench-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    secret = "bench-" + uuid.uuid4().hex
    os.environ["BENCH_HOOK_SECRET"] = secret
    services = Services.build(Settings(database_url=url, secret_key="bench"), clock=SystemClock())
    upgrade(services.db)
    _publish(services, "deliveries", HOOK_RULES)
    ids = [service.create_instance(services, "delivery", {"order_id": f"D{i}"}, actor="bench")["id"]
           for i in range(tickets + 1)]
    services.db.dispose()
    port = free_port()
    env = {**os.environ, "ORDERPULSE_DATABASE_URL": url, "BENCH_HOOK_SECRET": secret}
    env.pop("ORDERPULSE_REDIS_URL", None)
    server = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", str(port), "--threads", "16"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(base + "/healthz", 20, process=server, request_timeout=1, what="orderpulse serve")
        warm = ids.pop()  # one request first, so the timed run measures a warm server (parsed ruleset)
        body = json.dumps({"ticket_id": warm, "event_id": "warm-up"}).encode()
        ts = str(int(time.time()))
        urllib.request.urlopen(urllib.request.Request(
            base + "/api/v1/hooks/bench_carrier", data=body, method="POST", headers={
                "Content-Type": "application/json", "X-OrderPulse-Timestamp": ts,
                "X-OrderPulse-Signature": sign_body(secret, ts, body)}), timeout=60).read()
        latencies: list[float] = []
        failures: list[str] = []
        lock = threading.Lock()
        chunks = [ids[i::clients] for i in range(clients)]
        barrier = threading.Barrier(clients)

        def client(chunk: list[int]) -> None:
            barrier.wait()
            for tid in chunk:
                body = json.dumps({"ticket_id": tid, "event_id": f"evt-{tid}"}).encode()
                ts = str(int(time.time()))
                req = urllib.request.Request(base + "/api/v1/hooks/bench_carrier", data=body, method="POST", headers={
                    "Content-Type": "application/json", "X-OrderPulse-Timestamp": ts,
                    "X-OrderPulse-Signature": sign_body(secret, ts, body)})
                t0 = time.perf_counter()
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        ok = resp.status == 200 and json.loads(resp.read())["instance"]["state"] == "已签收"
                except OSError as exc:
                    ok = False
                    with lock:
                        failures.append(str(exc))
                elapsed = time.perf_counter() - t0
                with lock:
                    if ok:
                        latencies.append(elapsed)
                    elif len(failures) < 5:
                        failures.append(f"ticket {tid}: unexpected answer")

        threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
        wall = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - wall
    finally:
        server.terminate()
        server.wait(timeout=10)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else [0.0] * 99
    return {"ok": len(latencies), "sent": len(ids), "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
            "per_s": len(latencies) / wall, "failures": len(failures)}


def _postgres_url() -> str | None:
    base = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
        schema = f"op_bench_{uuid.uuid4().hex[:10]}"
        with engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception:  # noqa: BLE001 - PostgreSQL is optional for the bench
        return None
    from urllib.parse import quote

    return f"{base}?options={quote(f'-csearch_path={schema}')}"


def _drop_schema(url: str) -> None:
    from urllib.parse import unquote

    from sqlalchemy import create_engine, text

    base, _, opts = url.partition("?options=")
    schema = unquote(opts).split("=", 1)[1]
    engine = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (CI smoke run)")
    args = parser.parse_args()
    mem_n, db_n, hook_n = (2000, 60, 300) if args.quick else (20000, 400, 2000)

    mem = bench_in_memory(mem_n)
    print(f"in-memory ({mem_n} tickets x 5 transitions; CPU time, interleaved slices)")
    print(f"  check_action, every check (ours)     {mem['ours_checked']:>12,.0f} transitions/s")
    print(f"  naive: new transitions.Machine each  {mem['naive']:>12,.0f} transitions/s")
    print(f"  ratio checked/naive {mem['ours_checked'] / mem['naive']:.1f}x  (goal >= 2x)")

    with tempfile.TemporaryDirectory(prefix="op-bench-") as folder:
        lite = bench_persisted(f"sqlite:///{folder}/persist.db", db_n)
    print(f"persisted fire_action, one transaction each ({(db_n - 1) * 5} transitions: checks, history row, "
          "outbox, deadlines, Idempotency-Key)")
    print(f"  SQLite      {lite[0]:>10,.0f} transitions/s wall, {lite[1]:>8,.0f}/s per CPU-second  (goal >= 1,000/s)"
          f"  {lite[2]:.1f} statements/transition")
    pg = _postgres_url()
    if pg is None:
        print("  PostgreSQL  not reachable, skipped")
    else:
        try:
            rates = bench_persisted(pg, db_n)
            print(f"  PostgreSQL  {rates[0]:>10,.0f} transitions/s wall, {rates[1]:>8,.0f}/s per CPU-second (client side)"
                  f"  {rates[2]:.1f} statements/transition")
        finally:
            _drop_schema(pg)
    print(f"  (cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} at the end)")

    hooks = bench_webhooks(hook_n, 50)
    print(f"webhook -> transition via `orderpulse serve` (SQLite, 50 concurrent clients, {hook_n} events)")
    print(f"  ok {hooks['ok']}/{hooks['sent']}  p50 {hooks['p50_ms']:.1f} ms  p99 {hooks['p99_ms']:.1f} ms  "
          f"throughput {hooks['per_s']:,.0f}/s  failures {hooks['failures']}")


if __name__ == "__main__":
    main()
