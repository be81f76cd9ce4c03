"""A source's declared ``retry`` for the outbox deliveries of that source.

``source douyin { … retry 30s, 2m, 5m }`` declares the delays between the attempts of every
delivery made for that source (the push fetch, a tracking-number write-back, …). The schedule
is written on the outbox row when the row is enqueued, so the dispatcher keeps to it even if
the declaration changes later, and a source that declares no ``retry`` gets
:data:`~engine.outbox.service.DEFAULT_RETRY_SCHEDULE`. :func:`enqueue_for_source` is the one
way a source's work adds a delivery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.inventory.sources import published_sources
from engine.outbox.service import DEFAULT_RETRY_SCHEDULE, enqueue
from engine.storage.models import OutboxMessage


def declared_retry(decl: Any) -> tuple[int, ...]:
    """The delays (seconds) a ``source`` declaration asks for, or the default schedule."""
    declared = tuple(int(s) for s in (getattr(decl, "retry", ()) or ()))
    return declared or DEFAULT_RETRY_SCHEDULE


def source_retry(session: Session, source: str) -> tuple[int, ...]:
    """The retry schedule of the published source named ``source`` (default when none is)."""
    for decl in published_sources(session):
        if decl.name == source:
            return declared_retry(decl)
    return DEFAULT_RETRY_SCHEDULE


def enqueue_for_source(
    session: Session,
    source: str,
    topic: str,
    payload: Any,
    *,
    now: datetime,
    decl: Any = None,
    order_ref: str | None = None,
    ruleset_version: str | None = None,
) -> OutboxMessage:
    """Enqueue a delivery made for ``source`` with that source's declared retries.

    Pass ``decl`` (the source's declaration) when the caller already holds it; otherwise the
    published source of that name is looked up in ``session``.
    """
    schedule = declared_retry(decl) if decl is not None else source_retry(session, source)
    return enqueue(session, topic, payload, now=now, source=source, ruleset_version=ruleset_version,
                   retry_schedule=schedule, order_ref=order_ref)
