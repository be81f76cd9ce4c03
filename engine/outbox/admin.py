"""Outbox administration: listing rows and replaying dead ones.

Owns the use cases behind the admin routes; it runs inside the caller's transaction and
never delivers anything itself (the dispatcher picks replayed rows up on its next pass).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Conflict, NotFound
from engine.logs import get_logger
from engine.storage.models import OutboxMessage

log = get_logger(__name__)

STATUSES: tuple[str, ...] = ("pending", "delivered", "dead")


def list_messages(
    session: Session,
    *,
    status: str | None = None,
    topic: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> list[OutboxMessage]:
    """Rows newest first, optionally filtered; page on with ``before_id`` (the last id seen)."""
    query = select(OutboxMessage)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if topic is not None:
        query = query.where(OutboxMessage.topic == topic)
    if before_id is not None:
        query = query.where(OutboxMessage.id < before_id)
    return list(session.execute(query.order_by(OutboxMessage.id.desc()).limit(limit)).scalars())


def replay_dead(
    session: Session,
    ids: Collection[int] | Literal["all"],
    *,
    now: datetime,
    actor: str = "",
) -> list[OutboxMessage]:
    """Put dead rows back to pending with a fresh set of attempts, due at ``now``.

    ``ids="all"`` replays every dead row. Named ids that do not exist raise
    :class:`NotFound`; named rows that are not dead raise :class:`Conflict` (nothing is
    changed then). Each row's last error is written to the log before it is cleared.
    The delivery id stays the same, so idempotent handlers recognise a replay.
    """
    query = select(OutboxMessage).where(OutboxMessage.status == "dead")
    if ids != "all":
        wanted = sorted(set(ids))
        rows = list(
            session.execute(
                select(OutboxMessage).where(OutboxMessage.id.in_(wanted)).order_by(OutboxMessage.id).with_for_update()
            ).scalars()
        )
        found = {row.id for row in rows}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise NotFound(
                f"no outbox row with id {', '.join(map(str, missing))}",
                details=[{"path": "/ids", "message": f"unknown outbox id {i}"} for i in missing],
            )
        not_dead = [row for row in rows if row.status != "dead"]
        if not_dead:
            raise Conflict(
                "only dead outbox rows can be replayed: "
                + ", ".join(f"row {row.id} is {row.status}" for row in not_dead),
                code="not_dead",
            )
    else:
        rows = list(session.execute(query.order_by(OutboxMessage.id).with_for_update()).scalars())
    for row in rows:
        log.info(
            "outbox row replayed",
            outbox_id=row.id,
            delivery_id=row.delivery_id,
            topic=row.topic,
            previous_attempts=row.attempts,
            previous_error=row.last_error,
            actor=actor,
        )
        row.status = "pending"
        row.attempts = 0
        row.next_attempt_at = now
        row.claim_token = None
        row.claimed_until = None
        row.last_error = None
        row.delivered_at = None
    session.flush()
    return rows
