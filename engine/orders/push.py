"""Platform order pushes: ``POST /api/v1/sources/{source}/push``.

:func:`receive_push` finds the source's order client, lets it verify the message
(``client.parse_push``: signature and shape, before anything else is read), keeps each order
event once by (source, message id) in ``order_push_messages`` with an outbox row
(``orders.push_intake``) in the same transaction, and answers what the platform expects
(``client.push_ack``) at once. A replayed message finds its id kept and changes nothing; a
badly signed one is refused with the client's status and stores nothing.

The outbox handler (:func:`register_order_handlers`) then takes the order from the event, or
fetches its detail with ``client.order_detail`` when the event carries only an id (a failure
is retried on the outbox's schedule), and runs intake (``via="push"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from engine.logs import get_logger
from engine.orders.intake import intake_platform_order
from engine.orders.ports import PushRefused
from engine.orders.pull_model import OrderPushMessage
from engine.orders.sources import order_client, order_sources
from engine.outbox.service import enqueue

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.outbox.registry import Delivery
    from engine.services import Services

log = get_logger(__name__)

PUSH_TOPIC = "orders.push_intake"
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
            with services.db.transaction() as s:
                if s.scalar(select(OrderPushMessage.id).where(OrderPushMessage.source == source,
                                                              OrderPushMessage.message_id == event.message_id)):
                    replayed += 1
                    continue
                message = OrderPushMessage(source=source, message_id=event.message_id, order_id=event.order_id,
                                           event=event.event, state="received",
                                           raw={"order": event.order, "message": event.raw}, received_at=now)
                s.add(message)
                s.flush()
                enqueue(s, PUSH_TOPIC, {"source": source, "message": message.id}, now=now, source=source,
                        retry_schedule=_retry_schedule(found.decl))
                accepted += 1
        except IntegrityError:
            replayed += 1  # the same message arrived twice at once; the other one keeps it
    ack = dict(getattr(client, "push_ack", DEFAULT_ACK))
    log.info("order push received", source=source, events=len(events), accepted=accepted, replayed=replayed)
    return PushAnswer(200, ack, accepted, replayed)


def _retry_schedule(decl: Any) -> tuple[int, ...]:
    declared = tuple(int(s) for s in getattr(decl, "retry", ()) or ())
    return declared or (30, 120, 300)


def deliver_push(services: Services, delivery: Delivery) -> None:
    """Outbox handler: the pushed order (fetched when the event had only its id) into intake."""
    payload = delivery.payload or {}
    source, message_id = str(payload.get("source")), int(payload.get("message") or 0)
    message = delivery.session.get(OrderPushMessage, message_id)
    if message is None or message.state == "stored":
        return
    found = order_sources(services).get(source)
    client = order_client(services, found) if found else None
    if client is None:
        raise RuntimeError(f"source {source!r} has no order client any more")
    order = (message.raw or {}).get("order") or client.order_detail(message.order_id)
    outcome = intake_platform_order(services, source=source, payload=order, via="push")
    message.state = "stored"
    message.done_at = delivery.now
    message.error = None if outcome.outcome != "parked" else outcome.message
    log.info("order push stored", source=source, order_id=message.order_id, outcome=outcome.outcome)


def register_order_handlers(services: Services) -> None:
    """Register the push-intake outbox handler in this process's registry."""
    if services.handlers is not None:
        services.handlers.register(PUSH_TOPIC, lambda delivery: deliver_push(services, delivery))
