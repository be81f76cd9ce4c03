"""Periodic jobs of fulfillment, found by :func:`engine.scheduler.load_periodic_jobs`."""

from __future__ import annotations

from typing import Any

from engine.fulfillment.warnings import send_due_warnings

WARNING_INTERVAL_SECONDS = 60


def _warnings(run: Any) -> None:
    send_due_warnings(run.services, run.now)


def register_periodic_jobs(scheduler: Any) -> None:
    """Send the ship warnings that are due, every minute (one process at a time; the sent rows
    make a second sender harmless anyway)."""
    scheduler.every("fulfillment.warnings", WARNING_INTERVAL_SECONDS, _warnings)
