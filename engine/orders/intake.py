"""Intake: a platform payload (or a normalized order) → mapped → cleaned → stored.

The use cases every entry point calls (the puller, the push route, the importer, the own
channel's ``POST /orders``):

- :func:`intake_platform_order` / :func:`intake_platform_orders` map each payload with the
  published mapping named after its source, run the published cleaning, and store the orders
  (many in one transaction: pulls and imports) with an outcome per payload. A payload that
  does not map (or has no published mapping, or no version time) is parked with the error's
  path and mapping line: visible, re-tryable with :func:`retry_parked`, never lost.
- :func:`intake_normalized_order` stores an order already in normalized form (cleaned too).

Each outcome is logged as one ``order_intake`` event (the demo console turns it into a short
Chinese line; JSON logs mask personal data). This module decides nothing about versions: the
store does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.errors import NotFound
from engine.logs import get_logger
from engine.orders import store
from engine.orders.document import order_total
from engine.orders.published import MappingRef, PublishedRules, published_rules

if TYPE_CHECKING:
    from engine.services import Services

__all__ = [
    "VIAS",
    "IntakeOutcome",
    "intake_normalized_order",
    "intake_platform_order",
    "intake_platform_orders",
    "map_payload",
    "report",
    "retry_parked",
]

VIAS = ("pull", "push", "import", "preview", "api", "retry")
log = get_logger(__name__)


@dataclass(frozen=True)
class IntakeOutcome:
    """What intake did with one payload: ``created``, ``updated``, ``unchanged``, ``stale``,
    ``dropped`` (stored, marked dropped by a cleaning rule) or ``parked``."""

    outcome: str
    order_pk: int | None
    channel: str | None
    order_id: str | None
    message: str
    revision: int | None = None
    parked_id: int | None = None
    rule: str | None = None


@dataclass
class _Mapped:
    index: int
    payload: Any
    incoming: store.Incoming | None = None
    parked: IntakeOutcome | None = None


def _failure_of(exc: Exception, mapping: str | None) -> store.ParkedAt:
    """Where a mapping (or cleaning) failed, from a ``MappingFailure`` or any other error."""
    path = getattr(exc, "path", None)
    line = getattr(exc, "line", None)
    return store.ParkedAt(getattr(exc, "mapping", None) or mapping, str(exc) or exc.__class__.__name__,
                          path if isinstance(path, str) else None, line if isinstance(line, int) else None)


def _park(services: Services, source: str, via: str, payload: Any, failure: store.ParkedAt) -> IntakeOutcome:
    parked_id = store.park_payload(services.db, source=source, via=via, payload=payload, failure=failure,
                                   now=services.clock.now())
    outcome = IntakeOutcome("parked", None, None, None, f"parked: {failure.message}", parked_id=parked_id)
    _log(outcome, source=source, path=failure.path, parked_id=parked_id)
    return outcome


def _clean(rules: PublishedRules, order: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, str] | None]:
    cleaning = rules.cleaning()
    if cleaning is None:
        return order, None
    cleaned = cleaning.apply(order)
    dropped = cleaned.dropped
    if dropped is None:
        return dict(cleaned.order), None
    return dict(cleaned.order), (dropped.rule, f"{dropped.cleaning}:{dropped.line}")


def _with_version(order: dict[str, Any]) -> dict[str, Any]:
    """An order without the platform's modified time is versioned by its latest known time
    (exports carry no modified time; a re-import then finds the same version)."""
    if order.get("updated_at") is None:
        for name in ("shipped_at", "paid_at", "created_at"):
            if order.get(name) is not None:
                return {**order, "updated_at": order[name]}
    return order


def map_payload(rules: PublishedRules, ref: MappingRef, payload: Any, *, source: str, via: str,
                actor: str = "") -> store.Incoming | store.ParkedAt:
    """One payload mapped and cleaned, ready to store; or where it failed (``ParkedAt``)."""
    try:
        order = _with_version(dict(ref.mapping.apply(payload)))
        order, dropped = _clean(rules, order)
    except Exception as exc:  # noqa: BLE001 - a payload that does not map is parked, never lost
        return _failure_of(exc, ref.name)
    if not order.get("channel") or not order.get("order_id") or order.get("updated_at") is None:
        return store.ParkedAt(ref.name, "the mapped order has no channel, order_id or time to version it by")
    return store.Incoming(order, source, via, payload, actor, ref.name, ref.ruleset, ref.version, dropped)


def intake_platform_orders(services: Services, *, source: str, payloads: Sequence[Mapping[str, Any]],
                           via: str, actor: str = "") -> list[IntakeOutcome]:
    """Map, clean and store many payloads of one source in one transaction; one outcome per
    payload, in order. Payloads that do not map are parked (each in its own transaction)."""
    rules = published_rules(services)
    try:
        ref = rules.mapping(source)
    except NotFound as exc:
        failure = store.ParkedAt(None, exc.message)
        return [_park(services, source, via, payload, failure) for payload in payloads]
    mapped: list[_Mapped] = []
    for i, payload in enumerate(payloads):
        result = map_payload(rules, ref, payload, source=source, via=via, actor=actor)
        if isinstance(result, store.ParkedAt):
            mapped.append(_Mapped(i, payload, parked=_park(services, source, via, payload, result)))
        else:
            mapped.append(_Mapped(i, payload, result))
    to_store = [m for m in mapped if m.incoming is not None]
    outcomes: list[IntakeOutcome | None] = [m.parked for m in mapped]
    if to_store:
        stored = store.store_orders(services.db, [m.incoming for m in to_store if m.incoming is not None],
                                    now=services.clock.now())
        for m, outcome in zip(to_store, report(stored, source=source, via=via)):
            outcomes[m.index] = outcome
    return [o for o in outcomes if o is not None]


def intake_platform_order(services: Services, *, source: str, payload: Mapping[str, Any], via: str,
                          actor: str = "") -> IntakeOutcome:
    """Map one platform payload with the published mapping named ``source``, clean it and store
    it; a payload that does not map is parked (outcome ``parked``)."""
    return intake_platform_orders(services, source=source, payloads=[payload], via=via, actor=actor)[0]


def intake_normalized_order(services: Services, order: Mapping[str, Any], *, via: str = "api",
                            actor: str = "", payload: Any = None) -> IntakeOutcome:
    """Clean (published cleanings) and store an order given in normalized (Python) form, e.g.
    from the own mini-program shop; ``payload`` is the body as received (default: the order)."""
    rules = published_rules(services)
    cleaned, dropped = _clean(rules, dict(order))
    source = str(cleaned.get("channel") or "miniprogram")
    incoming = store.Incoming(cleaned, source, via, payload, actor, None, None, None, dropped)
    stored = store.store_order(services.db, incoming, now=services.clock.now())
    return report([stored], source=source, via=via)[0]


def retry_parked(services: Services, parked_id: int, *, actor: str = "") -> IntakeOutcome:
    """Run a parked payload through intake again (after the mapping was fixed and published);
    when it maps now, the parked row is marked resolved with the order it became."""
    from engine.orders.model import ParkedPayload

    with services.db.session() as session:
        row = session.scalar(select(ParkedPayload).where(ParkedPayload.id == parked_id))
        if row is None:
            raise NotFound(f"parked payload {parked_id} does not exist", code="parked_not_found")
        source, payload = row.source, row.payload
    outcome = intake_platform_order(services, source=source, payload=payload, via="retry", actor=actor)
    if outcome.outcome != "parked":
        store.resolve_parked(services.db, parked_id, outcome.order_pk, now=services.clock.now())
    return outcome


# The columns of one order in an ``orders_intake`` event (a page or an import batch).
EVENT_COLUMNS = ("outcome", "channel", "order_id", "status", "total", "region", "changes", "rule")


def report(stored: Sequence[store.Stored], *, source: str, via: str) -> list[IntakeOutcome]:
    """The outcomes of stored orders; the ones that changed something are logged: one
    ``order_intake`` event for a single order, one ``orders_intake`` event for a page (rows
    of :data:`EVENT_COLUMNS`), so a page of 200 orders is one log line, not 200."""
    outcomes, rows = [], []
    for s in stored:
        changed = s.outcome in ("created", "updated")
        outcome = "dropped" if changed and s.dropped is not None else s.outcome
        rule = s.dropped[0] if s.dropped else None
        message = {
            "created": f"order {s.channel}/{s.order_id} stored",
            "updated": f"order {s.channel}/{s.order_id} updated to revision {s.revision}",
            "unchanged": f"order {s.channel}/{s.order_id} already stored at this version",
            "stale": f"order {s.channel}/{s.order_id} is stored at a newer version; nothing changed",
            "dropped": f"order {s.channel}/{s.order_id} dropped by cleaning rule: {rule}",
        }[outcome]
        outcomes.append(IntakeOutcome(outcome, s.order_pk, s.channel, s.order_id, message, s.revision, rule=rule))
        if changed:
            doc = s.doc or {}  # the new version, always there for a change
            receiver = doc.get("receiver") or {}
            region = [receiver.get("province"), receiver.get("city"), receiver.get("district")]
            rows.append([outcome, s.channel, s.order_id, doc.get("status"), order_total(doc), region,
                         [c["path"] for c in s.changes[:8]], rule])
    if len(rows) == 1 and len(stored) == 1:
        fields = dict(zip(EVENT_COLUMNS, rows[0]))
        if fields["rule"] is None:
            del fields["rule"]
        log.info("order_intake", source=source, via=via, **fields)
    elif rows:
        log.info("orders_intake", source=source, via=via, count=len(rows), columns=list(EVENT_COLUMNS),
                 orders=rows)
    return outcomes


def _log(outcome: IntakeOutcome, **fields: Any) -> None:
    log.info("order_intake", outcome=outcome.outcome, channel=outcome.channel, order_id=outcome.order_id,
             **fields)
