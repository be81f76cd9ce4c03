"""One drill from start to report: fakes up, OrderPulse started (:mod:`engine.drill.target`),
the shop set up through the API, the day replayed by the actors with the fault timeline, the
system given time to drain, the verdicts measured and the report written.

The fake counterparts are handed in by the command line (the composition root) as
:class:`Counterparts`; this package imports no connector.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from engine.drill.actors import SCANNERS, Api, Clock, Customers, Journal, Shop, Warehouse, stamp_accepts
from engine.drill.faults import FaultTimeline
from engine.drill.measures import Sampler, verdicts
from engine.drill.report import failures, summary_lines, write_report
from engine.drill.scenario import Scenario, plan_day
from engine.drill.setup import publish_rulesets, stock_the_shop
from engine.drill.target import start_target
from engine.storage.db import Database

FINAL_DRAIN_SECONDS = 30.0  # after the actors stop: their last write-backs and pushes go out


@dataclass
class Counterparts:
    """The fakes the drill drives: ``fakes`` (started, with ``platforms`` by channel and
    ``environment()``), ``order_id_of(channel, scenario order)`` (the platform's order id),
    ``approvals`` (builds DingTalk approval callbacks), ``approval_env`` (its token and key)."""

    fakes: Any
    order_id_of: Callable[[str, Any], str]
    approvals: Any
    approval_env: dict[str, str]


@dataclass(frozen=True)
class DrillOptions:
    speed: float = 100.0
    database_url: str | None = None
    redis_url: str | None = None
    serves: int = 1
    workers: int = 0
    report_dir: Path = Path("drill-report")
    faults: frozenset[str] | None = None  # None: every fault of the scenario
    seed: int = 20261111
    settle_seconds: float | None = None
    warehouse_threads: int = SCANNERS
    keep: bool = False  # keep the work folder (database, logs) after the drill


def run_drill(scenario: Scenario, options: DrillOptions, counterparts: Counterparts,
              echo: Callable[[str], None] = print, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    plan = plan_day(scenario, options.seed)
    fakes = counterparts.fakes
    journal = Journal()
    for fake in fakes.platforms.values():
        stamp_accepts(fake, journal)
    work = Path(tempfile.mkdtemp(prefix="orderpulse-drill-"))
    env = {**fakes.environment(), **counterparts.approval_env}
    echo(f"starting OrderPulse ({'PostgreSQL' if (options.database_url or '').startswith('postgresql') else 'SQLite'}"
         f"{' + Redis' if options.redis_url else ''}, {options.serves} serve, {options.workers} worker) in {work}")
    target = start_target(work, env, database_url=options.database_url, redis_url=options.redis_url,
                          serves=options.serves, workers=options.workers)
    db = Database(target.database_url)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    started = time.time()
    try:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {target.token}"
        published = publish_rulesets(http, target.apis[0], scenario, options.speed)
        echo(f"published {len(published)} rulesets: {', '.join(published)}")
        stock_the_shop(http, target.apis[0], plan, fakes.platforms)
        echo(f"stocked {len(plan.stock)} SKUs ({sum(plan.stock.values())} units; hot SKUs below demand: "
             f"{', '.join(f'{c} {plan.stock[c]}/{plan.demand[c]}' for c in plan.hot)})")
        for channel, fake in fakes.platforms.items():
            push = getattr(fake, "push", None)
            if push is not None:
                push.push_to(f"{target.bases[0]}/api/v1/sources/{channel}/push")
        api = Api(target.apis, target.token)
        clock = Clock(options.speed)
        by_role = {role: Api(target.apis, token) for role, token in target.tokens.items()}
        warehouse = Warehouse(scenario, clock, by_role["warehouse"], journal, threads=options.warehouse_threads)
        customers = Customers(clock, api, journal, fakes.platforms, counterparts.approvals, target.bases, by_role)
        warehouse.on_shipped = customers.shipped
        shop = Shop(plan, scenario, clock, fakes.platforms, counterparts.order_id_of, api, journal, warehouse.receive)
        timeline = FaultTimeline(scenario.faults, clock, fakes.platforms, target, counterparts.approvals, journal,
                                 only=set(options.faults) if options.faults is not None else None)
        sampler = Sampler(db, journal, clock, target, warehouse, len(plan.orders))
        for name, fn in (("shop", shop.run), ("warehouse", warehouse.run), ("customers", customers.run),
                         ("faults", timeline.run)):
            threads.append(threading.Thread(target=fn, args=(stop,), name=f"drill-{name}", daemon=True))
        threads.append(threading.Thread(target=sampler.run, args=(stop, progress or echo), name="drill-sampler",
                                        daemon=True))
        for t in threads:
            t.start()
        shop.done.wait()
        day_end = time.time()
        settle = options.settle_seconds if options.settle_seconds is not None else scenario.settle_seconds
        deadline = day_end + settle
        while time.time() < deadline:
            s = sampler.take()
            # returns still under way need not finish
            if (s.stored >= s.placed and s.pipeline_backlog == 0 and s.outbox_pending == 0
                    and s.writebacks_waiting == 0 and warehouse.pending() <= s.held):
                break
            time.sleep(1.0)
        drained_after = time.time() - day_end
        stop.set()
        for t in threads:
            t.join(timeout=30)
        # what the actors did in their last moment (a shipment just confirmed) is delivered before
        # the verdicts, write-backs waiting for a retry too: nothing new arrives now, so the system
        # is given a last short drain
        last = max(deadline, time.time()) + FINAL_DRAIN_SECONDS
        final = None
        while time.time() < last:
            s = sampler.take()
            if s.pipeline_backlog == 0 and s.outbox_pending == 0 and s.writebacks_waiting == 0:
                final = s  # the backlog at the end is this drained moment's; a late pull after it is new work
                break
            time.sleep(0.5)
        if final is None:
            final = sampler.take()
        measures = verdicts(db, journal, clock, warehouse, plan.stock,
                            clock.seconds(scenario.promise_ship_hours * 3600))
        cpu = sampler.cpu()
        n = max(1, measures["orders_placed"])
        samples = [vars(s) for s in sampler.samples]
        report = {
            "scenario": scenario.source, "orders": len(plan.orders), "speed": options.speed,
            "shape": _shape(options, target), "elapsed_seconds": time.time() - started,
            "day_seconds": day_end - clock.start, "drained_after_seconds": drained_after,
            "orders_per_second": measures["orders_placed"] / max(1e-9, day_end - clock.start),
            "cpu_seconds": cpu, "cpu_ms_per_order": {k: v * 1000 / n for k, v in cpu.items()},
            "backlog_end": {"pipeline": final.pipeline_backlog, "outbox": final.outbox_pending},
            "backlog_peak": {"pipeline": max((s.pipeline_backlog for s in sampler.samples), default=0),
                             "outbox": max((s.outbox_pending for s in sampler.samples), default=0)},
            "measures": measures, "samples": samples,
            "hot_skus": {c: {"stock": plan.stock[c], "demand": plan.demand[c]} for c in plan.hot},
        }
        report["failed"] = failures(measures)
        write_report(options.report_dir, report)
        for line in summary_lines(report):
            echo(line)
        echo(f"report: {options.report_dir / 'report.html'} and report.json")
        return report
    finally:
        stop.set()
        for fake in fakes.platforms.values():
            push = getattr(fake, "push", None)
            if push is not None:
                push.push_to(None)
        db.dispose()
        target.stop()
        logs = options.report_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for log in work.glob("*.log"):
            shutil.copy(log, logs / log.name)
        if options.keep:
            echo(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _shape(options: DrillOptions, target: Any) -> str:
    backend = "PostgreSQL" if (options.database_url or "").startswith("postgresql") else "SQLite (embedded default)"
    redis = " + Redis" if target.redis_url else ""
    runner = f"{options.workers} worker" if options.workers else "in-process runner"
    return f"{backend}{redis}, {options.serves} serve, {runner}"
