"""What a pipeline stage is given and what it answers, and how its answer reaches the order.

A stage (risk, price, reserve, ticket, and the follow-up of a newer platform version) is a
function ``(session, services, order, now) -> list[StageNote]`` that runs inside the
pipeline's transaction for that order: whatever it writes commits together with the
pipeline's step, or not at all. It never commits. The pipeline turns each :class:`StageNote`
into one timeline entry (with the ruleset version that decided it), adds its tags to the
order, and holds the order when a note carries ``hold``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine.orders.model import Order, OrderEvent
from engine.orders.order_tags import add_tag_rows

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["OrderRef", "Stage", "StageNote", "add_tags", "load_ref", "record"]


@dataclass(frozen=True)
class OrderRef:
    """The stored order a stage works on (its current version)."""

    pk: int
    channel: str
    order_id: str
    revision: int
    status: str
    source: str
    doc: dict[str, Any]
    tags: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """``channel/order_id``: how outbox rows and logs name the order."""
        return f"{self.channel}/{self.order_id}"


@dataclass(frozen=True)
class StageNote:
    """One thing a stage did, for the order's timeline.

    ``kind`` is the timeline kind (``risk_passed``, ``priced``, ``price_anomaly``, ``reserved``,
    ``short``, ``ticket_opened``, ``ticket_action``, ``released``, …); ``detail`` what a person
    reading the timeline needs (figures in fen, SKUs, ticket ids); ``ruleset`` and
    ``ruleset_version`` the published version that decided it; ``tags`` are added to the order
    (``价格异常``, ``缺货``); ``hold`` (a reason) holds the order in ``paid_hold``.
    """

    kind: str
    detail: dict[str, Any] = field(default_factory=dict)
    ruleset: str | None = None
    ruleset_version: int | None = None
    tags: tuple[str, ...] = ()
    hold: str | None = None


Stage = Callable[[Session, "Services", OrderRef, datetime], list[StageNote]]


def load_ref(session: Session, order_pk: int) -> OrderRef | None:
    """The order ``order_pk`` as stages see it, or None when it does not exist."""
    row = session.execute(select(Order.id, Order.channel, Order.order_id, Order.revision, Order.status,
                                 Order.source, Order.doc, Order.tags).where(Order.id == order_pk)).first()
    if row is None:
        return None
    return OrderRef(pk=row.id, channel=row.channel, order_id=row.order_id, revision=row.revision,
                    status=row.status, source=row.source, doc=row.doc or {}, tags=tuple(row.tags or ()))


def add_tags(session: Session, order: OrderRef, tags: Iterable[str]) -> tuple[str, ...]:
    """Add ``tags`` to the order (kept in first-seen order, no duplicates); returns all its tags."""
    current = list(order.tags)
    added = [t for t in tags if t not in current]
    if not added:
        return tuple(current)
    current.extend(dict.fromkeys(added))
    session.execute(update(Order).where(Order.id == order.pk).values(tags=current))
    add_tag_rows(session.connection(), order.pk, added)
    return tuple(current)


def record(session: Session, order: OrderRef, notes: Sequence[StageNote], *, actor: str, now: datetime) -> None:
    """Append one timeline entry per note (in one statement) and add the notes' tags."""
    if not notes:
        return
    session.execute(insert(OrderEvent), [
        {"order_pk": order.pk, "revision": order.revision, "kind": n.kind, "at": now, "actor": actor,
         "payload_id": None, "changes": [], "detail": n.detail, "ruleset": n.ruleset,
         "ruleset_version": n.ruleset_version} for n in notes])
    tags = [t for n in notes for t in n.tags]
    if tags:
        add_tags(session, order, tags)
