"""One run of the alerts: count what arrived since the last run, then evaluate every published
alert for the window of now. The use case the background job, the tests and the bench call; it
opens its own transactions (one per batch) and returns what it did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from engine.alerts.counters import ConsumeReport, consume, take_lock
from engine.alerts.firings import Outcome, evaluate
from engine.alerts.measures import series_of_alerts
from engine.alerts.published import published_alerts

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["AlertsRun", "MAX_BATCHES", "run_alerts"]

MAX_BATCHES = 50  # per run; a longer backlog is finished by the next run


@dataclass
class AlertsRun:
    batches: list[ConsumeReport] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return sum(sum(b.read.values()) for b in self.batches)

    @property
    def backfilled(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.batches:
            out.update(b.backfilled)
        return out


def run_alerts(services: Services, now: datetime | None = None, *, evaluate_alerts: bool = True) -> AlertsRun:
    """Consume the event rows in batches (each its own transaction, the cursor moving with the
    counters), then evaluate the alerts in one more transaction."""
    at = now or services.clock.now()
    run = AlertsRun()
    for _ in range(MAX_BATCHES):
        with services.db.transaction(immediate=True) as session:
            published = published_alerts(session)
            report = consume(session, series_of_alerts(published.alerts), at)
        run.batches.append(report)
        if report.locked_elsewhere or not report.more:
            break
    if evaluate_alerts and not (run.batches and run.batches[-1].locked_elsewhere):
        with services.db.transaction(immediate=True) as session:
            published = published_alerts(session)
            if published.alerts and take_lock(session):
                run.outcomes = evaluate(session, published, at)
    return run

