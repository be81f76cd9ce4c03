"""The ticket stage of the order pipeline and the tickets that follow the platform afterwards.

- :func:`ticket_stage` opens the order's ticket (``order_tickets`` kind ``order``) on the machine
  the published ``follow … for orders`` declarations choose for it, and fires what the
  statuses the order already passed fire (an order that arrives paid lands in 待发货); the
  platform refunds it arrives with open their after-sales tickets.
- :func:`follow_platform` follows a newer platform version: the order ticket fires the actions
  bound to the statuses passed since the status it last followed, each new platform refund opens
  an after-sales ticket (kind ``refund``: refund id, line, amount, reason) on the machine the
  ``follow … for refunds`` declarations choose, and a known refund's status changes fire its
  bound actions.
- :func:`fire_for_status` fires what a status is bound to on the order ticket for our own
  changes (the shipping code calls it with ``shipped`` when we ship).
- :func:`tickets_section` is the ``tickets`` section of ``GET /orders/{id}``.

Platform actions run as the actor ``platform`` through the workflow's own checks (state,
webhook-only, required fields, guard; roles are a person's, so they do not apply), each with
the idempotency key ``platform:<ticket>:<status>:<action>``, so a retried stage or a repeated
version never fires one twice. An action not allowed from the ticket's state is passed over; one
refused for another reason is noted on the timeline and the order moves on. Everything runs
in the caller's transaction and never commits (:mod:`engine.orders.stages`). Which machine,
which data and which actions: only the published declarations say; nothing here names a
template, a machine or an action.

SEAM (for the lead to wire at merge; the driver is another branch's): the pipeline's stage list
(``engine/orders/pipeline_stages.py``) gets ``("ticket", ticket_stage)`` after reserve; its
follow-up of a newer revision calls ``follow_platform(session, services, order, previous_doc,
now)`` after releasing stock; shipping calls ``fire_for_status(session, services, order,
"shipped", actor=…, payload={"tracking_no": …}, now=…)``. Each returns the notes to record.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dsl import order_model as om
from engine.analytics.return_reason_counts import refresh_tickets
from engine.errors import Unprocessable
from engine.orders.pipeline_model import OrderTicket
from engine.orders.stages import OrderRef, StageNote
from engine.orders.ticket_batch import ORDER_TICKETS, TicketScope, ticket_scope
from engine.orders.ticket_bindings import CompiledFollow, StatusStep, choose, compile_follow, statuses_passed
from engine.rulesets import published
from engine.workflow.machine import CompiledMachine
from engine.workflow.models import WorkflowInstance, WorkflowTransition
from engine.workflow.registry import registry_of
from engine.workflow.service import ActionRefused, load_ticket
from engine.workflow.service import fire_in as fire_action_in
from engine.workflow.tickets import create_instance_in

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["PLATFORM", "fire_for_status", "follow_platform", "ticket_stage", "tickets_section"]

PLATFORM = "platform"
ORDER_KIND = "order"
REFUND_KIND = "refund"


# --------------------------------------------------------------------------- the declarations


def _published_follows(session: Session, services: Services, subject: str) -> list[CompiledFollow]:
    """The ``follow`` declarations for ``subject`` of every current published version (read once
    per pipeline batch)."""
    scope = ticket_scope(session)
    if scope is not None:
        return scope.follows(subject, lambda: _read_follows(session, services, subject))
    return _read_follows(session, services, subject)


def _read_follows(session: Session, services: Services, subject: str) -> list[CompiledFollow]:
    registry = registry_of(services)
    out = []
    for ref in published.latest_versions(session):
        rules = registry.ruleset_model(session, ref.name, ref.version)
        for decl in rules.follows:
            if decl.subject == subject:
                out.append(compile_follow(ref.name, ref.version, ref.checksum, decl))
    return out


def _follow_of_ticket(session: Session, services: Services, inst: Any, subject: str) -> CompiledFollow | None:
    """The declaration a ticket follows: the one for ``subject`` and its machine in the
    ruleset version the ticket runs on (tickets stay on their version, like their machine)."""
    ref, rules = published.load(session, inst.ruleset, inst.ruleset_version)
    for decl in rules.follows:
        if decl.subject == subject and decl.machine == inst.machine:
            return compile_follow(ref.name, ref.version, ref.checksum, decl)
    return None


# --------------------------------------------------------------------------- the stage


def ticket_stage(session: Session, services: Services, order: OrderRef, now: datetime) -> list[StageNote]:
    """Open the order's ticket (once) and bring it to the order's platform status; open the
    after-sales tickets of the refunds it arrived with. In a pipeline batch an order with no
    ticket yet has its rows written with the batch's (:mod:`engine.orders.ticket_batch`)."""
    scope = ticket_scope(session)
    batch = scope if scope is not None and scope.fresh(order.pk) else None
    if batch is None and _ticket_row(session, order.pk, ORDER_KIND, "") is not None:
        return []
    doc = order.doc
    follow = choose(_published_follows(session, services, "orders"), doc)
    if follow is None:
        return [StageNote("ticket_skipped",
                          {"reason": "没有已发布的规则声明订单由哪个状态机跟随（follow … for orders）"})]
    notes: list[StageNote] = []
    status = _status_of(doc)
    opened = _open(session, services, order, follow, ORDER_KIND, "", None, doc, None, now, notes, status, batch=batch)
    if opened is not None:
        steps = statuses_passed(None, status, paid=bool(doc.get("paid_at")), shipped=bool(doc.get("shipped_at")))
        _fire_steps(session, services, order, follow, opened, steps, doc, None, now, notes,
                    key=f"{PLATFORM}:{ORDER_KIND}")
    notes += _follow_refunds(session, services, order, now, batch=batch)
    return notes


def follow_platform(session: Session, services: Services, order: OrderRef, previous_doc: Mapping[str, Any] | None,
                    now: datetime) -> list[StageNote]:
    """Follow a newer platform version of the order: the order ticket's bound actions for the
    statuses passed since it last followed the platform, and the refunds (new ones open a
    ticket; known ones fire their bound actions). Before the ticket stage ran nothing is done
    (the stage opens the ticket on the newest version)."""
    row = _ticket_row(session, order.pk, ORDER_KIND, "")
    if row is None:
        return []
    doc = order.doc
    notes: list[StageNote] = []
    previous = row.platform_status or _status_of(previous_doc or {})
    status = _status_of(doc)
    steps = statuses_passed(previous, status, paid=bool(doc.get("paid_at")), shipped=bool(doc.get("shipped_at")))
    if steps:
        ticket = _Ticket.load(session, services, row.instance_id)
        follow = _follow_of_ticket(session, services, ticket.inst, "orders") if ticket is not None else None
        if ticket is not None and follow is not None:
            _fire_steps(session, services, order, follow, ticket, steps, doc, None, now, notes,
                        key=f"{PLATFORM}:{ORDER_KIND}")
    if status != row.platform_status:
        _set_platform_status(session, order.pk, ORDER_KIND, "", status)
    known = {str(r.get("refund_id")) for r in (previous_doc or {}).get("refunds") or () if isinstance(r, dict)}
    notes += _follow_refunds(session, services, order, now, known)
    return notes


def fire_for_status(session: Session, services: Services, order: OrderRef, status: str, *, actor: str,
                    payload: Mapping[str, Any], now: datetime, role: str | None = None,
                    reason: str | None = None) -> list[StageNote]:
    """Fire what ``status`` is bound to on the order ticket for a change we made ourselves
    (``shipped`` when we ship, ``cancelled`` when a person cancels): ``payload`` (e.g.
    ``tracking_no``) over the declared payload, as ``actor`` (with ``role`` the role's checks
    apply); ``reason`` (a person's words) fills every field the fired action ``requires``.
    Nothing when the order has no ticket or its declaration binds nothing to ``status``."""
    canonical = om.canonical_status(status)
    if canonical is None:
        raise Unprocessable(f"{status} is not an order status", code="unknown_status")
    row = _ticket_row(session, order.pk, ORDER_KIND, "")
    ticket = _Ticket.load(session, services, row.instance_id) if row is not None else None
    if ticket is None:
        return []
    follow = _follow_of_ticket(session, services, ticket.inst, "orders")
    step = follow.steps.get(canonical) if follow is not None else None
    if follow is None or step is None:
        return []
    notes: list[StageNote] = []
    _fire_step(session, services, order, follow, ticket, step, order.doc, None, now, notes,
               key=f"{actor}:{ORDER_KIND}", actor=actor, role=role, extra=payload, reason=reason)
    return notes


# --------------------------------------------------------------------------- refunds


def _follow_refunds(session: Session, services: Services, order: OrderRef, now: datetime,
                    known: set[str] | None = None, *, batch: TicketScope | None = None) -> list[StageNote]:
    """Open a ticket for each new refund and follow the known ones. A refund no declaration
    serves (or whose ticket the machine refuses) is noted once, when it first appears (``known``:
    the refund ids of the previous version); it is tried again on every version. With ``batch``
    the order had no ticket when its batch began, so no refund of it has one."""
    refunds = [r for r in order.doc.get("refunds") or () if isinstance(r, dict) and r.get("refund_id")]
    if not refunds:
        return []
    notes: list[StageNote] = []
    candidates: list[CompiledFollow] | None = None
    for refund in refunds:
        refund_id = str(refund["refund_id"])
        status = om.canonical_refund_status(str(refund.get("status") or ""))
        row = None if batch is not None else _ticket_row(session, order.pk, REFUND_KIND, refund_id)
        if row is None:
            if candidates is None:
                candidates = _published_follows(session, services, "refunds")
            follow = choose(candidates, order.doc, refund)
            quiet = refund_id in (known or ())
            if follow is None:
                if quiet:
                    continue
                notes.append(StageNote("ticket_skipped", {
                    "refund_id": refund_id,
                    "reason": "没有已发布的规则声明平台退款由哪个状态机跟随（follow … for refunds）"}))
                continue
            ticket = _open(session, services, order, follow, REFUND_KIND, refund_id, refund.get("line_id"),
                           order.doc, refund, now, notes, status, quiet=quiet, batch=batch)
            if ticket is None:
                continue
            previous = None
        else:
            loaded = _Ticket.load(session, services, row.instance_id)
            follow = _follow_of_ticket(session, services, loaded.inst, "refunds") if loaded is not None else None
            if loaded is None or follow is None:
                continue
            ticket, previous = loaded, row.platform_status
        steps = statuses_passed(previous, status, refunds=True)
        _fire_steps(session, services, order, follow, ticket, steps, order.doc, refund, now, notes,
                    key=f"{PLATFORM}:{REFUND_KIND}:{refund_id}")
        if row is not None and status is not None and status != previous:
            _set_platform_status(session, order.pk, REFUND_KIND, refund_id, status)
    return notes


# --------------------------------------------------------------------------- opening and firing


def _open(session: Session, services: Services, order: OrderRef, follow: CompiledFollow, kind: str, refund_id: str,
          line_id: Any, doc: Mapping[str, Any], refund: Mapping[str, Any] | None, now: datetime,
          notes: list[StageNote], platform_status: str | None, *, quiet: bool = False,
          batch: TicketScope | None = None) -> _Ticket | None:
    """Open the ticket ``follow`` declares and link it to the order, following ``platform_status``
    (``quiet``: a refusal noted before is not noted again; ``batch``: written with the batch's rows)."""
    compiled = registry_of(services).compiled(session, follow.ruleset, follow.version, follow.machine)
    data = {k: v for k, v in follow.ticket_data(doc, refund).items() if k in compiled.fields}
    base = {"refund_id": refund_id} if refund_id else {}
    inst: Any
    try:
        if batch is not None:
            inst = batch.tickets.open(session, compiled, data, actor=PLATFORM, now=now, role=PLATFORM)
        else:
            inst = create_instance_in(session, compiled, data, actor=PLATFORM, now=now, role=PLATFORM)
    except Unprocessable as exc:
        if quiet:
            return None
        notes.append(StageNote("ticket_refused", {**base, "machine": compiled.name, "message": exc.message,
                                                  "details": exc.details or []},
                               ruleset=follow.ruleset, ruleset_version=follow.version))
        return None
    link = {"order_pk": order.pk, "kind": kind, "refund_id": refund_id,
            "line_id": None if line_id is None else str(line_id), "instance_id": inst.id, "machine": compiled.name,
            "platform_status": platform_status, "created_at": now}
    if batch is not None:
        batch.tickets.add_row(ORDER_TICKETS, link)
    else:
        row = OrderTicket(**link)
        session.add(row)
        session.flush()
        if kind == REFUND_KIND:  # a later step that moves its reason moves it again (fire_in)
            refresh_tickets(session.connection(), [row.id])
    detail = {**base, "ticket": inst.id, "machine": compiled.name, "state": inst.state, "follow": follow.decl.name}
    if refund is not None:
        detail.update(line_id=refund.get("line_id"), amount=refund.get("amount"), reason=refund.get("reason"))
    notes.append(StageNote("ticket_opened", detail, ruleset=follow.ruleset, ruleset_version=follow.version))
    return _Ticket(inst, compiled, set(), batch=batch)


class _Ticket:
    """A ticket being moved in this transaction: its row (kept current by ``fire_in``), its
    compiled machine, the idempotency keys its history holds (read once) and the batch that
    opened it (its actions then write with the batch's rows)."""

    def __init__(self, inst: Any, compiled: CompiledMachine, fired: set[str] | None = None, *,
                 batch: TicketScope | None = None) -> None:
        self.inst = inst
        self.compiled = compiled
        self._fired = fired
        self.batch = batch

    @classmethod
    def load(cls, session: Session, services: Services, instance_id: int) -> _Ticket | None:
        inst = load_ticket(session, instance_id)
        if inst is None:
            return None
        return cls(inst, registry_of(services).compiled(session, inst.ruleset, inst.ruleset_version, inst.machine))

    def fired(self, session: Session) -> set[str]:
        if self._fired is None:
            self._fired = {k for k in session.scalars(select(WorkflowTransition.idempotency_key).where(
                WorkflowTransition.instance_id == self.inst.id, WorkflowTransition.idempotency_key.is_not(None)))
                if k is not None}
        return self._fired


def _fire_steps(session: Session, services: Services, order: OrderRef, follow: CompiledFollow, ticket: _Ticket,
                statuses: list[str], doc: Mapping[str, Any], refund: Mapping[str, Any] | None, now: datetime,
                notes: list[StageNote], *, key: str) -> None:
    for status in statuses:
        step = follow.steps.get(status)
        if step is not None:
            _fire_step(session, services, order, follow, ticket, step, doc, refund, now, notes, key=key)


def _fire_step(session: Session, services: Services, order: OrderRef, follow: CompiledFollow, ticket: _Ticket,
               step: StatusStep, doc: Mapping[str, Any], refund: Mapping[str, Any] | None, now: datetime,
               notes: list[StageNote], *, key: str, actor: str = PLATFORM, role: str | None = None,
               extra: Mapping[str, Any] | None = None, reason: str | None = None) -> None:
    payload = {**follow.payload(step, doc, refund), **(extra or {})}
    base = {"refund_id": refund.get("refund_id")} if refund is not None else {}
    inst, compiled = ticket.inst, ticket.compiled
    for action in step.actions:
        idem = f"{key}:{step.status}:{action}"
        declared = compiled.actions.get(action)
        if idem in ticket.fired(session) or (declared is not None and inst.state not in declared.decl.sources):
            continue  # fired before, or the ticket is past (or beside) this step: pass it over
        try:
            # the checks run before anything is written: a refusal leaves the transaction clean;
            # fire_in keeps ``inst`` current (state, version) for the next action
            fire = ticket.batch.tickets.fire if ticket.batch is not None else fire_action_in
            given = dict(payload)
            if reason is not None and declared is not None:
                given.update(dict.fromkeys(declared.decl.requires, reason))
            body = fire(session, services, compiled, inst, action, given, actor=actor,
                        role=role if role is not None else PLATFORM,
                        via="user" if role is not None else PLATFORM, idempotency_key=idem, now=now)
        except ActionRefused as exc:
            notes.append(StageNote("ticket_action_refused", {
                **base, "ticket": inst.id, "status": step.status, "action": action, "state": inst.state,
                "code": exc.code, "message": exc.message}, ruleset=follow.ruleset, ruleset_version=follow.version))
            continue
        ticket.fired(session).add(idem)
        notes.append(StageNote("ticket_action", {
            **base, "ticket": inst.id, "status": step.status, "action": action, "from": body["action"]["from"],
            "to": body["action"]["to"], "actor": actor}, ruleset=follow.ruleset, ruleset_version=follow.version))


# --------------------------------------------------------------------------- storage


def _status_of(doc: Mapping[str, Any]) -> str | None:
    status = doc.get("status")
    return om.canonical_status(str(status)) if status else None


def _ticket_row(session: Session, order_pk: int, kind: str, refund_id: str) -> OrderTicket | None:
    return session.scalar(select(OrderTicket).where(OrderTicket.order_pk == order_pk, OrderTicket.kind == kind,
                                                    OrderTicket.refund_id == refund_id))


def _set_platform_status(session: Session, order_pk: int, kind: str, refund_id: str, status: str | None) -> None:
    session.execute(update(OrderTicket).where(OrderTicket.order_pk == order_pk, OrderTicket.kind == kind,
                                              OrderTicket.refund_id == refund_id).values(platform_status=status))


def tickets_section(session: Session, order_pk: int) -> list[dict[str, Any]]:
    """The ``tickets`` section of ``GET /orders/{id}``: the order ticket first, then one per
    platform refund, each with its machine, state, version and the platform status it follows."""
    rows = session.execute(
        select(OrderTicket, WorkflowInstance).join(WorkflowInstance, WorkflowInstance.id == OrderTicket.instance_id)
        .where(OrderTicket.order_pk == order_pk).order_by(OrderTicket.kind != ORDER_KIND, OrderTicket.id)).all()
    return [{"id": inst.id, "kind": t.kind, "refund_id": t.refund_id or None, "line_id": t.line_id,
             "machine": inst.machine, "state": inst.state, "closed": inst.closed, "ruleset": inst.ruleset,
             "ruleset_version": inst.ruleset_version, "platform_status": t.platform_status,
             "data": inst.data or {}, "opened_at": t.created_at.isoformat(),
             "updated_at": inst.updated_at.isoformat()} for t, inst in rows]
