"""Platform order pushes: ``POST /api/v1/sources/{source}/push``.

:func:`receive_push` finds the source's order client, lets it verify the message
(``client.parse_push``: signature and shape, before anything else is read), keeps each order
event once by (source, message id) in ``order_push_messages``, and answers what the platform
expects (``client.push_ack``) at once. A replayed message finds its id kept and changes
nothing; a badly signed one is refused with the client's status and stores nothing.

An event that carries the order is ``fetched`` at once. One that carries only the order id
gets an outbox row (``orders.push_fetch``, same transaction, the source's declared retries):
its handler fetches the detail with ``client.order_detail`` and keeps it on the message
(``fetched``). :func:`intake_fetched_pushes` (the ``orders.push_intake`` job, every second)
then runs intake (``via="push"``) on fetched messages and marks them ``stored`` — apart from
the outbox delivery, whose fetch runs with no lock held on SQLite (the outbox's ``calls_out``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from engine.logs import get_logger
from engine.orders.intake import IntakeOutcome, intake_platform_order
from engine.orders.ports import PushRefused
from engine.orders.pull_model import OrderPushMessage
from engine.orders.sources import order_client, order_sources
from engine.outbox.retries import enqueue_for_source

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.outbox.registry import Delivery
    from engine.services import Services

log = get_logger(__name__)

PUSH_TOPIC = "orders.push_fetch"
DEFAULT_ACK: dict[str, Any] = {"code": 0, "msg": "success"}
MAX_PUSH_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class PushAnswer:
    status: int
    body: dict[str, Any]
    accepted: int = 0
    replayed: int = 0


def _error(status: int, code: str, message: str) -> PushAnswer:
    return PushAnswer(status, {"error": {"code": code, "message": message, "details": []}})


def receive_push(services: Services, source: str, headers: Mapping[str, str], body: bytes) -> PushAnswer:
    """Verify, keep and acknowledge one push message of ``source`` (see the module docstring)."""
    found = order_sources(services).get(source)
    if found is None:
        return _error(404, "not_found", f"no published source {source!r}")
    client = order_client(services, found)
    if client is None:
        return _error(404, "not_found", f"source {source!r} has no order client (platform or credentials missing)")
    if len(body) > MAX_PUSH_BYTES:
        return _error(413, "too_large", f"push body over {MAX_PUSH_BYTES} bytes")
    try:
        events = client.parse_push(headers, body)
    except PushRefused as exc:
        log.warning("order push refused", source=source, reason=exc.reason, status=exc.status)
        return _error(exc.status, "push_refused", exc.reason)
    now = services.clock.now()
    accepted = replayed = 0
    for event in events:
        try:
            with services.db.transaction(immediate=True) as s:  # it reads then writes: SQLite's lock first
                if s.scalar(select(OrderPushMessage.id).where(OrderPushMessage.source == source,
                                                              OrderPushMessage.message_id == event.message_id)):
                    replayed += 1
                    continue
                message = OrderPushMessage(source=source, message_id=event.message_id, order_id=event.order_id,
                                           event=event.event, state="fetched" if event.order else "received",
                                           raw={"order": event.order, "message": event.raw}, received_at=now)
                s.add(message)
                s.flush()
                if event.order is None:
                    enqueue_for_source(s, source, PUSH_TOPIC, {"source": source, "message": message.id}, now=now,
                                       decl=found.decl, order_ref=f"{found.platform}/{event.order_id}")
                accepted += 1
        except IntegrityError:
            replayed += 1  # the same message arrived twice at once; the other one keeps it
    ack = dict(getattr(client, "push_ack", DEFAULT_ACK))
    log.debug("order push received", source=source, events=len(events), accepted=accepted, replayed=replayed)
    return PushAnswer(200, ack, accepted, replayed)


def fetch_pushed_order(services: Services, delivery: Delivery) -> None:
    """Outbox handler: fetch the detail of a pushed order id and keep it on its message."""
    payload = delivery.payload or {}
    source, message_id = str(payload.get("source")), int(payload.get("message") or 0)
    message = delivery.session.get(OrderPushMessage, message_id)
    if message is None or message.state != "received":
        return
    found = order_sources(services).get(source)
    client = order_client(services, found) if found else None
    if client is None:
        raise RuntimeError(f"source {source!r} has no order client any more")
    order_id = message.order_id
    detail = delivery.outside(lambda: client.order_detail(order_id))  # on SQLite, with no lock held
    delivery.session.execute(update(OrderPushMessage).where(
        OrderPushMessage.id == message_id, OrderPushMessage.state == "received").values(
        raw={**(message.raw or {}), "order": detail}, state="fetched"))


def intake_fetched_pushes(services: Services, *, limit: int = 200) -> list[IntakeOutcome]:
    """Intake of every fetched push message (oldest first, at most ``limit``), each marked
    ``stored`` afterwards (intake is idempotent: a message taken twice is ``unchanged``)."""
    with services.db.session() as s:
        pending = list(s.execute(select(OrderPushMessage.id, OrderPushMessage.source, OrderPushMessage.raw)
                                 .where(OrderPushMessage.state == "fetched")
                                 .order_by(OrderPushMessage.id).limit(limit)))
    outcomes = []
    for message_id, source, raw in pending:
        outcome = intake_platform_order(services, source=source, payload=(raw or {}).get("order") or {}, via="push")
        outcomes.append(outcome)
        with services.db.transaction() as s:
            s.execute(update(OrderPushMessage).where(OrderPushMessage.id == message_id).values(
                state="stored", done_at=services.clock.now(),
                error=outcome.message if outcome.outcome == "parked" else None))
    return outcomes


def register_order_handlers(services: Services) -> None:
    """Register the push-intake outbox handler in this process's registry (claimed before the
    other topics, as the write-backs are; messages fetched side by side, so a platform that
    times out holds up only its own)."""
    if services.handlers is not None:
        # claimed first, beside the write-backs: until its detail is fetched the order is not in
        # OrderPulse at all (a 100x drill left 6,000 pushed orders waiting behind stock pushes)
        services.handlers.register(PUSH_TOPIC, lambda delivery: fetch_pushed_order(services, delivery),
                                   claimed_first=True, calls_out=True,
                                   ordering_key=lambda payload: f"{payload.get('source')}/{payload.get('message')}")
