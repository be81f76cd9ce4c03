"""Writing side effects to the outbox inside the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.storage.models import OutboxMessage

DEFAULT_RETRY_SCHEDULE: tuple[int, ...] = (30, 120, 300)


def outbox_values(
    topic: str,
    payload: Any,
    *,
    now: datetime,
    source: str = "",
    ruleset_version: str | None = None,
    retry_schedule: Sequence[int] = DEFAULT_RETRY_SCHEDULE,
    order_ref: str | None = None,
) -> dict[str, Any]:
    """The column values of one new outbox row: what :func:`enqueue` adds, and what a caller
    writing rows with a Core ``INSERT`` (the workflow's transitions) passes as parameters."""
    return {"delivery_id": str(uuid.uuid4()), "topic": topic, "payload": payload, "status": "pending",
            "attempts": 0, "max_attempts": len(retry_schedule) + 1, "retry_schedule": list(retry_schedule),
            "next_attempt_at": now, "source": source, "ruleset_version": ruleset_version, "created_at": now,
            "order_ref": order_ref}


def enqueue(
    session: Session,
    topic: str,
    payload: Any,
    *,
    now: datetime,
    source: str = "",
    ruleset_version: str | None = None,
    retry_schedule: Sequence[int] = DEFAULT_RETRY_SCHEDULE,
    order_ref: str | None = None,
) -> OutboxMessage:
    """Add one side effect to the caller's unit of work; it commits or rolls back with it.

    The message is tried once at once, then after each delay in ``retry_schedule`` (seconds,
    measured from the previous attempt), and is marked dead when those are used up.
    ``order_ref`` (``channel/order_id``) names the order the delivery is about, so its dead
    letter can be found by order.
    """
    message = OutboxMessage(**outbox_values(topic, payload, now=now, source=source, ruleset_version=ruleset_version,
                                            retry_schedule=retry_schedule, order_ref=order_ref))
    session.add(message)
    return message
