"""The pipeline's risk stage: every published ``risk`` rule run on one order.

``risk_stage(session, services, order, now)`` follows the stage contract
(:mod:`engine.orders.stages`): it runs inside the pipeline's transaction for the order and never
commits. It writes the order's keys (one per field the rules group by), reads each key's window
back (one indexed range read per field), lets the pure core (:mod:`engine.risk.rules`) decide,
and answers the timeline notes: ``risk_flagged`` (tag = the rule's flag) for a rule that flags,
``risk_held`` (with ``hold`` = the rule and its figures) for one that holds, and one
``risk_passed`` per ruleset whose rules all passed. Every firing is also a stored flag
(``GET /api/v1/risk/flags``) and its ``notify`` messages are outbox rows of the same
transaction. The first order after a rule starts grouping by a field back-fills that field's
keys for the orders its window reaches (:func:`engine.risk.windows.ensure_backfilled`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from engine.logs import get_logger
from engine.masking import mask_phone
from engine.notifications import notify_body, notify_topic
from engine.orders.stages import OrderRef, StageNote
from engine.outbox.service import enqueue
from engine.risk import windows
from engine.risk.flags import record_flags
from engine.risk.published import RiskRules, published_risk_rules
from engine.risk.rules import Finding, Neighbour, evaluate, order_time, value_at

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["risk_stage", "run_risk_rules"]

log = get_logger(__name__)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.]*)\}")


def risk_stage(session: Session, services: Services, order: OrderRef, now: datetime) -> list[StageNote]:
    """The risk stage of the pipeline (see the module docstring)."""
    return run_risk_rules(session, order, now, published_risk_rules(session))


def run_risk_rules(session: Session, order: OrderRef, now: datetime, rules: RiskRules) -> list[StageNote]:
    """Run ``rules`` on ``order`` (the stage without the published-rules lookup)."""
    if not rules.rules:
        return []
    at = order_time(order.doc) or now
    conn = session.connection()
    windows.ensure_backfilled(session, conn, rules.dimensions, now)
    keys = windows.keys_of(order.doc, rules.dimensions)
    wanted = [(dim, keys[dim.name]) for dim in rules.dimensions if dim.name in keys]
    with windows.one_round_trip(conn):
        windows.write_keys(conn, order.pk, at, keys)
        found = windows.neighbours(conn, wanted, at, with_docs=bool(rules.doc_dimensions & set(keys)),
                                   paths=rules.doc_paths)
    seen: dict[str, tuple[str | None, Sequence[Neighbour]]] = {
        dim.name: (keys.get(dim.name), found.get(dim.name, ())) for dim in rules.dimensions}
    findings = evaluate(rules.rules, order.doc, at, seen)
    record_flags(session, order, findings, now)
    for finding in findings:
        _notify(session, order, finding, now)
    return _notes(rules, findings)


def _notes(rules: RiskRules, findings: Sequence[Finding]) -> list[StageNote]:
    notes = []
    fired = {f.rule.name for f in findings}
    for f in findings:
        detail = {**f.evidence(), "message": f.summary()}
        notes.append(StageNote("risk_held" if f.hold else "risk_flagged", detail, ruleset=f.rule.ruleset,
                               ruleset_version=f.rule.version, tags=(f.rule.decl.flag,),
                               hold=f.summary() if f.hold else None))
    passed: dict[tuple[str, int], list[str]] = {}
    for rule in rules.rules:
        if rule.name not in fired:
            passed.setdefault((rule.ruleset, rule.version), []).append(rule.name)
    for (ruleset, version), names in passed.items():
        notes.append(StageNote("risk_passed", {"rules": names}, ruleset=ruleset, ruleset_version=version))
    return notes


def _notify(session: Session, order: OrderRef, finding: Finding, now: datetime) -> None:
    rule = finding.rule
    for n in rule.decl.notify:
        channel = rule.channels.get(n.channel)
        env: dict[str, Any] = {"flag": rule.decl.flag, "name": rule.name}
        body = notify_body(n.channel, channel, _render(n.message, order.doc, env),
                           context={"risk": rule.name, "order": order.ref,
                                    "ruleset_version": f"{rule.ruleset}@{rule.version}"})
        enqueue(session, notify_topic(channel), body, now=now, ruleset_version=f"{rule.ruleset}@{rule.version}",
                order_ref=order.ref)


def _render(template: str, doc: Any, env: dict[str, Any]) -> str:
    """Fill ``{flag}``, ``{name}`` and ``{order field}`` placeholders; phones are masked (the
    message goes to a chat group)."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        value = env[name] if name in env else value_at(doc, name.split("."))
        if value is None or isinstance(value, (dict, list)):
            return match.group(0)
        return mask_phone(str(value))

    return _PLACEHOLDER.sub(sub, template)
