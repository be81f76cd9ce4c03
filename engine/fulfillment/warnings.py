"""Ship warnings: for each declared ``warn LEAD before DUE notify CHANNEL "…"``, one message per
order not yet shipped once its ``DUE`` time (``promised_ship_at``, or ``presale_ship_by``) is
at most ``LEAD`` away.

Owns finding and sending them. :func:`send_due_warnings` is what the scheduler runs (every
minute, see :mod:`engine.fulfillment.jobs`). Each warning's orders are found by an index range
— ``ix_orders_promised_ship``, or the presale index ``ix_orders_presale_ship_by`` — over the
ship times in ``(now, now + LEAD]``, left-joined to the sent rows, never a scan of all orders.
Orders shipped (even in part), cancelled, still unpaid or dropped as test orders are not
warned; an order whose ship time has passed is late, not warned (the deviation shows it).

Once per order: the row ``(order, warning)`` in ``ship_warnings_sent`` (unique) is inserted
``ON CONFLICT DO NOTHING`` in the same transaction as the message's outbox row, so two workers
running at once, or a worker restarted mid-run, send it once. The message's ``{…}``
placeholders are the order's fields plus ``{left}`` (time left, e.g. ``2小时0分``), ``{due}``
(the ship time in Beijing time) and ``{name}`` (the declaration).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.clock import SHANGHAI, utc
from engine.fulfillment.declared import DeclaredWarning, declared_fulfillment
from engine.fulfillment.models import ShipWarningSent
from engine.fulfillment.sql import iso_text, ship_by_text
from engine.logs import get_logger
from engine.notifications import notify_body, notify_topic
from engine.orders.model import Order
from engine.outbox.service import outbox_values
from engine.storage.models import OutboxMessage
from engine.workflow.effects import render_message

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["WAITING_STATUSES", "candidates_statement", "left_text", "send_due_warnings"]

log = get_logger(__name__)

# orders the warehouse still has to ship
WAITING_STATUSES = ("paid_hold", "awaiting_shipment")
BATCH = 500


def left_text(seconds: int) -> str:
    """``3天0小时``, ``2小时0分``, ``45分`` (Chinese, for people)."""
    minutes = max(seconds, 0) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days}天{hours}小时"
    return f"{hours}小时{minutes}分" if hours else f"{minutes}分"


def candidates_statement(dialect: str, w: DeclaredWarning, now: datetime) -> Any:
    """The orders ``w`` is due for at ``now`` and not yet sent: an index range of ship times."""
    lead = timedelta(seconds=w.warning.lead)
    if w.warning.due == "promised_ship_at":
        due: Any = Order.promised_ship_at
        window = [Order.promised_ship_at > now, Order.promised_ship_at <= now + lead]
    else:
        due = ship_by_text(dialect)
        window = [due > iso_text(now), due <= iso_text(now + lead)]
    sent = ShipWarningSent
    return (select(Order.id, Order.channel, Order.order_id, due.label("due"), Order.doc)
            .outerjoin(sent, and_(sent.order_pk == Order.id, sent.warning == w.key))
            .where(*window, Order.status.in_(WAITING_STATUSES), Order.dropped_by.is_(None), sent.id.is_(None))
            .order_by(due, Order.id).limit(BATCH))


def _candidates(session: Session, w: DeclaredWarning, now: datetime) -> list[Any]:
    return list(session.execute(candidates_statement(session.get_bind().dialect.name, w, now)))


def _due(value: Any) -> datetime:
    return utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _send(session: Session, w: DeclaredWarning, rows: list[Any], now: datetime) -> int:
    """Claim each row's (order, warning); write the outbox message of every claim won."""
    table: Any = ShipWarningSent.__table__
    dialect = session.get_bind().dialect.name
    insert = pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    topic = notify_topic(w.channel)
    messages: dict[int, dict[str, Any]] = {}
    claims = []
    for r in rows:
        due = _due(r.due)
        env = {**(r.doc or {}), "left": left_text(int((due - now).total_seconds())),
               "due": due.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"), "name": w.declaration}
        context = {"order_pk": r.id, "order_channel": r.channel, "order_id": r.order_id, "warning": w.key,
                   "fulfillment": w.declaration}
        body = notify_body(w.warning.notify.channel, w.channel, render_message(w.warning.notify.message, env),
                           context=context)
        messages[r.id] = outbox_values(topic, body, now=now, source=f"fulfillment:{w.key}:{r.id}",
                                       ruleset_version=f"{w.ruleset}@{w.version}",
                                       order_ref=f"{r.channel}/{r.order_id}")
        claims.append({"order_pk": r.id, "warning": w.key, "due_at": due, "sent_at": now,
                       "channel": w.warning.notify.channel, "ruleset": w.ruleset, "ruleset_version": w.version,
                       "delivery_id": messages[r.id]["delivery_id"]})
    won = [pk for (pk,) in session.execute(
        insert.on_conflict_do_nothing(index_elements=["order_pk", "warning"]).returning(table.c.order_pk), claims)]
    for pk in won:
        session.add(OutboxMessage(**messages[pk]))
    return len(won)


def send_due_warnings(services: Services, now: datetime) -> int:
    """Send every declared warning now due; how many messages this call wrote."""
    with services.db.session() as session:
        declared = declared_fulfillment(session)
        pending = [(w, rows) for w in declared.warnings if (rows := _candidates(session, w, now))]
    sent = 0
    for w, rows in pending:
        with services.db.transaction(immediate=True) as session:
            sent += _send(session, w, rows, now)
    if sent:
        log.info("ship warnings sent", count=sent)
    return sent
