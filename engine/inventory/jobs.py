"""Periodic jobs of the inventory, found by :func:`engine.scheduler.load_periodic_jobs`.

* ``inventory.push_relay``: push markers → coalesced per-channel outbox rows. Woken when
  markers commit (:mod:`engine.inventory.push_wake`), so a reservation reaches the channels
  in the time of one relay run and one delivery, not at the next tick; every 2 s as the
  backstop (markers of another process on a SQLite file, a lost notification). Woken runs
  start at least ``RELAY_SPACING_SECONDS`` (0.1 s) apart: a hot SKU changing 1,000 times a
  second is pushed at most ~10 times a second per channel (the latest figure each time,
  pending rows coalesce), well under the platforms' per-app limits on their stock write APIs
  (Kuaishou item writes 50–100/s, Xiaohongshu 100/s) however many SKUs are hot at once, and
  the relay's write transaction (SQLite's one writer) stays a small share of the hot path's
  time; it adds at most 0.1 s to a push, within the 0.5 s we promise.
* ``inventory.snapshots`` (a 10 s tick): pulls each channel whose interval has passed — the
  interval is the published rules' ``pull stock every …`` of that channel's source, else 90 s.
  The last pull time is the channel's fence row, so all workers agree on it.
* ``inventory.reconcile`` (every 30 s, with Redis): Redis gate against SQL.

Each job is a scheduler singleton (one process per tick, through the scheduler's SQL lease);
inside, the pullers and the reconciler also take their Redis lock and fencing token, so a
run that outlives its tick cannot write over a newer one (I11). Registering the jobs also
registers the outbox handlers of the inventory in this process: ``inventory.stock_push`` for
its connectors and ``inventory.alert`` (see ``engine.inventory.alert_delivery``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from sqlalchemy import select

from engine.inventory.alert_delivery import register_alert_handler
from engine.inventory.channels import channel_registry
from engine.inventory.models import JobFence
from engine.inventory.push import PUSH_TOPIC, RELAY_BATCH, make_push_handler, push_lane, relay_pushes
from engine.inventory.push_wake import PUSH_CHANNEL_SQL
from engine.inventory.reconciler import reconcile_once
from engine.inventory.service import inventory_for
from engine.inventory.snapshots import PULL_EVERY_SECONDS, job_name, pull_snapshot
from engine.inventory.sources import declared_pull_intervals, sync_source_connectors
from engine.leases import StaleFence
from engine.logs import get_logger
from engine.scheduler import WakeOn

if TYPE_CHECKING:
    from engine.scheduler import JobRun, Scheduler
    from engine.services import Services

log = get_logger(__name__)

RELAY_EVERY_SECONDS = 2
RELAY_SPACING_SECONDS = 0.1
SNAPSHOT_TICK_SECONDS = 10
RECONCILE_EVERY_SECONDS = 30

def due_channels(services: Services, now: datetime) -> list[str]:
    """Channels with a connector whose last pull is older than their interval."""
    channels = channel_registry(services).channels()
    if not channels:
        return []
    with services.db.session() as s:
        try:
            declared = declared_pull_intervals(s)
        except Exception:
            log.exception("could not read declared stock pull intervals; using the default")
            declared = {}
        last = dict(s.execute(select(JobFence.name, JobFence.written_at)
                              .where(JobFence.name.in_([job_name(c) for c in channels]))).all())
    due = []
    for channel in channels:
        every = timedelta(seconds=declared.get(channel, PULL_EVERY_SECONDS))
        pulled = last.get(job_name(channel))
        if pulled is None or now - pulled >= every:
            due.append(channel)
    return due


def run_push_relay(run: JobRun) -> None:
    sync_source_connectors(run.services)
    fence = (run.lease_name, run.fencing_token) if run.lease_name and run.fencing_token is not None else None
    try:
        report = relay_pushes(run.services.db, run.services.clock, channel_registry(run.services), fence=fence)
    except StaleFence as exc:  # another process took the relay's lease: it relays these markers
        log.warning("stock push relay stood down: its lease was taken", error=str(exc))
        return
    if report.skus:
        log.info("stock pushes queued", skus=report.skus, queued=report.queued, coalesced=report.coalesced)
    if report.skus >= RELAY_BATCH:  # more markers wait: run again after the spacing, not at the next tick
        run.services.stock_push_wake.set()


def run_snapshot_pullers(run: JobRun) -> None:
    sync_source_connectors(run.services)
    inventory = inventory_for(run.services)
    registry = channel_registry(run.services)
    for channel in due_channels(run.services, run.now):
        connector = registry.get(channel)
        if connector is None:
            continue
        try:
            report = pull_snapshot(inventory, channel, connector.fetch_stock)
        except Exception:
            log.exception("stock snapshot failed", channel=channel)
            continue
        log.info("stock snapshot", channel=channel, ran=report.ran, stored=report.stored, drift=len(report.drift))


def run_reconciler(run: JobRun) -> None:
    try:
        report = reconcile_once(inventory_for(run.services))
    except RedisError as exc:  # SQL keeps deciding; the next tick tries again
        log.warning("inventory reconcile skipped: Redis unreachable", error=str(exc))
        return
    if report.drift or report.orphans_freed or report.refused:
        log.info("inventory reconciled", drift=len(report.drift), orphans=len(report.orphans_freed),
                 refused=report.refused)


def register_periodic_jobs(scheduler: Scheduler) -> None:
    services = scheduler.services
    register_push_handler(services)
    register_alert_handler(services)
    scheduler.every("inventory.push_relay", RELAY_EVERY_SECONDS, run_push_relay,
                    wake=WakeOn(services.stock_push_wake, PUSH_CHANNEL_SQL, RELAY_SPACING_SECONDS))
    scheduler.every("inventory.snapshots", SNAPSHOT_TICK_SECONDS, run_snapshot_pullers)
    if services.settings.redis_url:
        scheduler.every("inventory.reconcile", RECONCILE_EVERY_SECONDS, run_reconciler)


def register_push_handler(services: Services) -> None:
    """Deliver ``inventory.stock_push`` rows with this process's connectors: the channels side by
    side (on PostgreSQL), one channel's pushes of one SKU in turn."""
    services.handlers.register(PUSH_TOPIC, make_push_handler(
        channel_registry(services), before=lambda: sync_source_connectors(services, max_age=RELAY_EVERY_SECONDS)),
        ordering_key=push_lane, calls_out=True)
