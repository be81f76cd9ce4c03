"""Periodic jobs of the analytics, found by :func:`engine.scheduler.load_periodic_jobs`."""

from __future__ import annotations

from typing import Any

from engine.analytics.hour_counts import count_changes

COUNT_INTERVAL_SECONDS = 10


def _count(run: Any) -> None:
    count_changes(run.services.db, run.now)


def register_periodic_jobs(scheduler: Any) -> None:
    """Move the hourly order counters up to the orders changed until a moment ago, every 10 s."""
    scheduler.every("analytics.hour_counts", COUNT_INTERVAL_SECONDS, _count)
