"""Inbound webhooks: authenticate, refuse stale or replayed events, map the payload to a ticket
and an action, and fire it with actor ``webhook:<hook>``.

Two protocols, chosen by the hook declaration's type:
- ``signed`` (default): headers ``X-OrderPulse-Timestamp`` (unix seconds) and
  ``X-OrderPulse-Signature`` = hex HMAC-SHA256 with the hook's ``secret`` over
  ``timestamp + "." + body``; the event id comes from ``X-OrderPulse-Event-Id`` or the
  payload's ``event_id`` (or an ``event_id`` binding).
- ``dingtalk_approval``: DingTalk's encrypted callback (the crypto is wired in by the composition
  root as ``Services.ports.callback_crypto["dingtalk_approval"]``), with
  ``token``, ``aes_key`` and optional ``owner_key`` settings; event id ``eventId``/``BizId``.
Timestamps more than 5 minutes away from now are refused. An event id is accepted once per
hook (unique row in ``webhook_events``, written in the transition's transaction; a replay is
found through that constraint, or — when the ticket has moved on and the action is refused —
by looking the event up after the refusal, so a first delivery pays no lookup). Bindings:
``ticket`` (ticket id) or ``order_id`` (an open ticket's order), optional ``fire_action``;
otherwise the one action leaving the ticket's current state ``via webhook <hook>`` fires.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from dsl import model as m
from engine.api.request_guard import parse_json_bytes
from engine.errors import ApiError, Conflict, NotFound, Unauthorized, Unprocessable
from engine.logs import get_logger
from engine.redaction import remember_secret
from engine.workflow.expressions import compile_expression
from engine.workflow.models import WebhookEvent, WorkflowInstance
from engine.workflow.ports import CallbackCrypto, CallbackRejected
from engine.workflow.registry import registry_of
from engine.workflow.service import (
    ActionRefused,
    TicketRow,
    fire_in,
    load_ticket,
    write_transaction,
)
from engine.workflow.stepwrite import Prepared

if TYPE_CHECKING:
    from engine.services import Services

MAX_SKEW_SECONDS = 300
_INSTANCES = cast(Table, WorkflowInstance.__table__)
_EVENTS = cast(Table, WebhookEvent.__table__)
_RECORD_EVENT = Prepared(insert(_EVENTS))
_SEEN_EVENT = select(_EVENTS.c.id).where(_EVENTS.c.hook == bindparam("b_hook"),
                                         _EVENTS.c.event_id == bindparam("b_event"))
_OPEN_BY_ORDER = (select(_INSTANCES).where(_INSTANCES.c.order_id == bindparam("b_order"),
                                           _INSTANCES.c.closed.is_(False))
                  .order_by(_INSTANCES.c.id.desc()).limit(1))
log = get_logger(__name__)


@dataclass
class HookResult:
    status: int
    body: dict[str, Any]


def _setting(decl: m.HookDecl, key: str) -> str:
    for s in decl.settings:
        if s.key == key:
            if isinstance(s.value, m.EnvRef):
                value = os.environ.get(s.value.var, "")
                if not value:
                    # The variable's name goes to the log; anonymous callers learn only that
                    # the hook cannot take calls now.
                    log.error("hook_not_configured", hook=decl.name, variable=s.value.var)
                    raise ApiError("this webhook is not available", code="hook_not_configured", status=503)
                remember_secret(value)
                return value
            return str(s.value.value)
    return ""


_compiled_bindings: dict[int, tuple[m.Binding, Any]] = {}  # id(binding) -> (binding kept alive, compiled)


def _binding(decl: m.HookDecl, name: str, payload: dict[str, Any]) -> Any:
    for b in decl.bindings:
        if b.name == name:
            entry = _compiled_bindings.get(id(b))
            if entry is None or entry[0] is not b:  # published versions are immutable: compile once
                entry = _compiled_bindings[id(b)] = (b, compile_expression(b.value))
            return entry[1]({"payload": payload, **payload})
    return None


def _check_time(ts_seconds: float, now_seconds: float) -> None:
    # ``not <=`` also refuses nan (every comparison with nan is false) and infinities
    if not abs(now_seconds - ts_seconds) <= MAX_SKEW_SECONDS:
        raise Unauthorized("webhook timestamp is more than 5 minutes away from now", code="stale_timestamp")


def _signed(decl: m.HookDecl, body: bytes, headers: Any, now_s: float) -> tuple[dict[str, Any], str]:
    secret = _setting(decl, "secret")
    ts = headers.get("X-OrderPulse-Timestamp", "")
    sig = headers.get("X-OrderPulse-Signature", "").removeprefix("sha256=")
    if not ts or not sig:
        raise Unauthorized("webhook needs X-OrderPulse-Timestamp and X-OrderPulse-Signature", code="bad_signature")
    expected = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, sig.lower()):
        raise Unauthorized("webhook signature does not match", code="bad_signature")
    try:
        _check_time(float(ts), now_s)
    except ValueError:
        raise Unauthorized("X-OrderPulse-Timestamp is not a number", code="stale_timestamp") from None
    payload = parse_json_bytes(body or b"{}")  # only now, once the signature matched
    if not isinstance(payload, dict):
        raise Unprocessable("webhook body must be a JSON object", code="invalid_body")
    event_id = headers.get("X-OrderPulse-Event-Id") or payload.get("event_id") or _binding(decl, "event_id", payload)
    if not event_id:
        raise Unprocessable("webhook event has no event id", code="missing_event_id")
    return payload, str(event_id)


def verify_signed(decl: m.HookDecl, body: bytes, headers: Any, now_s: float) -> tuple[dict[str, Any], str]:
    """Check a ``signed`` hook's request (secret, timestamp window) and return ``(payload,
    event id)``; the same checks :func:`receive` makes, for callers that act on something
    other than a ticket (the WMS shipping callback, :mod:`engine.orders.ship_routes`)."""
    return _signed(decl, body, headers, now_s)


def sign_body(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-OrderPulse-Signature`` a sender puts on ``body`` (hex HMAC-SHA256)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _encrypted(services: Services, decl: m.HookDecl, body: bytes, query: Any,
               now_s: float) -> tuple[dict[str, Any], str, CallbackCrypto, str]:
    factory = services.ports.callback_crypto.get(decl.type)
    if factory is None:
        raise ApiError(f"hook {decl.name}: no callback crypto is wired for hook type {decl.type}",
                       code="hook_not_configured", status=503)
    crypto = factory(_setting(decl, "token"), _setting(decl, "aes_key"), _setting(decl, "owner_key"))
    parsed = parse_json_bytes(body or b"{}")  # the envelope: {"encrypt": ...}; its signature is in the query
    try:
        event = crypto.open_callback(dict(query), parsed if isinstance(parsed, dict) else {})
    except CallbackRejected as err:
        raise Unauthorized(err.message, code="bad_signature" if err.reason == "bad_signature" else err.reason) from None
    ts_raw = query.get("timestamp") or query.get("timeStamp") or "0"
    try:
        ts = float(ts_raw)
    except ValueError:
        raise Unauthorized("callback timestamp is not a number", code="stale_timestamp") from None
    _check_time(ts / 1000 if ts > 1e11 else ts, now_s)
    event_id = event.get("eventId") or event.get("BizId") or \
        f"{event.get('processInstanceId')}:{event.get('type')}:{event.get('finishTime')}"
    return event, str(event_id), crypto, str(ts_raw)


def _find_ticket(session: Any, decl: m.HookDecl, payload: dict[str, Any]) -> TicketRow:
    ticket = _binding(decl, "ticket", payload)
    if ticket is not None:
        try:
            inst = load_ticket(session, int(ticket))
        except (TypeError, ValueError):
            inst = None
        if inst is None:
            raise NotFound(f"hook {decl.name}: no ticket {ticket}", code="unknown_instance")
        return inst
    order_id = _binding(decl, "order_id", payload)
    if order_id is not None:
        row = session.connection().execute(_OPEN_BY_ORDER, {"b_order": str(order_id)}).first()
        if row is None:
            raise NotFound(f"hook {decl.name}: no open ticket for order {order_id}", code="unknown_instance")
        return TicketRow(**row._mapping)
    raise Unprocessable(f"hook {decl.name} declares no ticket or order_id binding", code="hook_not_mapped")


def _seen(services: Services, hook: str, event_id: str) -> bool:
    with services.db.session() as session:
        return session.connection().execute(_SEEN_EVENT, {"b_hook": hook, "b_event": event_id}).first() is not None


def receive(services: Services, hook: str, *, body: bytes, headers: Any, query: Any) -> HookResult:
    """Handle one inbound webhook request; raises ApiError for refusals."""
    registry = registry_of(services)
    now = services.clock.now()
    with services.db.session() as session:
        decl, _, _ = registry.find_hook(session, hook)
    crypto = None
    if decl.type == "dingtalk_approval":
        payload, event_id, crypto, ts = _encrypted(services, decl, body, query, now.timestamp())
        if payload.get("EventType") == "check_url":
            return HookResult(200, crypto.reply(ts))
    else:
        payload, event_id = _signed(decl, body, headers, now.timestamp())
    actor = f"webhook:{hook}"
    outcome: dict[str, Any]
    try:
        with write_transaction(services) as session:
            inst = _find_ticket(session, decl, payload)
            compiled = registry.compiled(session, inst.ruleset, inst.ruleset_version, inst.machine)
            action = _binding(decl, "fire_action", payload)
            if action is None:
                candidates = [a.name for a in compiled.decl.actions_from(inst.state) if a.via_webhook == hook]
                if len(candidates) != 1:
                    raise ActionRefused(f"ticket {inst.id} in state {inst.state} has "
                                        f"{'no' if not candidates else 'several'} actions via webhook {hook}",
                                        status=409, code="wrong_state")
                action = candidates[0]
            # the (hook, event id) constraint refuses a replay here, before the action runs
            _RECORD_EVENT.execute(session.connection(), {
                "hook": hook, "event_id": event_id, "received_at": now, "instance_id": inst.id,
                "action": str(action), "outcome": "fired"})
            result = fire_in(session, services, compiled, inst, str(action), payload, actor=actor, role=None,
                             via=actor, idempotency_key=f"{actor}:{event_id}", now=now)
            outcome = {"event_id": event_id, "outcome": "fired", "instance": result}
    except (IntegrityError, Conflict) as exc:
        if isinstance(exc, Conflict) and exc.code != "replayed_event":
            raise
        if crypto is not None:  # at-least-once delivery: acknowledge the duplicate, change nothing
            return HookResult(200, crypto.reply(ts))
        raise Conflict(f"event {event_id} of hook {hook} was already received", code="replayed_event") from None
    except ApiError as refusal:
        # A refusal (ticket gone, moved on, no action) may be a replay of an event that fired.
        if _seen(services, hook, event_id):
            if crypto is not None:
                return HookResult(200, crypto.reply(ts))
            raise Conflict(f"event {event_id} of hook {hook} was already received", code="replayed_event") from None
        if crypto is None or not isinstance(refusal, ActionRefused):
            raise
        # DingTalk retries anything but "success"; keep the refusal on record instead.
        log.warning("webhook refused", hook=hook, event_id=event_id, reason=refusal.code)
        try:
            with services.db.transaction() as session:
                session.add(WebhookEvent(hook=hook, event_id=event_id, received_at=now, instance_id=None,
                                         action=None, outcome=f"refused: {refusal.code}: {refusal.message}"))
        except IntegrityError:
            pass
        return HookResult(200, crypto.reply(ts))
    if crypto is not None:
        return HookResult(200, crypto.reply(ts))
    return HookResult(200, outcome)
