"""What the drill measures: a sample every second while it runs (orders placed and stored,
the pipeline's and the outbox's backlog, write-back and stock-push latency, CPU by process
kind) and the verdicts at the end, read from the drill's journal and, read-only, from the
database OrderPulse wrote:

- oversell (must be 0): units the warehouse shipped beyond the stock it was given, per SKU,
  plus any SKU whose reservations exceed its stock in the record;
- ledger replayed == counters (must hold): :func:`engine.inventory.audit.check_invariants`;
- orders lost (placed, never stored) and stuck (stored, pipeline neither done nor held by a
  rule — unless made ready in the last :data:`STUCK_GRACE_S` without a failure, i.e. on its way;
  shipped, write-back neither accepted nor dead) — must be 0;
- tickets past deadline with no alert: deadlines due and never fired (the workflow's
  ``on deadline`` notification is the alert that exists today);
- dead letters that were not permanent errors (must be 0): dead outbox rows whose last error
  is not a configuration error (the connectors mark those "retrying will not help");
- bad signatures accepted (must be 0);
- fulfillment deviation caused by the system (:func:`late_shipments`): orders past their
  promise, shipped or not, although the warehouse had them packed in time: OrderPulse refused
  the ship (not arrived, not reserved yet), answered it after the promise, or kept every scanner
  of the warehouse waiting for its answers while the order waited for one. Late by the warehouse:
  packed after the promise. Orders held by a rule or short of stock are counted apart;
- latency p50/p95/p99 per hour of the day, backlog over time, CPU seconds per order.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from engine.drill.actors import Clock, Journal
from engine.drill.target import Target
from engine.inventory.audit import check_invariants
from engine.inventory.models import LedgerEntry, StockItem
from engine.orders.model import Order
from engine.orders.pipeline_model import OrderPipeline
from engine.storage.db import Database
from engine.storage.models import OutboxMessage
from engine.workflow.models import WorkflowDeadline

PERMANENT_MARKERS = ("retrying will not help", "configuration error")
STUCK_GRACE_S = 30.0  # an order ready this recently (a platform change at the end) is in flight
MUST_BE_ZERO = ("oversell", "ledger_mismatches", "orders_lost", "orders_stuck", "writebacks_stuck",
                "dead_letters_not_permanent", "bad_signatures_accepted")


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99),
            "max": max(values) if values else None}


@dataclass
class Sample:
    t: float
    hour: float
    placed: int
    stored: int
    pipeline_backlog: int
    held: int
    outbox_pending: int
    warehouse_waiting: int
    writeback_p95_ms: float | None
    cpu: dict[str, float] = field(default_factory=dict)
    writebacks_waiting: int = 0  # write-backs not delivered yet, also those waiting for a retry


def _writebacks_pending(s: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == "pending", OutboxMessage.topic == "order.writeback")) or 0)


class Sampler:
    """One :class:`Sample` a second; ``line()`` is the progress line."""

    def __init__(self, db: Database, journal: Journal, clock: Clock, target: Target, warehouse: Any,
                 total: int) -> None:
        self.db, self.journal, self.clock, self.target, self.warehouse = db, journal, clock, target, warehouse
        self.total = total
        self.samples: list[Sample] = []
        self.drill_cpu0 = time.process_time()

    def cpu(self) -> dict[str, float]:
        out = self.target.cpu_by_kind()
        out["drill (fakes, actors)"] = time.process_time() - self.drill_cpu0
        return out

    def take(self) -> Sample:
        with self.db.session() as s:
            stored = int(s.scalar(select(func.count()).select_from(Order)) or 0)
            backlog = int(s.scalar(select(func.count()).select_from(OrderPipeline)
                                   .where(OrderPipeline.status.not_in(("done", "held")))) or 0)
            held = int(s.scalar(select(func.count()).select_from(OrderPipeline)
                                .where(OrderPipeline.status == "held")) or 0)
            pending = int(s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= datetime.now(UTC))) or 0)
            writebacks = _writebacks_pending(s)
        now = time.time()
        with self.journal.lock:
            placed = len(self.journal.orders)
            recent = [(self.journal.accepted_writebacks[o.tracking_no] - (o.ship_posted or 0)) * 1000
                      for o in self.warehouse.shipped[-300:]
                      if o.tracking_no in self.journal.accepted_writebacks and o.ship_posted]
        sample = Sample(now, self.clock.hour(now), placed, stored, backlog, held, pending, self.warehouse.pending(),
                        pct(recent, 95), self.cpu(), writebacks)
        self.samples.append(sample)
        return sample

    def line(self, s: Sample) -> str:
        width = 24
        done = int(width * min(1.0, s.placed / max(1, self.total)))
        wb = f"{s.writeback_p95_ms:.0f}ms" if s.writeback_p95_ms is not None else "-"
        return (f"[{'#' * done}{'.' * (width - done)}] {s.hour:5.1f}h  orders {s.placed}/{self.total} "
                f"stored {s.stored}  pipeline backlog {s.pipeline_backlog}  outbox {s.outbox_pending}  "
                f"warehouse queue {s.warehouse_waiting}  write-back p95 {wb}")

    def run(self, stop: threading.Event, echo: Any) -> None:
        while not stop.wait(1.0):
            try:
                echo(self.line(self.take()))
            except Exception as exc:  # noqa: BLE001 - a missed sample is not a failed drill
                echo(f"(sample failed: {type(exc).__name__})")


def _by_hour(points: list[tuple[float, float]]) -> list[dict[str, Any]]:
    buckets: dict[int, list[float]] = defaultdict(list)
    for hour, value in points:
        buckets[max(0, int(hour))].append(value)
    return [{"hour": h, **summary(v)} for h, v in sorted(buckets.items())]


def verdicts(db: Database, journal: Journal, clock: Clock, warehouse: Any, plan_stock: dict[str, int],
             promise_seconds: float) -> dict[str, Any]:
    """The end-of-drill measures; see the module docstring."""
    with db.snapshot() as s:  # one moment, though OrderPulse may still be writing
        stored = {(c, o): pk for pk, c, o in s.execute(select(Order.id, Order.channel, Order.order_id))}
        rows = list(s.execute(select(OrderPipeline.order_pk, OrderPipeline.status, OrderPipeline.hold_reason,
                                     OrderPipeline.held_by, OrderPipeline.short_skus, OrderPipeline.due_at,
                                     OrderPipeline.attempts)))
        pipeline = {pk: (st, reason or by or ("缺货" if short else None)) for pk, st, reason, by, short, _, _ in rows}
        # an order made ready by a platform change in the last moments is on its way, not stuck;
        # one that failed, or has waited longer than the grace, is stuck
        in_flight = {pk for pk, st, *_, due, attempts in rows
                     if st not in ("done", "held") and not attempts and due.timestamp() > time.time() - STUCK_GRACE_S}
        stock = {r.sku_id: r for r in s.scalars(select(StockItem))}
        ledger = [(sku, at.timestamp()) for sku, at in
                  s.execute(select(LedgerEntry.sku_id, LedgerEntry.at).order_by(LedgerEntry.at))]
        dead = [(t, e or "") for t, e in s.execute(select(OutboxMessage.topic, OutboxMessage.last_error)
                                                   .where(OutboxMessage.status == "dead"))]
        writebacks_pending = _writebacks_pending(s)
        now = db_now = time.time()
    with journal.lock:
        orders = list(journal.orders)
        shipped = list(warehouse.shipped)
        accepted = dict(journal.accepted_writebacks)
        pushes = list(journal.stock_pushes)
    # oversell: what left the warehouse against what it was given
    units: dict[str, int] = defaultdict(int)
    for o in shipped:
        for code, qty in o.planned.lines:
            units[code] += qty
    oversell = sum(max(0, q - plan_stock.get(code, 0)) for code, q in units.items())
    oversell += sum(max(0, r.reserved_stock - r.total_stock) + max(0, -r.total_stock) for r in stock.values())
    ledger_problems = check_invariants(db)
    lost = [o for o in orders if (o.channel, o.order_id) not in stored]
    held: dict[str, int] = defaultdict(int)
    stuck = []
    for o in orders:
        pk = stored.get((o.channel, o.order_id))
        if pk is None:
            continue
        status, reason = pipeline.get(pk, ("missing", None))
        if status == "held":
            held[(reason or "held").split("：")[0][:40]] += 1
        elif status != "done" and pk not in in_flight:
            stuck.append(o)
    dead_not_permanent = [(t, e) for t, e in dead if not any(m in e for m in PERMANENT_MARKERS)]
    # latencies by hour of the day
    wb_points = [(clock.hour(o.ship_posted), (accepted[o.tracking_no] - o.ship_posted) * 1000)
                 for o in shipped if o.ship_posted and o.tracking_no in accepted]
    by_sku: dict[str, list[float]] = defaultdict(list)
    for sku, at in ledger:
        by_sku[sku].append(at)
    stock_points = []
    import bisect

    for at, sku in pushes:
        times = by_sku.get(sku)
        if not times:
            continue
        i = bisect.bisect_right(times, at) - 1
        if i >= 0 and times[i] >= clock.start:
            stock_points.append((clock.hour(at), (at - times[i]) * 1000))
    late = late_shipments(orders, promise_seconds, now,
                          held={(o.channel, o.order_id) for o in orders
                                if pipeline.get(stored.get((o.channel, o.order_id), -1), ("", None))[0] == "held"})
    overdue, fired = tickets_past_deadline(db, db_now)
    not_shipped = [o for o in orders if o.ship_answered is None and not o.planned.presale]
    return {
        "orders_placed": len(orders), "orders_stored": sum(1 for o in orders if (o.channel, o.order_id) in stored),
        "orders_shipped": len(shipped), "orders_held": dict(held),
        "orders_not_shipped_by_reason": _count(o.last_refusal or "unknown" for o in not_shipped),
        "oversell": oversell,
        "ledger_mismatches": len(ledger_problems), "ledger_problems": ledger_problems[:20],
        "orders_lost": len(lost), "orders_lost_sample": [f"{o.channel}/{o.order_id}" for o in lost[:20]],
        "orders_stuck": len(stuck),
        "orders_stuck_sample": [f"{o.channel}/{o.order_id}: {pipeline.get(stored[(o.channel, o.order_id)])}"
                                for o in stuck[:20]],
        "writebacks_stuck": writebacks_pending,
        "writebacks_not_seen_by_platform": sum(1 for o in shipped if o.tracking_no not in accepted and o.number),
        "dead_letters": len(dead), "dead_letters_not_permanent": len(dead_not_permanent),
        "dead_letters_sample": [f"{t}: {e[:160]}" for t, e in dead_not_permanent[:10]],
        "tickets_past_deadline_no_alert": overdue, "deadline_alerts_fired": fired,
        "bad_signatures_sent": journal.bad_signatures_sent, "bad_signatures_accepted": journal.bad_signatures_accepted,
        "returns_opened": journal.returns_opened, "returns_closed": journal.returns_closed,
        "qc_failed": journal.qc_failed, "approvals_sent": journal.approvals_sent,
        "approvals_repeated": journal.approvals_repeated,
        "late_shipments_caused_by_system": sum(late[c] for c in SYSTEM_CAUSES),
        "late_shipments_caused_by_warehouse": late["warehouse"], "late_shipments_by_cause": late,
        "writeback_latency_ms": summary([v for _, v in wb_points]), "writeback_latency_by_hour": _by_hour(wb_points),
        "stock_push_latency_ms": summary([v for _, v in stock_points]),
        "stock_push_latency_by_hour": _by_hour(stock_points),
        "api_errors": dict(journal.api_errors), "faults": list(journal.faults), "measured_at": now,
    }


LATE_CAUSES = {
    "warehouse": "packed after the promise (the warehouse's pick time)",
    "not_ready": "OrderPulse refused the ship (not arrived or not reserved yet)",
    "slow_answer": "posted before the promise, answered after it",
    "waited_for_answers": "packed in time, it waited for a scanner while every scanner waited for OrderPulse",
    "held": "held by a rule or short of stock (not a question of speed)",
}
SYSTEM_CAUSES = ("not_ready", "slow_answer", "waited_for_answers")


def late_shipments(orders: list[Any], promise_seconds: float, now: float,
                   held: set[tuple[str, str]]) -> dict[str, int]:
    """Orders past their promise at ``now`` (shipped after it, or not shipped by then), by cause
    (:data:`LATE_CAUSES`); presale orders ship after the day and are left out. ``held``: order
    (channel, order id)s whose pipeline is held (a rule or short stock) when they are not shipped.

    The drill's warehouse packs each order ``pick_minutes`` after it was placed (``ship_due``);
    from then on, every moment the order is not shipped is OrderPulse's: refusing it, answering
    slowly, or holding the warehouse's scanners on slow answers so that packed orders queue."""
    causes = dict.fromkeys(LATE_CAUSES, 0)
    for o in orders:
        if o.planned.presale or not o.ship_due:
            continue
        promise = o.placed_at + promise_seconds
        shipped = o.ship_answered is not None
        if (o.ship_answered if shipped else now) <= promise:
            continue
        if o.ship_due > promise:
            cause = "warehouse"
        elif not shipped and (o.channel, o.order_id) in held:
            cause = "held"
        elif o.ship_refusals:
            cause = "not_ready"
        elif shipped and o.ship_posted is not None and o.ship_posted <= promise:
            cause = "slow_answer"
        else:
            cause = "waited_for_answers"
        causes[cause] += 1
    return causes


def tickets_past_deadline(db: Database, now: float) -> tuple[int, int]:
    """(tickets past a state deadline with no alert, deadline alerts fired).

    The alert that exists today is the workflow's own: a state's ``deadline`` fires its
    ``on deadline`` handler (a notification through the outbox) once, and marks the deadline
    ``fired``. A deadline due and still ``pending`` is a ticket past its deadline that nobody
    was told about. Hook for ``engine/alerts``: when alert firings are stored, count a ticket
    as alerted when either its deadline fired or an alert firing names it."""
    with db.session() as s:
        rows = list(s.execute(select(WorkflowDeadline.status, WorkflowDeadline.due_at)))
    overdue = sum(1 for st, due in rows if st == "pending" and due.timestamp() <= now)
    return overdue, sum(1 for st, _ in rows if st == "fired")


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for item in items:
        out[str(item)] += 1
    return dict(out)
