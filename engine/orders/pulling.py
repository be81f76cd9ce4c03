"""The order puller: each source's orders read in windows of the platform's modified time and
handed to intake, with a durable cursor, one puller per source across processes, and back-off.

How one run of :func:`pull_source` goes:

- It takes the SQL lease ``orders.pull:<source>`` (:mod:`engine.leases`); another process
  holding it means this run does nothing. Every cursor write checks the lease's fencing token
  in its transaction, so a paused run whose lease ran out cannot move the cursor.
- From the cursor's ``next_start`` (first run: :data:`FIRST_LOOKBACK` before now) up to
  ``now - SETTLE`` (so no window gains rows while it is read), it reads windows of at most the
  client's ``max_window``, each starting :data:`OVERLAP` before the cursor (a platform's
  modified-time index may lag; orders read twice are ``unchanged``). Pages come in the
  client's order (Taobao and PDD: last page first); each page's orders are stored through
  :func:`engine.orders.intake.intake_platform_orders` before the cursor records the page, and
  the cursor moves to the window's end only after all of its pages are stored. A run killed
  anywhere reads the unfinished window again: no window skipped, no order duplicated.
- A retryable platform error (5xx, time-out, rate limit, busy code) stops the run with the
  cursor where it is and holds the source back until ``retry_at``: the platform's
  ``retry_after`` when it says, else :data:`BACKOFF` by the number of failures in a row. A
  permanent error (credentials, configuration) holds it back :data:`PERMANENT_HOLD`.

:func:`pull_due_sources` is the scheduler's job (``engine.orders.jobs``): every source whose
``pull orders every …`` has passed since its last run, or, after a failure, whose retry time
has come.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from engine import leases
from engine.clock import utc
from engine.logs import get_logger
from engine.orders.intake import intake_platform_orders
from engine.orders.ports import PlatformOrderClient
from engine.orders.pull_model import OrderPullCursor
from engine.orders.sources import order_client, order_sources

if TYPE_CHECKING:
    from engine.services import Services

log = get_logger(__name__)

OVERLAP = timedelta(seconds=60)
SETTLE = timedelta(seconds=2)
FIRST_LOOKBACK = timedelta(days=1)
LEASE_TTL = timedelta(minutes=2)
BACKOFF = (5, 15, 60, 300)  # seconds, by failures in a row (the last repeats)
PERMANENT_HOLD = timedelta(minutes=5)


def lease_name(source: str) -> str:
    return f"orders.pull:{source}"


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class PullResult:
    """What one run did: windows finished, pages and orders stored, intake outcomes by kind,
    and the error that stopped it (None when it caught up) or ``busy`` (another holder)."""

    source: str
    windows: int = 0
    pages: int = 0
    orders: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    error: str | None = None
    busy: bool = False
    retry_at: datetime | None = None


class _LeaseLost(Exception):
    pass


def _cursor(services: Services, source: str, now: datetime) -> OrderPullCursor:
    with services.db.session() as s:
        row = s.get(OrderPullCursor, source)
        if row is not None:
            s.expunge(row)
            return row
    return OrderPullCursor(source=source, next_start=now - FIRST_LOOKBACK, window_end=None, pages_stored=0,
                           orders_seen=0, failures=0, updated_at=now)


def _write_cursor(services: Services, source: str, token: int, now: datetime, **values: object) -> None:
    """Update (or create) the cursor row, refused when the lease has a newer holder."""
    with services.db.transaction(immediate=True) as s:
        try:
            leases.check_fence(s, lease_name(source), token)
        except leases.StaleFence as exc:
            raise _LeaseLost(str(exc)) from None
        row = s.execute(select(OrderPullCursor).where(OrderPullCursor.source == source)).scalar_one_or_none()
        if row is None:
            row = OrderPullCursor(source=source, next_start=values.get("next_start", now), pages_stored=0,
                                  orders_seen=0, failures=0, updated_at=now)
            s.add(row)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now


def pull_source(services: Services, source: str, client: PlatformOrderClient, *, holder: str | None = None,
                now: datetime | None = None) -> PullResult:
    """One run of the puller for ``source`` (see the module docstring)."""
    now = now or services.clock.now()
    holder = holder or default_holder()
    result = PullResult(source)
    token = leases.acquire(services.db, lease_name(source), holder, LEASE_TTL, now)
    if token is None:
        result.busy = True
        return result
    try:
        _run(services, source, client, holder, token, now, result)
    except _LeaseLost as exc:
        result.error = str(exc)
        log.warning("order pull stopped: the lease moved to another holder", source=source)
    finally:
        leases.release(services.db, lease_name(source), holder, token)
    return result


def _run(services: Services, source: str, client: PlatformOrderClient, holder: str, token: int, now: datetime,
         result: PullResult) -> None:
    cursor = _cursor(services, source, now)
    failures = cursor.failures or 0
    _write_cursor(services, source, token, now, last_run_at=now, next_start=utc(cursor.next_start))
    next_start = utc(cursor.next_start)
    limit = now - SETTLE
    overlap = min(OVERLAP, client.max_window / 4)
    try:
        while next_start < limit:
            read_from = next_start - overlap
            window_end = min(read_from + client.max_window, limit)
            for pages, page in enumerate(client.pages(read_from, window_end), start=1):
                outcomes = intake_platform_orders(services, source=source, payloads=page.orders, via="pull")
                result.outcomes.update(o.outcome for o in outcomes)
                result.pages += 1
                result.orders += len(page.orders)
                _write_cursor(services, source, token, now, window_end=window_end, pages_stored=pages,
                              orders_seen=(cursor.orders_seen or 0) + result.orders)
                if not leases.renew(services.db, lease_name(source), holder, token, LEASE_TTL, services.clock.now()):
                    raise _LeaseLost(f"lease {lease_name(source)!r} taken by another holder")
            _write_cursor(services, source, token, now, next_start=window_end, window_end=None, pages_stored=0,
                          failures=0, retry_at=None, last_error=None)
            next_start = window_end
            result.windows += 1
    except _LeaseLost:
        raise
    except Exception as exc:
        permanent = bool(getattr(exc, "permanent", False))
        failures += 1
        if permanent:
            hold = PERMANENT_HOLD
        else:
            wait = float(BACKOFF[min(failures, len(BACKOFF)) - 1])
            asked = getattr(exc, "retry_after", None)
            hold = timedelta(seconds=max(wait if asked is None else 0.0, float(asked or 0)))
        result.error = str(exc)
        result.retry_at = now + hold
        _write_cursor(services, source, token, now, failures=failures, retry_at=result.retry_at,
                      last_error=str(exc)[:2000])
        log.warning("order pull failed; the window is read again later", source=source, error=str(exc),
                    permanent=permanent, retry_at=result.retry_at.isoformat(), failures=failures)
        if not permanent and not hasattr(exc, "permanent"):
            log.exception("order pull: unexpected error", source=source)


def pull_due_sources(services: Services, *, now: datetime | None = None, holder: str | None = None) -> list[PullResult]:
    """Run :func:`pull_source` for every published source whose ``pull orders every …`` is due
    and that is not held back after a failure."""
    now = now or services.clock.now()
    results = []
    sources = order_sources(services)
    with services.db.session() as s:
        cursors = {c.source: (c.last_run_at, c.retry_at) for c in s.scalars(
            select(OrderPullCursor).where(OrderPullCursor.source.in_(list(sources))))}
    for source in sources.values():
        if source.every is None:
            continue
        last_run, retry_at = cursors.get(source.name, (None, None))
        if retry_at is not None:  # after a failure: again at the retry time, not the next interval
            if utc(retry_at) > now:
                continue
        elif last_run is not None and utc(last_run) + timedelta(seconds=source.every) > now:
            continue
        client = order_client(services, source)
        if client is None:
            continue
        result = pull_source(services, source.name, client, holder=holder, now=now)
        results.append(result)
        if result.orders or result.error:
            log.info("orders pulled", source=source.name, windows=result.windows, pages=result.pages,
                     orders=result.orders, outcomes=dict(result.outcomes), error=result.error)
    return results
