"""Delivering outbox rows to their handlers: claims, retries, dead letters.

Owns the delivery protocol, nothing about what a handler does:

1. **Claim** (one short transaction per row): pick a due pending row whose previous claim
   (if any) has expired — ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
   SQLite — give it a fresh ``claim_token``, ``claimed_until = now + lease`` and count the
   attempt.
2. **Deliver** (a second transaction): call the handler with a :class:`Delivery` whose
   ``session`` is that transaction, then mark the row delivered with
   ``UPDATE … WHERE id = :id AND claim_token = :token``. If no row matched, another
   dispatcher re-claimed it after our lease ran out: the transaction rolls back, so the
   handler's database effects never commit twice. Handlers write through
   ``delivery.session`` and never commit or roll it back themselves. Effects outside our
   database (a chat message, a WMS call) are at-least-once: a handler makes them idempotent
   with ``delivery.delivery_id``.
3. **Fail**: in a new transaction, still conditional on the claim token, keep the error and
   schedule the next attempt ``retry_schedule[attempts - 1]`` seconds after this attempt, or
   mark the row ``dead`` once ``max_attempts`` attempts have been made. A receiver that asked
   us to slow down (a chat bot's per-minute limit, a platform's rate limit: the error carries
   ``retry_after``) did not fail the message: the attempt is given back and the row waits what
   it asked, plus a share of it picked by the delivery id so a burst comes back spread out —
   for up to :data:`SLOW_DOWN_PATIENCE` after the row was queued; after that it counts.

**Side by side**: a topic registered with an ``ordering_key`` (the stock pushes: per channel
and SKU; the write-backs: per order; the pushed orders' fetches) has its claimed rows
delivered on a small thread pool, a lane per key — rows of one lane one after another in
claim order, lanes side by side — while the pass goes on claiming (:class:`_Lanes`). Lanes of
one group (the channel or source the key starts with) hold at most half the threads, so a
platform that stalls holds up its own rows only. Each row still goes through steps 2 and 3
alone, so its exactly-once mark, retries and dead letter are unchanged; a pass returns once
its lanes are done, and while it waits for them it claims what commits meanwhile (the
runner's wake), so a new write-back never waits for the pass's slowest delivery. On SQLite
(one writer) only a topic that also ``calls_out`` goes side by side: its calls overlap, its
reads and writes take turns. Other topics are delivered in turn.

**Claimed first**: topics registered with ``claimed_first`` (the write-backs a merchant waits
on) are claimed before every other due row, on SQLite and on PostgreSQL alike: each claim
looks for a due row of those topics first (an index probe on ``(status, topic,
next_attempt_at)``), then for the longest due row of any topic. A write-back committed behind
thousands of stock pushes is the next row claimed; it waits at most for the deliveries
already under way.

On SQLite the dispatcher's transactions go to the head of the process's writers' queue
(``Database.first_in_line``, ``engine.storage.write_queue``): one thread whose short turns
stand for every merchant waiting on a write-back.

Time comes from ``services.clock`` (or ``now=``) so tests move a manual clock instead of
sleeping. On SQLite only one process dispatches at a time: the SQL lease
``outbox-dispatcher`` decides which (other processes idle); on PostgreSQL any number of
dispatchers run side by side.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, case, or_, select, update

from engine import leases
from engine.config import DEFAULT_OUTBOX_LEASE_SECONDS
from engine.logs import get_logger
from engine.outbox.registry import Delivery
from engine.redaction import redact
from engine.storage.models import OutboxMessage

if TYPE_CHECKING:
    from engine.outbox.wake import OutboxWake
    from engine.services import Services

log = get_logger(__name__)

DISPATCHER_LEASE = "outbox-dispatcher"
DISPATCHER_LEASE_TTL = 30.0
MAX_ERROR_CHARS = 4000
_OB: Table = OutboxMessage.__table__  # type: ignore[assignment]
LANE_WORKERS = 6  # deliveries side by side (the six platforms' stock APIs)


def default_worker_id() -> str:
    """``host:pid``: every dispatcher in one process counts as the same lease holder."""
    return f"{socket.gethostname()}:{os.getpid()}"


class StaleClaim(RuntimeError):
    """Our claim on a row was taken over by another dispatcher after our lease expired."""


@dataclass(frozen=True)
class Claim:
    """A row this dispatcher holds until ``claimed_until``; ``attempt`` counts this try."""

    id: int
    delivery_id: str
    topic: str
    payload: Any
    attempt: int
    max_attempts: int
    retry_schedule: tuple[int, ...]
    token: str
    now: datetime
    queued_at: datetime | None = None


SLOW_DOWN_PATIENCE = timedelta(hours=24)


def asked_wait(exc: BaseException, delivery_id: str) -> float | None:
    """Seconds to wait when the receiver asked us to slow down (``retry_after``), spread by up to
    half again by the delivery id (the same id always waits the same); None otherwise."""
    wait = getattr(exc, "retry_after", None)
    if not isinstance(wait, (int, float)) or isinstance(wait, bool) or wait <= 0:
        return None
    spread = int(hashlib.sha256(delivery_id.encode()).hexdigest()[:8], 16) % 1000 / 2000
    return float(wait) * (1 + spread)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0))


def describe_error(exc: BaseException) -> str:
    """The error as stored in ``last_error`` (served by ``GET /outbox``): secrets scrubbed."""
    text = redact(f"{type(exc).__name__}: {exc}")
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def next_delay(retry_schedule: tuple[int, ...], attempt: int) -> int:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    if not retry_schedule:
        return 0
    return int(retry_schedule[min(attempt - 1, len(retry_schedule) - 1)])


class Dispatcher:
    """Delivers due outbox rows; safe to run in many processes on PostgreSQL."""

    def __init__(
        self,
        services: "Services",
        *,
        worker_id: str | None = None,
        lease_seconds: float = DEFAULT_OUTBOX_LEASE_SECONDS,
        single_on_sqlite: bool = True,
        stop_event: threading.Event | None = None,
        lanes: int | None = None,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError("lease_seconds must be positive")
        if services.handlers is None:
            raise ValueError("services.handlers is not set: build services with Services.build")
        self.services = services
        self.db = services.db
        self.handlers = services.handlers
        self.worker_id = worker_id or default_worker_id()
        self.lease = timedelta(seconds=lease_seconds)
        self.use_dispatcher_lease = single_on_sqlite and services.db.is_sqlite
        self.stop_event = stop_event
        self.lanes = LANE_WORKERS if lanes is None else lanes
        self._has_lease: bool | None = None
        # the process's outbox wake (set by the runner): a pass whose lanes are still busy
        # claims what commits meanwhile
        self.wake: OutboxWake | None = None

    # --- the loop body -------------------------------------------------------------------

    def dispatch_due(self, now: datetime | None = None, limit: int = 100) -> int:
        """Try every due row once (at most ``limit``); return how many rows were attempted.

        ``now`` fixes the time for the whole pass (tests); by default each claim reads the
        clock. Returns 0 without touching rows when another process holds the SQLite
        dispatcher lease.
        """
        with self.db.first_in_line():
            return self._dispatch_due(now, limit)

    def _dispatch_due(self, now: datetime | None, limit: int) -> int:
        if not self.holds_dispatcher_lease(now or self.services.clock.now()):
            return 0
        retry_now: list[int] = []  # rows failed in this pass but due again already
        attempted = 0
        lanes = _Lanes(self, self.lanes) if self.lanes > 1 else None
        try:
            while attempted < limit and not (self.stop_event is not None and self.stop_event.is_set()):
                at = now or self.services.clock.now()
                if lanes is not None:
                    retry_now.extend(lanes.take_failed())
                claim = self.claim_next(at, exclude=retry_now)
                if claim is None:
                    # a row committed while lanes still deliver is claimed in this pass: it does
                    # not wait for the pass's slowest delivery (a platform timing out)
                    if lanes is not None and lanes.wait_for_news(self.wake):
                        continue
                    break
                attempted += 1
                key = self._lane_of(claim) if lanes is not None else None
                if lanes is not None and key is not None:
                    lanes.submit(key, claim)
                    continue
                outcome = self.deliver(claim)
                if outcome != "delivered":
                    retry_now.append(claim.id)
        finally:
            if lanes is not None:
                lanes.close()
        return attempted

    def _lane_of(self, claim: Claim) -> str | None:
        """The lane a claimed row is delivered in, or None (in turn). On SQLite only a topic that
        calls out side by side: any other delivery holds the one write lock throughout."""
        if self.db.is_sqlite and not self.handlers.calls_out(claim.topic):
            return None
        return self.handlers.ordering_key(claim.topic, claim.payload)

    def holds_dispatcher_lease(self, now: datetime) -> bool:
        """On SQLite, take or renew the single-dispatcher lease; always True elsewhere."""
        if not self.use_dispatcher_lease:
            return True
        token = leases.acquire(self.db, DISPATCHER_LEASE, self.worker_id, DISPATCHER_LEASE_TTL, now)
        has = token is not None
        if has != self._has_lease:
            if has:
                log.info("outbox dispatcher lease taken", worker=self.worker_id, fencing_token=token)
            else:
                log.info("outbox dispatcher idle: another process holds the SQLite lease", worker=self.worker_id)
            self._has_lease = has
        return has

    def release_dispatcher_lease(self) -> None:
        if self.use_dispatcher_lease and self._has_lease:
            leases.release(self.db, DISPATCHER_LEASE, self.worker_id)
            self._has_lease = None

    # --- step 1: claim -------------------------------------------------------------------

    def claim_next(self, now: datetime, *, exclude: list[int] | tuple[int, ...] = ()) -> Claim | None:
        """Claim the next due row, or None when nothing is due: a due row of a topic claimed
        first (the longest due of them), else the longest due row of any topic."""
        first = self.handlers.claimed_first_topics()
        while True:
            with self.db.transaction(immediate=True) as session:
                # SQLAlchemy Core, not the ORM: a claim is the dispatcher's most frequent
                # transaction, and the ORM's load and flush of the whole row cost most of it
                query = select(_OB.c.id, _OB.c.attempts, _OB.c.max_attempts).where(
                    _OB.c.status == "pending",
                    _OB.c.next_attempt_at <= now,
                    or_(_OB.c.claimed_until.is_(None), _OB.c.claimed_until < now),
                )
                if exclude:
                    query = query.where(_OB.c.id.not_in(list(exclude)))
                # Oldest due first, straight off the (status, next_attempt_at) index — or, for the
                # topics claimed first, the (status, topic, next_attempt_at) one; rows due at the
                # same instant come in index order (adding id as a tie-break costs a sort).
                row = None
                if first:
                    row = session.execute(
                        query.where(_OB.c.topic.in_(first)).order_by(_OB.c.next_attempt_at)
                        .limit(1).with_for_update(skip_locked=True)).first()
                if row is None:
                    row = session.execute(query.order_by(_OB.c.next_attempt_at).limit(1)
                                          .with_for_update(skip_locked=True)).first()
                if row is None:
                    return None
                if row.attempts >= row.max_attempts:
                    # The final attempt's claimant vanished (process killed) without an answer.
                    note = f"claim expired during attempt {row.attempts} of {row.max_attempts} (dispatcher stopped?)"
                    gone = session.execute(
                        update(_OB).where(_OB.c.id == row.id).values(
                            status="dead", claim_token=None, claimed_until=None,
                            last_error=case((_OB.c.last_error.is_(None), note),
                                            else_=_OB.c.last_error + "\n" + note))
                        .returning(_OB.c.delivery_id, _OB.c.topic)).one()
                    dead = (row.id, gone.delivery_id, gone.topic)
                    claim = None
                else:
                    token = str(uuid.uuid4())
                    taken = session.execute(
                        update(_OB).where(_OB.c.id == row.id).values(
                            attempts=_OB.c.attempts + 1, claim_token=token, claimed_until=now + self.lease)
                        .returning(_OB.c.delivery_id, _OB.c.topic, _OB.c.payload, _OB.c.attempts,
                                   _OB.c.max_attempts, _OB.c.retry_schedule, _OB.c.created_at)).one()
                    dead = None
                    claim = Claim(
                        id=row.id,
                        delivery_id=taken.delivery_id,
                        topic=taken.topic,
                        payload=taken.payload,
                        attempt=taken.attempts,
                        max_attempts=taken.max_attempts,
                        retry_schedule=tuple(int(s) for s in (taken.retry_schedule or ())),
                        token=token,
                        now=now,
                        queued_at=taken.created_at,
                    )
            if claim is not None:
                return claim
            if dead is not None:
                log.warning("outbox row dead: final attempt never answered", outbox_id=dead[0],
                            delivery_id=dead[1], topic=dead[2])

    # --- step 2: deliver -----------------------------------------------------------------

    def deliver(self, claim: Claim) -> str:
        """Run the handler for a claimed row: ``"delivered"``, ``"failed"`` or ``"stale"``."""
        try:
            handler = self.handlers.get(claim.topic)
        except LookupError as exc:
            return self._fail(claim, exc)
        try:
            with self.db.read_then_write() as phases:
                session = phases.session
                if not self.handlers.calls_out(claim.topic):
                    phases.start_writing()  # the handler reads and writes as it goes: the lock first
                handler(
                    Delivery(
                        delivery_id=claim.delivery_id,
                        topic=claim.topic,
                        payload=claim.payload,
                        attempt=claim.attempt,
                        now=claim.now,
                        session=session,
                        phases=phases,
                    )
                )
                phases.start_writing()
                marked = session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == claim.id,
                        OutboxMessage.claim_token == claim.token,
                        OutboxMessage.status == "pending",
                    )
                    .values(
                        status="delivered",
                        delivered_at=self.services.clock.now(),
                        claim_token=None,
                        claimed_until=None,
                    )
                )
                if _rowcount(marked) != 1:
                    raise StaleClaim(f"outbox row {claim.id} was re-claimed by another dispatcher")
        except StaleClaim:
            log.warning("outbox claim lost: handler effects rolled back", outbox_id=claim.id,
                        delivery_id=claim.delivery_id, topic=claim.topic, attempt=claim.attempt,
                        worker=self.worker_id)
            return "stale"
        except Exception as exc:  # noqa: BLE001 - any handler failure is a failed attempt
            return self._fail(claim, exc)
        log.debug("outbox delivered", outbox_id=claim.id, delivery_id=claim.delivery_id, topic=claim.topic,
                 attempt=claim.attempt, payload=claim.payload, worker=self.worker_id)
        return "delivered"

    # --- step 3: fail --------------------------------------------------------------------

    def _fail(self, claim: Claim, exc: BaseException) -> str:
        error = describe_error(exc)
        asked = asked_wait(exc, claim.delivery_id)
        if asked is not None and (claim.queued_at is None or claim.now - claim.queued_at < SLOW_DOWN_PATIENCE):
            return self._slow_down(claim, error, asked)
        dead = claim.attempt >= claim.max_attempts
        values: dict[str, Any] = {"last_error": error, "claim_token": None, "claimed_until": None}
        if dead:
            values["status"] = "dead"
        else:
            values["next_attempt_at"] = claim.now + timedelta(seconds=next_delay(claim.retry_schedule, claim.attempt))
        with self.db.transaction(immediate=True) as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == claim.id, OutboxMessage.claim_token == claim.token)
                .values(**values)
            )
        fields = dict(outbox_id=claim.id, delivery_id=claim.delivery_id, topic=claim.topic,
                      attempt=claim.attempt, max_attempts=claim.max_attempts, error=error,
                      payload=claim.payload, worker=self.worker_id)
        if _rowcount(result) != 1:
            log.warning("outbox claim lost before recording failure", **fields)
            return "stale"
        if dead:
            log.error("outbox row dead after last attempt", **fields)
        else:
            log.warning("outbox delivery failed, will retry", next_attempt_at=values["next_attempt_at"].isoformat(),
                        **fields)
        return "failed"


    def _slow_down(self, claim: Claim, error: str, seconds: float) -> str:
        """The receiver asked us to wait: give the attempt back and come back after ``seconds``."""
        next_at = claim.now + timedelta(seconds=seconds)
        with self.db.transaction(immediate=True) as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == claim.id, OutboxMessage.claim_token == claim.token)
                .values(last_error=error, claim_token=None, claimed_until=None, next_attempt_at=next_at,
                        attempts=OutboxMessage.attempts - 1))
        fields = dict(outbox_id=claim.id, delivery_id=claim.delivery_id, topic=claim.topic, error=error,
                      worker=self.worker_id)
        if _rowcount(result) != 1:
            log.warning("outbox claim lost before recording failure", **fields)
            return "stale"
        log.warning("outbox delivery asked to slow down, will retry (attempt not counted)",
                    next_attempt_at=next_at.isoformat(), **fields)
        return "failed"


class _Lanes:
    """One pass's side-by-side deliveries: a lane per ordering key (a lane's rows one after
    another, in claim order), lanes side by side on ``workers`` threads.

    - No thread waits for another: a lane runs on one thread at a time, and a thread that
      finishes a row takes the next ready lane (its own next row, or another lane's).
    - A receiver that stalls cannot take every thread: lanes of one group (the key's part
      before ``/``: the channel or the source) hold at most :attr:`per_group` threads, so the
      write-backs of the other platforms keep moving while one platform times out.
    - At most two rows per worker are claimed ahead, so a claim's lease does not run out while
      it waits."""

    def __init__(self, dispatcher: Dispatcher, workers: int) -> None:
        self.dispatcher = dispatcher
        self.workers = workers
        self.per_group = max(1, workers // 2)
        self._pool: ThreadPoolExecutor | None = None
        self._queued: dict[str, deque[Claim]] = {}  # rows waiting, per lane
        self._ready: dict[str, None] = {}  # lanes with rows waiting and none running, oldest first
        self._running: set[str] = set()
        self._groups: dict[str, int] = {}  # threads busy per group
        self._pending = 0  # rows queued or running
        self._failed: list[int] = []
        self._changed = threading.Condition()

    @staticmethod
    def _group(key: str) -> str:
        return key.split("/", 1)[0]

    def submit(self, key: str, claim: Claim) -> None:
        with self._changed:
            while self._pending >= 2 * self.workers:
                self._changed.wait()
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="outbox-lane")
            self._queued.setdefault(key, deque()).append(claim)
            self._pending += 1
            if key not in self._running:
                self._ready.setdefault(key, None)
            self._start_ready()

    def _start_ready(self) -> None:
        """Start ready lanes while threads are free and their group is under its share (the
        caller holds the lock)."""
        for key in list(self._ready):
            if len(self._running) >= self.workers:
                return
            group = self._group(key)
            if self._groups.get(group, 0) >= self.per_group:
                continue
            del self._ready[key]
            self._running.add(key)
            self._groups[group] = self._groups.get(group, 0) + 1
            assert self._pool is not None
            self._pool.submit(self._run_lane, key, self._queued[key].popleft())

    def _run_lane(self, key: str, claim: Claim) -> None:
        outcome = "failed"
        try:
            with self.dispatcher.db.first_in_line():
                outcome = self.dispatcher.deliver(claim)
        except Exception:  # noqa: BLE001 - recording the failure failed (the database): the lease runs out
            log.exception("outbox delivery could not be recorded", outbox_id=claim.id, topic=claim.topic)
        finally:
            with self._changed:
                if outcome != "delivered":
                    self._failed.append(claim.id)
                self._pending -= 1
                self._running.discard(key)
                self._groups[self._group(key)] -= 1
                if self._queued[key]:
                    self._ready.setdefault(key, None)
                else:
                    del self._queued[key]
                self._start_ready()
                self._changed.notify_all()

    def take_failed(self) -> list[int]:
        """Rows that failed since the last call (the pass does not claim them again)."""
        with self._changed:
            failed, self._failed = self._failed, []
        return failed

    def wait_for_news(self, wake: OutboxWake | None, poll: float = 0.05) -> bool:
        """While lanes are busy, wait for a commit that may have queued a row (``wake``): True
        when one came (the pass claims again), False once every lane is done."""
        with self._changed:
            while self._pending:
                if wake is not None and wake.is_set():
                    wake.clear()  # a commit from here on sets it again
                    return True
                self._changed.wait(poll if wake is not None else None)
        return False

    def close(self) -> None:
        """Wait for every lane to finish."""
        self.wait_for_news(None)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
