"""Periodic jobs of the workflow engine, found by :func:`engine.scheduler.load_periodic_jobs`."""

from __future__ import annotations

from typing import Any

from engine.workflow.deadlines import run_due_deadlines

DEADLINE_INTERVAL_SECONDS = 15


def _deadlines(run: Any) -> None:
    run_due_deadlines(run.services, run.now)


def register_periodic_jobs(scheduler: Any) -> None:
    """Check state deadlines every 15 s (claims are per row, so overlapping runs are safe)."""
    scheduler.every("workflow.deadlines", DEADLINE_INTERVAL_SECONDS, _deadlines)
