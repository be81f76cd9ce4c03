"""The storm: N processes hammer hot SKUs with random orders, partial ships, cancels and
replays until stock runs out, each writing its operation history as JSON lines.

Used by the storm test and the F1 fault test; workers build their own database and gate.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.clock import SystemClock
from engine.errors import ApiError
from engine.inventory.models import InventoryRequest, ReservationLine, StockItem
from engine.storage.db import Database
from tests.support.history_check import FinalLine, check_history, read_histories


@dataclass
class StormConfig:
    database_url: str
    redis_url: str | None
    redis_prefix: str
    out_dir: Path
    processes: int = 8
    skus: int = 20
    seconds: float = 25.0
    seed: int = 7
    most: int = 5  # each SKU starts with 1..most units


def seed_stock(inventory: Any, cfg: StormConfig) -> dict[str, int]:
    rng = random.Random(cfg.seed)
    initial = {f"HOT-{i:02d}": rng.randint(1, cfg.most) for i in range(cfg.skus)}
    for sku, qty in initial.items():
        inventory.adjust(sku, qty, "storm seed", key=f"seed:{sku}")
    return initial


def _service(cfg: StormConfig) -> Any:
    from engine.inventory.gate import RedisGate
    from engine.inventory.service import InventoryService, make_gate_client

    db = Database(cfg.database_url, pool_size=2)
    gate = RedisGate(make_gate_client(cfg.redis_url), cfg.redis_prefix) if cfg.redis_url else None
    inv = InventoryService(db, SystemClock(), gate)
    inv.ensure_gate()
    return inv


def worker(cfg: StormConfig, index: int) -> None:
    # Line-buffered: a worker killed mid-run leaves whole lines (its last call may lack an answer).
    with open(cfg.out_dir / f"history-{index}.jsonl", "w", encoding="utf-8", buffering=1) as out:
        _work(cfg, index, out)


def _work(cfg: StormConfig, index: int, out: Any) -> None:
    inv = _service(cfg)
    rng = random.Random(cfg.seed * 1000 + index)
    skus = [f"HOT-{i:02d}" for i in range(cfg.skus)]
    mine: list[tuple[str, list[dict[str, Any]]]] = []  # my acknowledged orders
    past: list[tuple[str, str, str, Any]] = []  # (op, key, order_id, lines) for replays
    sold_out_streak = 0
    deadline = time.monotonic() + cfg.seconds
    n = 0

    def call(op: str, key: str, order_id: str, lines: Any) -> Any:
        base = {"proc": index, "op": op, "key": key, "order_id": order_id, "lines": lines}
        out.write(json.dumps({**base, "type": "invoke", "t": time.time()}) + "\n")
        try:
            if op == "reserve":
                res = inv.reserve(order_id, lines, key=key, channel="storm")
            elif op == "ship":
                res = inv.ship(order_id, lines, key=key)
            else:
                res = inv.release(order_id, key=key)
        except ApiError as exc:
            out.write(json.dumps({**base, "type": "fail", "code": exc.code, "t": time.time()}) + "\n")
            return exc
        except Exception as exc:  # noqa: BLE001 - unknown outcome
            out.write(json.dumps({**base, "type": "info", "error": repr(exc)[:200], "t": time.time()}) + "\n")
            return exc
        out.write(json.dumps({**base, "type": "ok", "result": res.body, "replayed": res.replayed,
                              "gate": res.gate, "t": time.time()}) + "\n")
        return res

    while time.monotonic() < deadline and sold_out_streak < 40:
        n += 1
        roll = rng.random()
        if past and roll < 0.10:
            op, key, order_id, lines = rng.choice(past)
            call(op, key, order_id, lines)
            continue
        if mine and roll < 0.25:
            order_id, lines = rng.choice(mine)
            if rng.random() < 0.5:
                line = rng.choice(lines)
                part = [{"sku_id": line["sku_id"], "qty": 1}]
                key = f"{order_id}:ship:{n}"
                call("ship", key, order_id, part)
                past.append(("ship", key, order_id, part))
            else:
                key = f"{order_id}:cancel"
                call("release", key, order_id, None)
                past.append(("release", key, order_id, None))
                mine.remove((order_id, lines))
            continue
        lines = [{"sku_id": rng.choice(skus), "qty": rng.randint(1, 2)} for _ in range(rng.randint(1, 3))]
        order_id = f"p{index}-o{n}"
        res = call("reserve", order_id, order_id, lines)
        past.append(("reserve", order_id, order_id, lines))
        if isinstance(res, ApiError) and res.code == "insufficient_stock":
            sold_out_streak += 1
        elif not isinstance(res, Exception):
            sold_out_streak = 0
            mine.append((order_id, lines))
    inv.close()
    inv.db.dispose()


def run_storm(cfg: StormConfig, *, during: Any = None, started: Any = None) -> list[mp.Process]:
    """Start the workers (fork), hand them to ``started``, call ``during()`` while they run,
    wait for them."""
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=worker, args=(cfg, i), daemon=True) for i in range(cfg.processes)]
    for p in procs:
        p.start()
    if started is not None:
        started(procs)
    if during is not None:
        during()
    for p in procs:
        p.join(cfg.seconds + 60)
    return procs


def check_storm(db: Database, cfg: StormConfig, initial: dict[str, int]) -> tuple[list[str], int]:
    events = read_histories(sorted(cfg.out_dir.glob("history-*.jsonl")))
    with db.session() as s:
        stock = {r.sku_id: (r.total_stock, r.reserved_stock) for r in s.scalars(select(StockItem))}
        lines = [FinalLine(r.order_id, r.sku_id, r.qty, r.qty_shipped, r.qty_released)
                 for r in s.scalars(select(ReservationLine))]
        keys = set(s.scalars(select(InventoryRequest.key).where(InventoryRequest.operation == "reserve")))
    ops = sum(1 for e in events if e["type"] == "invoke")
    return check_history(events, initial, stock, lines, keys), ops
