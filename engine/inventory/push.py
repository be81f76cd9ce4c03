"""Coalesced stock pushes to the channels, through the outbox.

1. Every stock change upserts the SKU's marker in ``inventory_push_pending`` in its own
   transaction (:func:`mark_changed`; latest version wins, one row per SKU, so a hot SKU costs
   one row however often it changes).
2. The relay (:func:`relay_pushes`, a scheduled job woken when markers commit, see
   :mod:`engine.inventory.jobs`) turns markers into one pending outbox row per channel and SKU
   (topic ``inventory.stock_push``): when that channel+SKU already has a row that no dispatcher
   has claimed yet, its payload is replaced (latest version wins); otherwise a new row is
   queued. Markers are deleted in the same transaction; on PostgreSQL only those no open
   transaction holds (``SKIP LOCKED``, taken last), so the relay never waits for, or deadlocks
   with, a writer still writing one: that marker stays for the run the writer's commit wakes.
3. The handler (:func:`make_push_handler`, delivered side by side per channel and SKU,
   :func:`push_lane`) re-reads the push state and the SKU and pushes the *current* figure and
   version — never one older than already pushed, so a channel never goes backwards (I10),
   and a figure never above ``total - reserved`` as of that read — then records what it
   pushed, conditionally on no newer version recorded meanwhile. No row lock is held during
   the platform's call: on SQLite the call runs outside the write lock (the outbox's
   ``calls_out``); on PostgreSQL a transaction-scoped advisory lock per channel and SKU
   (:func:`push_lock_key`) keeps one push of a pair at a time across worker processes, and the
   push state row stays unlocked, so a relay never waits for a slow or timing-out platform. A
   relay that meets a push in flight queues a new row rather than trust the figure last
   recorded; a worker that claims it while another still pushes the pair does not wait for the
   lock (a thread held while a platform times out): the row comes back a second later
   (:class:`PushInFlight`, the attempt not counted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, bindparam, case, delete, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine import leases
from engine.clock import Clock
from engine.inventory.channels import ChannelRegistry, channel_figure, rules_for
from engine.inventory.domain import available_of
from engine.inventory.models import ChannelPush, PushPending, StockItem
from engine.logs import get_logger
from engine.outbox import enqueue
from engine.storage.advisory import advisory_key
from engine.storage.db import Database
from engine.storage.models import OutboxMessage
from engine.storage.types import UTCDateTime

if TYPE_CHECKING:
    from engine.outbox.registry import Delivery

log = get_logger(__name__)

PUSH_TOPIC = "inventory.stock_push"
PUSH_RETRY = (5, 30, 120, 300)
RELAY_BATCH = 500
IN_FLIGHT_RETRY_SECONDS = 1.0
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_PENDING: Table = PushPending.__table__  # type: ignore[assignment]
_STATES: Table = ChannelPush.__table__  # type: ignore[assignment]


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def mark_changed(session: Session, changes: Iterable[tuple[str, int]], now: datetime) -> None:
    """Upsert the push marker of each changed SKU (version only moves forward)."""
    newest: dict[str, int] = {}
    for sku, version in changes:
        newest[sku] = max(version, newest.get(sku, 0))
    if not newest:
        return
    stmt = _insert(session)(_PENDING).values(
        [{"sku_id": sku, "version": v, "queued_at": now} for sku, v in sorted(newest.items())])
    session.execute(stmt.on_conflict_do_update(
        index_elements=["sku_id"], set_={"version": stmt.excluded.version, "queued_at": stmt.excluded.queued_at},
        where=_PENDING.c.version < stmt.excluded.version))


def mark_all(session: Session, now: datetime) -> None:
    """Mark every SKU (a channel-wide quota or buffer changed)."""
    session.execute(text(
        "INSERT INTO inventory_push_pending (sku_id, version, queued_at) "
        "SELECT sku_id, version, :now FROM inventory_stock WHERE true ON CONFLICT (sku_id) DO NOTHING"
    ).bindparams(bindparam("now", type_=UTCDateTime())), {"now": now})


@dataclass
class RelayReport:
    skus: int = 0
    queued: int = 0
    coalesced: int = 0
    unchanged: int = 0
    channels: list[str] = field(default_factory=list)


def queue_channel_pushes(session: Session, channels: list[str], skus: list[str], now: datetime, *,
                         force: bool = False, report: RelayReport | None = None) -> RelayReport:
    """Queue (or coalesce into the pending row) a push of each SKU to each channel.

    A channel+SKU whose outbox row is still unclaimed gets that row's payload replaced (the
    handler pushes the figure current at delivery anyway); otherwise a channel already showing
    this figure is skipped (a ship, a quota still binding), unless ``force`` (a snapshot showed
    the platform out of step); otherwise a new row is queued.
    """
    report = report or RelayReport(channels=list(channels))
    skus = sorted(set(skus))
    if not skus or not channels:
        return report
    # Lock the push states first (a handler records what it pushed on the same rows), then read
    # the stock, so what this relay compares with is what the channel was last shown or a push
    # in flight (its outbox row claimed: a new row is queued then).
    states = {(r.channel, r.sku_id): r for r in session.scalars(
        select(ChannelPush).where(ChannelPush.channel.in_(channels), ChannelPush.sku_id.in_(skus))
        .order_by(ChannelPush.channel, ChannelPush.sku_id).with_for_update())}
    stock = {r.sku_id: r for r in session.scalars(select(StockItem).where(StockItem.sku_id.in_(skus)))}
    wanted: list[tuple[ChannelPush, dict[str, Any], int, int]] = []
    for channel in sorted(channels):
        rules = rules_for(session, channel, skus)
        for sku in skus:
            item = stock.get(sku)
            if item is None:
                continue
            figure = channel_figure(available_of(item.total_stock, item.reserved_stock, item.safety_stock), rules[sku])
            state = states.get((channel, sku))
            if state is None:
                state = ChannelPush(channel=channel, sku_id=sku, queued_version=0, pushed_version=0)
                session.add(state)
            payload = {"channel": channel, "sku_id": sku, "version": item.version, "available": figure}
            if force:
                payload["force"] = True
            wanted.append((state, payload, item.version, figure))
    coalesced = _coalesce(session, {state.delivery_id: payload for state, payload, _, _ in wanted
                                    if state.delivery_id})
    for state, payload, version, figure in wanted:
        if state.delivery_id in coalesced:
            report.coalesced += 1  # not yet claimed: it will push the figure current at delivery
        elif not force and state.pushed_available == figure and not _in_flight(session, state.delivery_id):
            # the channel already shows it (a ship, a cap); a push in flight may be showing
            # another figure as we speak (on SQLite its call runs with no lock held), so then
            # a new row is queued: the handler skips it if the channel shows it by then
            report.unchanged += 1
            continue
        else:
            state.delivery_id = enqueue(session, PUSH_TOPIC, payload, now=now, source="inventory.relay",
                                        retry_schedule=PUSH_RETRY).delivery_id
            report.queued += 1
        state.queued_version = max(state.queued_version or 0, version)
        state.queued_available = figure
    session.flush()
    return report


def _coalesce(session: Session, payloads: dict[str, dict[str, Any]]) -> set[str]:
    """Give each outbox row of ``payloads`` (delivery id → payload) that is still pending and
    unclaimed its new payload, in one statement; returns the delivery ids so replaced (a row a
    dispatcher claimed meanwhile keeps its payload: the caller queues a new one)."""
    if not payloads:
        return set()
    payload_type = _OUTBOX.c.payload.type
    new_payload = case(*((_OUTBOX.c.delivery_id == delivery_id, literal(payload, payload_type))
                         for delivery_id, payload in payloads.items()), else_=_OUTBOX.c.payload)
    replaced = session.execute(
        update(_OUTBOX).where(_OUTBOX.c.delivery_id.in_(list(payloads)), _OUTBOX.c.status == "pending",
                              _OUTBOX.c.claim_token.is_(None)).values(payload=new_payload)
        .returning(_OUTBOX.c.delivery_id))
    return {row[0] for row in replaced}


def _in_flight(session: Session, delivery_id: str | None) -> bool:
    """Whether ``delivery_id``'s outbox row is claimed by a dispatcher right now."""
    if not delivery_id:
        return False
    return session.execute(select(_OUTBOX.c.id).where(
        _OUTBOX.c.delivery_id == delivery_id, _OUTBOX.c.status == "pending",
        _OUTBOX.c.claim_token.is_not(None)).limit(1)).first() is not None


def relay_pushes(db: Database, clock: Clock, registry: ChannelRegistry, *, limit: int = RELAY_BATCH,
                 fence: tuple[str, int] | None = None) -> RelayReport:
    """Turn up to ``limit`` push markers into coalesced per-channel outbox rows.

    With no connector registered the markers stay (one per SKU at most) until one is. With
    ``fence`` (the scheduler lease's name and token) a relay whose lease another process has
    taken since writes nothing (:class:`engine.leases.StaleFence`).
    """
    channels = registry.channels()
    report = RelayReport(channels=channels)
    if not channels:
        return report
    with db.transaction(immediate=True) as s:
        marks = s.execute(select(_PENDING.c.sku_id, _PENDING.c.version)
                          .order_by(_PENDING.c.sku_id).limit(limit)).all()
        if not marks:
            return report
        if fence is not None:
            leases.check_fence(s, *fence)
        report.skus = len(marks)
        queue_channel_pushes(s, channels, [m[0] for m in marks], clock.now(), report=report)
        free = {m[0] for m in marks}
        if db.is_postgres:
            # Only the markers no open transaction holds are deleted, locked last and without
            # waiting (SKIP LOCKED): a writer still writing one (a pipeline batch writes them
            # order by order, not in SKU order) would otherwise deadlock with these deletes.
            # Its marker stays, and the relay run its commit wakes relays it again.
            free = set(s.scalars(select(_PENDING.c.sku_id).where(_PENDING.c.sku_id.in_(sorted(free)))
                                 .order_by(_PENDING.c.sku_id).with_for_update(skip_locked=True)))
        for sku, version in marks:  # one row per statement, in SKU order (the hot path's lock order)
            if sku in free:
                s.execute(delete(_PENDING).where(_PENDING.c.sku_id == sku, _PENDING.c.version <= version))
    return report


def push_lane(payload: Any) -> str:
    """What a push must stay in order with: the same SKU on the same channel (the handler locks
    that push state and never shows an older version anyway; channels go side by side)."""
    return f"{payload['channel']}/{payload['sku_id']}"


class PushInFlight(RuntimeError):
    """Another worker is pushing this channel and SKU: the outbox gives the attempt back and
    delivers the row again after :data:`IN_FLIGHT_RETRY_SECONDS` (it pushes the figure current then)."""

    def __init__(self, channel: str, sku_id: str) -> None:
        super().__init__(f"a push of {sku_id} to {channel} is in flight in another worker")
        self.retry_after = IN_FLIGHT_RETRY_SECONDS


def push_lock_key(channel: str, sku_id: str) -> int:
    """The advisory lock id of a channel and SKU's pushes, in the stock pushes' key space."""
    return advisory_key(f"stock_push:{channel}", sku_id)


def make_push_handler(registry: ChannelRegistry,
                      before: Callable[[], object] | None = None) -> Callable[[Delivery], None]:
    """The outbox handler of ``inventory.stock_push`` for this process's connectors
    (``before`` runs first: the connectors built from the published sources are brought up
    to date)."""

    def deliver(delivery: Delivery) -> None:
        if before is not None:
            before()
        s = delivery.session
        channel, sku = delivery.payload["channel"], delivery.payload["sku_id"]
        connector = registry.get(channel)
        if connector is None:
            raise LookupError(f"no stock connector registered for channel {channel}")
        if s.get_bind().dialect.name == "postgresql" and not s.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": push_lock_key(channel, sku)}).scalar():
            # one push of this channel and SKU at a time, across processes, held through the
            # call (the state row stays unlocked, so a relay meanwhile does not wait); a push
            # of the pair in flight in another worker: come back shortly, holding no thread
            raise PushInFlight(channel, sku)
        state = s.execute(select(ChannelPush).where(ChannelPush.channel == channel, ChannelPush.sku_id == sku)
                          ).scalar_one_or_none()
        item = s.execute(select(StockItem).where(StockItem.sku_id == sku)).scalar_one_or_none()
        if state is None or item is None:
            return
        figure = channel_figure(available_of(item.total_stock, item.reserved_stock, item.safety_stock),
                                rules_for(s, channel, [sku])[sku])
        version = item.version
        stale = version < state.pushed_version
        same = version == state.pushed_version and figure == state.pushed_available
        this_row = _STATES.c.channel == channel, _STATES.c.sku_id == sku
        if not (stale or (same and not delivery.payload.get("force"))):
            delivery.outside(lambda: connector.push_stock(sku, figure, version))
            # written after the call, conditionally: what this push showed is recorded unless a
            # newer version was recorded meanwhile (never backwards)
            s.execute(update(_STATES).where(*this_row, _STATES.c.pushed_version <= version).values(
                pushed_version=version, pushed_available=figure, pushed_at=delivery.now))
            log.debug("stock pushed", channel=channel, sku_id=sku, available=figure, version=version)
        delivery.start_writing()
        # this row is no longer the one a relay may coalesce into (unless the relay queued a new one)
        s.execute(update(_STATES).where(*this_row, _STATES.c.delivery_id == delivery.delivery_id)
                  .values(delivery_id=None))

    return deliver
