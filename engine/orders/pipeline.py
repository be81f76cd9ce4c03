"""The order pipeline's durable driver: every stored order carried through its stages.

Owns the protocol, not what a stage does (stages: :mod:`engine.orders.pipeline_stages`).

1. **The record.** The store writes an ``order_pipeline`` row in the transaction that creates
   an order (``ready``, from the first stage) and makes it ``ready`` again in the transaction
   that stores a newer revision (:mod:`engine.orders.pipeline_rows`). Nothing else starts work.
2. **A batch, one transaction.** :meth:`Pipeline.run_batch` claims up to ``batch`` ready rows
   that are due, oldest first (``FOR NO KEY UPDATE … SKIP LOCKED`` on PostgreSQL, the orders
   row first, as the store locks it, so concurrent workers never take the same order or
   deadlock with intake, while a shipment of the order, a foreign-key check, need not wait;
   ``BEGIN IMMEDIATE`` on SQLite), moves each order as far as it can, writes the rows, the
   timeline entries and the stages' own rows, and commits once. A kill at any
   point loses the whole batch's work and nothing else: the rows are still ready, the stages
   run again and, having left nothing behind, act once. Each order runs in a savepoint (issued
   on the driver's connection: SQLAlchemy's nested transactions cost more than the stages), so
   a stage that fails rolls back only its order: the row keeps its stage, counts the attempt,
   keeps the error and is due again after a backoff (:data:`RETRY_SECONDS`). What stages keep
   for the whole batch (:data:`~engine.orders.pipeline_stages.BATCH_SCOPES`: the ticket stage's
   new tickets) follows the savepoints and is written once, after the last order; when that
   write fails the batch is rolled back and run again one order at a time (no scopes), so a
   bad order still fails alone.
3. **Moving an order.** A dropped order is ``done`` at once. A newer revision first runs the
   follow-ups of the stages already done (:data:`~engine.orders.pipeline_stages.FOLLOW_UPS`,
   given the document the pipeline last acted on), then an order waiting for stock is retried;
   then, unless held, the stages from ``next_stage`` on. Every note a stage or follow-up
   answers becomes one timeline entry (actor ``pipeline:<stage>``, with the ruleset version);
   its tags are added; a note with ``hold`` holds the order (``status`` ``held``, the reason
   and who kept) — a ``short`` note holds it as 缺货 until stock for ``short_skus`` arrives.
   ``orders.status`` is settled last (:func:`engine.orders.order_status.settled_status`):
   ``paid_hold`` while held, ``awaiting_shipment`` when freed. A cancelled or completed order
   is never left held.
4. **Stock arriving** (:mod:`engine.orders.stock_arrivals`): before and after its batches
   the pipeline makes the 缺货 orders ready again whose SKUs had stock adjusted, released or
   re-buffered (oldest hold first).

The loop (:func:`run_pipeline_loop`, in the background runner and ``orderpulse worker``) is
woken when pipeline rows or stock ledger entries commit (:mod:`engine.orders.pipeline_wake`),
and polls as a backstop.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, null, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine.inventory.in_transaction import change_count, committed_changes, forget_changes, mirror_to_gate
from engine.logs import get_logger
from engine.orders import pipeline_stages
from engine.orders.model import Order, OrderEvent
from engine.orders.order_reservation import SHORT_KIND, SHORT_TAG, lock_batch_stock
from engine.orders.order_status import TERMINAL, settled_status
from engine.orders.order_tags import drop_tag_rows
from engine.orders.pipeline_model import OrderPipeline
from engine.orders.pipeline_rows import START
from engine.orders.pipeline_wake import PIPELINE_FLAG
from engine.orders.stages import OrderRef, Stage, StageNote, add_tags
from engine.orders.stock_arrivals import StockArrivals
from engine.outbox.dispatcher import describe_error
from engine.storage.types import JSONType, UTCDateTime

if TYPE_CHECKING:
    from engine.orders.pipeline_stages import BatchScopeFactory, FollowUp
    from engine.services import Services

__all__ = ["DEFAULT_BATCH", "DONE", "RETRY_SECONDS", "BatchResult", "Pipeline", "run_pipeline_loop"]

log = get_logger(__name__)

DONE = "done"
DEFAULT_BATCH = 100
RETRY_SECONDS = (5, 30, 120, 300, 900, 1800)
# timeline kinds worth a line on the demo console (a reservation only when it ends a wait)
CONSOLE_KINDS = frozenset({"short", "reservation_released", "risk_hold", "hold_lifted", "stage_failed"})
CONSOLE_COLUMNS = ("kind", "channel", "order_id", "message")
_P = cast(Table, OrderPipeline.__table__)
_O = cast(Table, Order.__table__)
_EVENTS = cast(Table, OrderEvent.__table__)

_CLAIM_COLUMNS = (_P.c.order_pk, _P.c.next_stage, _P.c.seen_revision, _P.c.attempts, _P.c.hold_reason,
                  _P.c.held_by, _P.c.short_skus, _P.c.seen_doc, _O.c.channel, _O.c.order_id, _O.c.revision,
                  _O.c.status, _O.c.source, _O.c.doc, _O.c.tags, _O.c.dropped_rule)

_SAVE_ROW = (update(_P).where(_P.c.order_pk == bindparam("pk")).values(
    next_stage=bindparam("next_stage"), status=bindparam("status"), seen_revision=bindparam("seen_revision"),
    attempts=bindparam("attempts"), last_error=bindparam("last_error"), hold_reason=bindparam("hold_reason"),
    held_by=bindparam("held_by"), short_skus=bindparam("short_skus", type_=JSONType),
    seen_doc=bindparam("seen_doc", type_=JSONType), due_at=bindparam("due_at", type_=UTCDateTime()),
    updated_at=bindparam("now", type_=UTCDateTime())))
# the common case, a row done or held by a person with no stock wait and no document kept: no JSON
_SAVE_PLAIN = (update(_P).where(_P.c.order_pk == bindparam("pk")).values(
    next_stage=bindparam("next_stage"), status=bindparam("status"), seen_revision=bindparam("seen_revision"),
    attempts=bindparam("attempts"), last_error=bindparam("last_error"), hold_reason=bindparam("hold_reason"),
    held_by=bindparam("held_by"), short_skus=null(), seen_doc=null(), due_at=bindparam("due_at", type_=UTCDateTime()),
    updated_at=bindparam("now", type_=UTCDateTime())))
_SAVE_STATUS = update(_O).where(_O.c.id == bindparam("pk")).values(status=bindparam("new_status"))


def retry_delay(attempts: int) -> int:
    """Seconds before attempt ``attempts + 1`` of a failing stage."""
    return RETRY_SECONDS[min(max(attempts, 1), len(RETRY_SECONDS)) - 1]


@dataclass
class _Step:
    """One order moving through one batch: what the driver writes back when it is done."""

    ref: OrderRef
    next_stage: str
    seen_revision: int
    seen_doc: Any
    attempts: int
    hold_reason: str | None
    held_by: str | None
    short: list[str] | None
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return self.hold_reason is not None or bool(self.short)


class _ScopeWriteFailed(Exception):
    """A batch scope's shared write failed; the batch's transaction is rolled back."""


@dataclass
class BatchResult:
    """What one batch did: orders claimed, moved (committed their step) and failed."""

    claimed: int = 0
    moved: int = 0
    failed: int = 0
    held: int = 0


class Pipeline:
    """Runs the pipeline's stages for due orders; safe in many threads and processes."""

    def __init__(self, services: Services, *, stages: Sequence[tuple[str, Stage]] | None = None,
                 follow_ups: Sequence[tuple[str, FollowUp]] | None = None, batch: int = DEFAULT_BATCH,
                 stock_retry: FollowUp | None = None, stock_stage: str | None = None,
                 batch_scopes: Sequence[BatchScopeFactory] | None = None) -> None:
        self.services = services
        self.db = services.db
        self.stages = list(pipeline_stages.STAGES if stages is None else stages)
        self.names = [name for name, _ in self.stages]
        if len(set(self.names)) != len(self.names) or any(len(n) > 16 or n in (START, DONE) for n in self.names):
            raise ValueError(f"stage names must be unique, at most 16 characters, not {START!r} or {DONE!r}")
        self.follow_ups = list(pipeline_stages.FOLLOW_UPS if follow_ups is None else follow_ups)
        self.stock_retry = pipeline_stages.STOCK_RETRY if stock_retry is None else stock_retry
        self.stock_stage = pipeline_stages.STOCK_STAGE if stock_stage is None else stock_stage
        self.batch = batch
        self.batch_scopes = list(pipeline_stages.BATCH_SCOPES if batch_scopes is None else batch_scopes)
        self.stock_arrivals = StockArrivals(self.db)

    # ------------------------------------------------------------------ passes

    def run_due(self, now: datetime | None = None, limit: int = 10_000) -> int:
        """Batches until nothing is due (or ``limit`` orders were claimed); returns the orders
        claimed. Stock that arrived meanwhile frees the orders waiting for it first."""
        done = 0
        self.wake_waiting_for_stock(now)
        while done < limit:
            size = min(self.batch, limit - done)
            result = self.run_batch(now, size=size)
            done += result.claimed
            if result.claimed < size and not self.wake_waiting_for_stock(now):
                break
        return done

    def run_order(self, order_pk: int, now: datetime | None = None) -> BatchResult:
        """Move one order now if its row is ready (a person released it); ignores ``due_at``."""
        return self.run_batch(now, only=order_pk)

    def run_batch(self, now: datetime | None = None, *, size: int | None = None,
                  only: int | None = None) -> BatchResult:
        """One transaction: claim due rows, move each order, write everything, commit."""
        scoped = True
        for attempt in range(1, 6):
            try:
                return self._run_batch(now or self.services.clock.now(), size or self.batch, only, scoped)
            except _ScopeWriteFailed as exc:  # all rolled back: the same orders one at a time
                log.warning("pipeline batch's shared writes failed; running its orders one at a time",
                            error=describe_error(exc.__cause__ or exc))
                scoped = False
            except OperationalError as exc:  # a PostgreSQL deadlock between two batches: all rolled back
                if attempt == 5 or "deadlock" not in str(exc).lower():
                    raise
                log.warning("pipeline batch rolled back by a deadlock; trying again", attempt=attempt)
        raise AssertionError("unreachable")

    def _run_batch(self, now: datetime, size: int, only: int | None, scoped: bool = True) -> BatchResult:
        result = BatchResult()
        if self.db.is_sqlite and not self._anything_due(now, only):
            return result  # an idle pass takes no write lock (SQLite has one writer)
        with self.db.transaction(immediate=True) as session:
            rows = self._claim(session, now, size, only)
            result.claimed = len(rows)
            if not rows:
                return result
            steps: list[_Step] = []
            failures: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            raw: Any = session.connection().connection.driver_connection
            scopes = [begin(session, self.services, [r.order_pk for r in rows])
                      for begin in self.batch_scopes] if scoped else []
            # every stock row the batch may touch, locked up front in sorted SKU order (PostgreSQL):
            # two batches sharing SKUs can never hold them crosswise (order_reservation's docstring)
            lock_batch_stock(session, [r.order_pk for r in rows], [f"{r.channel}/{r.order_id}" for r in rows])
            try:
                for row in rows:
                    mark = change_count(session)
                    marks = [scope.mark() for scope in scopes]
                    raw.execute("SAVEPOINT pipeline_order")
                    try:
                        step = self._move(session, row, now)
                    except Exception as exc:  # noqa: BLE001 - one order's failure must not stop the batch
                        raw.execute("ROLLBACK TO SAVEPOINT pipeline_order")
                        raw.execute("RELEASE SAVEPOINT pipeline_order")
                        forget_changes(session, mark)
                        for scope, scope_mark in zip(scopes, marks, strict=True):
                            scope.rollback(scope_mark)
                        failures.append(self._failed(row, exc, now, events))
                        continue
                    raw.execute("RELEASE SAVEPOINT pipeline_order")
                    steps.append(step)
                    events.extend(step.events)
                for scope in scopes:
                    try:
                        scope.write(session)
                    except Exception as exc:
                        raise _ScopeWriteFailed from exc
            finally:
                for scope in scopes:
                    scope.close(session)
            statuses = []
            for step in steps:
                platform = str(step.ref.doc.get("status") or "")
                settled = settled_status(step.ref.status, platform, held=step.held)
                if settled != step.ref.status:
                    statuses.append({"pk": step.ref.pk, "new_status": settled})
            if statuses:
                session.execute(_SAVE_STATUS, statuses)
            saves = [self._saved(step, now) for step in steps] + failures
            plain = [r for r in saves if r["short_skus"] is None and r["seen_doc"] is None]
            if plain:
                session.execute(_SAVE_PLAIN, [{k: v for k, v in r.items() if k not in ("short_skus", "seen_doc")}
                                              for r in plain])
            kept = [r for r in saves if r["short_skus"] is not None or r["seen_doc"] is not None]
            if kept:
                session.execute(_SAVE_ROW, kept)
            if events:
                session.execute(insert(_EVENTS), events)
            # our own ledger rows are not news to the loop: its ledger scan sees them anyway
            session.connection().info.pop(PIPELINE_FLAG, None)
            result.moved, result.failed = len(steps), len(failures)
            result.held = sum(1 for s in steps if s.held)
        mirror_to_gate(self.services.inventory, committed_changes(session))
        self._log(rows, events)
        return result

    @staticmethod
    def _log(rows: list[Any], events: list[dict[str, Any]]) -> None:
        """One ``orders_pipeline`` event per batch with the notes a person cares about (the demo
        console prints them as short Chinese lines)."""
        keys = {r.order_pk: (r.channel, r.order_id) for r in rows}
        notable = [[e["kind"], *keys[e["order_pk"]], (e["detail"] or {}).get("message", "")] for e in events
                   if e["kind"] in CONSOLE_KINDS
                   or (e["kind"] == "reserved" and e["actor"] != "pipeline:reserve")]
        if notable:
            log.info("orders_pipeline", count=len(notable), columns=list(CONSOLE_COLUMNS), orders=notable)

    def _anything_due(self, now: datetime, only: int | None) -> bool:
        stmt = select(_P.c.order_pk).where(_P.c.status == "ready")
        stmt = stmt.where(_P.c.order_pk == only) if only is not None else stmt.where(_P.c.due_at <= now)
        with self.db.session() as session:
            return session.execute(stmt.limit(1)).first() is not None

    def _claim(self, session: Session, now: datetime, size: int, only: int | None) -> list[Any]:
        stmt = select(*_CLAIM_COLUMNS).select_from(_P.join(_O, _O.c.id == _P.c.order_pk)).where(_P.c.status == "ready")
        if only is not None:
            stmt = stmt.where(_P.c.order_pk == only)
        else:
            stmt = stmt.where(_P.c.due_at <= now).order_by(_P.c.due_at).limit(size)
        if self.db.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True, of=[_O, _P], key_share=True)
        return list(session.execute(stmt).all())

    # ------------------------------------------------------------------ one order

    def _move(self, session: Session, row: Any, now: datetime) -> _Step:
        ref = OrderRef(pk=row.order_pk, channel=row.channel, order_id=row.order_id, revision=row.revision,
                       status=row.status, source=row.source, doc=row.doc or {}, tags=tuple(row.tags or ()))
        next_stage = self.names[0] if row.next_stage == START and self.names else row.next_stage
        step = _Step(ref, next_stage, row.seen_revision, row.seen_doc, row.attempts, row.hold_reason, row.held_by,
                     list(row.short_skus) if row.short_skus else None)
        if row.dropped_rule is not None:
            step.seen_revision, step.seen_doc = ref.revision, None
            return step
        position = self._position(next_stage)
        ran_stock = False
        if 0 < row.seen_revision < ref.revision:
            for after, follow in self.follow_ups:
                if after in self.names[:position]:
                    self._take(session, step, f"follow:{after}", follow(session, self.services, step.ref,
                                                                         row.seen_doc, now), now,
                               settles_stock=follow is self.stock_retry)
                    ran_stock = ran_stock or follow is self.stock_retry
        if step.short and not ran_stock and self.stock_stage in self.names[:position]:
            self._take(session, step, f"retry:{self.stock_stage}",
                       self.stock_retry(session, self.services, step.ref, step.ref.doc, now), now, settles_stock=True)
        if step.ref.status in TERMINAL and step.held:
            self._lift_holds(session, step, now)
        while not step.held and position < len(self.stages):
            name, stage = self.stages[position]
            self._take(session, step, name, stage(session, self.services, step.ref, now), now,
                       settles_stock=name == self.stock_stage)
            position += 1
        step.next_stage = self.names[position] if position < len(self.names) else DONE
        step.seen_revision, step.seen_doc, step.attempts = ref.revision, None, 0
        return step

    def _position(self, next_stage: str) -> int:
        if next_stage == DONE:
            return len(self.names)
        if next_stage not in self.names:
            raise LookupError(f"order_pipeline.next_stage {next_stage!r} is not a stage of this pipeline "
                              f"({', '.join(self.names)})")
        return self.names.index(next_stage)

    def _take(self, session: Session, step: _Step, name: str, notes: list[StageNote], now: datetime, *,
              settles_stock: bool) -> None:
        """Record a stage's notes on the step: timeline rows, tags, holds, the stock wait."""
        short: list[str] | None = None
        kept: list[StageNote] = []
        for note in notes:
            if note.kind == SHORT_KIND:
                short = [str(s) for s in note.detail.get("short_skus") or ()]
                if step.short and sorted(short) == sorted(step.short):
                    continue  # still short of the same SKUs: not news
            elif note.hold:
                step.hold_reason = note.hold if step.hold_reason is None else f"{step.hold_reason}；{note.hold}"
                step.held_by = step.held_by or f"pipeline:{name.split(':')[-1]}"
            kept.append(note)
        if settles_stock:
            if step.short and not short:
                self._drop_tag(session, step, SHORT_TAG)
            step.short = short
        actor = f"pipeline:{name}"
        for note in kept:
            step.events.append({"order_pk": step.ref.pk, "revision": step.ref.revision, "kind": note.kind, "at": now,
                                "actor": actor, "payload_id": None, "changes": [], "detail": note.detail,
                                "ruleset": note.ruleset, "ruleset_version": note.ruleset_version})
        tags = [t for n in kept for t in n.tags]
        if tags:
            step.ref = replace(step.ref, tags=add_tags(session, step.ref, tags))

    def _drop_tag(self, session: Session, step: _Step, tag: str) -> None:
        if tag in step.ref.tags:
            tags = [t for t in step.ref.tags if t != tag]
            session.execute(update(_O).where(_O.c.id == step.ref.pk).values(tags=tags))
            drop_tag_rows(session.connection(), step.ref.pk, tag)
            step.ref = replace(step.ref, tags=tuple(tags))

    def _lift_holds(self, session: Session, step: _Step, now: datetime) -> None:
        label = "已取消" if step.ref.status == "cancelled" else "已完成"
        detail = {"message": f"订单{label}，解除挂起", "reason": step.hold_reason, "short_skus": step.short}
        step.events.append({"order_pk": step.ref.pk, "revision": step.ref.revision, "kind": "hold_lifted", "at": now,
                            "actor": "pipeline", "payload_id": None, "changes": [], "detail": detail,
                            "ruleset": None, "ruleset_version": None})
        if step.short:
            self._drop_tag(session, step, SHORT_TAG)
        step.hold_reason = step.held_by = None
        step.short = None

    def _saved(self, step: _Step, now: datetime) -> dict[str, Any]:
        return {"pk": step.ref.pk, "next_stage": step.next_stage, "status": "held" if step.held else DONE,
            "seen_revision": step.seen_revision,
            "attempts": step.attempts, "last_error": None, "hold_reason": step.hold_reason,
            "held_by": step.held_by, "short_skus": step.short, "seen_doc": step.seen_doc, "due_at": now, "now": now}

    def _failed(self, row: Any, exc: BaseException, now: datetime, events: list[dict[str, Any]]) -> dict[str, Any]:
        attempts = row.attempts + 1
        error = describe_error(exc)
        delay = retry_delay(attempts)
        log.error("pipeline stage failed; will retry", order_pk=row.order_pk, stage=row.next_stage,
                  attempt=attempts, retry_in_seconds=delay, error=error)
        if attempts == 1:
            events.append({"order_pk": row.order_pk, "revision": row.revision, "kind": "stage_failed", "at": now,
                           "actor": "pipeline", "payload_id": None, "changes": [],
                           "detail": {"message": f"处理出错，{delay} 秒后重试", "stage": row.next_stage,
                                      "error": error}, "ruleset": None, "ruleset_version": None})
        return {"pk": row.order_pk, "next_stage": row.next_stage, "status": "ready",
                "seen_revision": row.seen_revision, "attempts": attempts, "last_error": error,
                "hold_reason": row.hold_reason, "held_by": row.held_by,
                "short_skus": list(row.short_skus) if row.short_skus else None, "seen_doc": row.seen_doc,
                "due_at": now + timedelta(seconds=delay), "now": now}

    # ------------------------------------------------------------------ stock arriving

    def wake_waiting_for_stock(self, now: datetime | None = None) -> int:
        """Make ready the 缺货 orders whose SKUs had stock arrive since the last look."""
        return self.stock_arrivals.wake(now or self.services.clock.now())


def run_pipeline_loop(pipeline: Pipeline, stop: threading.Event, wake: Any | None, interval: float,
                      on_pass: Any | None = None) -> None:
    """The background loop: run due orders, then wait for a wake-up (commit) or the poll."""
    failures = 0
    while not stop.is_set():
        if wake is not None:
            wake.clear()
        try:
            pipeline.run_due()
            failures = 0
            if on_pass is not None:
                on_pass()
        except Exception:  # noqa: BLE001 - keep the loop alive through database hiccups
            failures += 1
            log.exception("order pipeline pass failed", consecutive_failures=failures)
            stop.wait(min(interval * 2 ** min(failures, 5), 30.0))
            continue
        (wake or stop).wait(interval)
