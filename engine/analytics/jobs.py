"""Periodic jobs of the analytics, found by :func:`engine.scheduler.load_periodic_jobs`."""

from __future__ import annotations

from typing import Any

from engine.analytics.deviation_counts import DEFAULT_THRESHOLD_S, ensure_threshold, reconcile_changed
from engine.analytics.hour_counts import count_changes
from engine.fulfillment.declared import declared_fulfillment
from engine.fulfillment.presale_counts import reconcile_changed as reconcile_presale

COUNT_INTERVAL_SECONDS = 10
THRESHOLD_INTERVAL_SECONDS = 60
PRESALE_INTERVAL_SECONDS = 60


def _count(run: Any) -> None:
    count_changes(run.services.db, run.now)


def _threshold(run: Any) -> None:
    db = run.services.db
    with db.session() as session:
        declared = declared_fulfillment(session).late_after
    ensure_threshold(db, declared or DEFAULT_THRESHOLD_S)
    reconcile_changed(db, run.now)


def _presale(run: Any) -> None:
    reconcile_presale(run.services.db, run.now)


def register_periodic_jobs(scheduler: Any) -> None:
    """Move the hourly order counters up to the orders changed until a moment ago, every 10 s;
    every minute, re-derive the deviation counters once a newly published ``late after`` differs
    (a read of the deviation does it too, so its figures never wait for this) and pass the orders
    changed outside the ship and store paths through them; every minute, pass those orders through
    the presale counters too."""
    scheduler.every("analytics.hour_counts", COUNT_INTERVAL_SECONDS, _count)
    scheduler.every("analytics.deviation_threshold", THRESHOLD_INTERVAL_SECONDS, _threshold)
    scheduler.every("analytics.presale_counts", PRESALE_INTERVAL_SECONDS, _presale)
