"""Outbox administration: listing rows, the dead letters, and replaying dead ones.

Owns the use cases behind the admin routes; it runs inside the caller's transaction and
never delivers anything itself (the dispatcher picks replayed rows up on its next pass).
Every replay is kept in ``outbox_replays`` (who, when, what the row had failed with); the
replayed row keeps its ``delivery_id``, the idempotency key its handler sees.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine.api.cursors import decode_cursor, encode_cursor
from engine.errors import Conflict, NotFound
from engine.logs import get_logger
from engine.outbox.wake import mark_written
from engine.storage.models import OutboxMessage, OutboxReplay

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


@dataclass(frozen=True)
class DeadPage:
    """One page of dead letters (newest first), their replay histories, and the cursor of the next page."""

    items: list[OutboxMessage]
    replays: dict[int, list[OutboxReplay]]
    next_cursor: str | None


def list_dead(
    session: Session,
    *,
    topic: str | None = None,
    source: str | None = None,
    order: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeadPage:
    """Dead rows, newest first, filtered by topic, source and order (``channel/order_id``).

    ``cursor`` is a page's ``next_cursor``; a cursor this API did not give out is refused
    (422 naming ``/cursor``).
    """
    query = select(OutboxMessage).where(OutboxMessage.status == "dead")
    if topic is not None:
        query = query.where(OutboxMessage.topic == topic)
    if source is not None:
        query = query.where(OutboxMessage.source == source)
    if order is not None:
        query = query.where(OutboxMessage.order_ref == order)
    if cursor:
        at, last_id = decode_cursor(cursor)
        query = query.where(or_(OutboxMessage.created_at < at,
                                and_(OutboxMessage.created_at == at, OutboxMessage.id < last_id)))
    query = query.order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc()).limit(limit + 1)
    rows = list(session.execute(query).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return DeadPage(rows, replay_history(session, [row.id for row in rows]), next_cursor)


def replay_history(session: Session, ids: Sequence[int]) -> dict[int, list[OutboxReplay]]:
    """The replays of each of ``ids``, oldest first (rows never replayed map to ``[]``)."""
    out: dict[int, list[OutboxReplay]] = {i: [] for i in ids}
    if ids:
        found = session.execute(select(OutboxReplay).where(OutboxReplay.outbox_id.in_(list(ids)))
                                .order_by(OutboxReplay.outbox_id, OutboxReplay.id)).scalars()
        for replay in found:
            out[replay.outbox_id].append(replay)
    return out


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
    changed then). Each replay is recorded in ``outbox_replays`` with ``actor``, ``now``, the
    attempts made and the last error, and written to the log, before the row is reset.
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
        session.add(OutboxReplay(outbox_id=row.id, actor=actor, at=now, previous_attempts=row.attempts,
                                 previous_error=row.last_error))
        row.status = "pending"
        row.attempts = 0
        row.next_attempt_at = now
        row.claim_token = None
        row.claimed_until = None
        row.last_error = None
        row.delivered_at = None
    session.flush()
    if rows:
        mark_written(session)
    return rows
