"""Risk flags: written when a rule fires on an order, listed for staff.

Owns the SQL on ``risk_flags``. :func:`record_flags` runs in the pipeline's transaction (never
commits; one flag per (order, rule), a stage run again adds none; the order gets its flagged
row in ``order_tags``). :func:`list_flags` pages
the flags newest first with an opaque cursor and shows each key (a buyer's phone, a device)
as the reader's role may see it: phones masked for every role that does not see them on the
order itself (:mod:`engine.orders.visibility`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.api.cursors import decode_cursor, encode_cursor
from engine.masking import mask_phone
from engine.orders.order_tags import mark_flagged
from engine.orders.stages import OrderRef
from engine.orders.visibility import visibility_for
from engine.risk.models import RiskFlag
from engine.risk.rules import Finding

__all__ = ["FlagFilter", "list_flags", "record_flags"]

_FLAGS = cast(Table, RiskFlag.__table__)


def record_flags(session: Session, order: OrderRef, findings: Sequence[Finding], now: datetime) -> None:
    """Store one flag per finding (a rule that already flagged this order is not flagged again)."""
    if not findings:
        return
    conn = session.connection()
    ins = pg_insert(_FLAGS) if conn.dialect.name == "postgresql" else sqlite_insert(_FLAGS)
    conn.execute(ins.on_conflict_do_nothing(index_elements=["order_pk", "rule"]), [
        {"order_pk": order.pk, "channel": order.channel, "order_id": order.order_id, "revision": order.revision,
         "rule": f.rule.name, "flag": f.rule.decl.flag, "held": f.hold, "ruleset": f.rule.ruleset,
         "ruleset_version": f.rule.version, "evidence": f.evidence(), "at": now} for f in findings])
    mark_flagged(conn, order.pk)  # the order list's 风险 filter walks these rows


@dataclass(frozen=True)
class FlagFilter:
    rules: Sequence[str] = ()
    flags: Sequence[str] = ()
    channels: Sequence[str] = ()
    held: bool | None = None
    order_id: str | None = None
    at_from: datetime | None = None
    at_to: datetime | None = None


def _masked_evidence(evidence: dict[str, Any], role: str) -> dict[str, Any]:
    if visibility_for(role).phone:
        return evidence
    figures = []
    for fig in evidence.get("figures") or ():
        key = fig.get("key")
        figures.append({**fig, "key": mask_phone(key) if isinstance(key, str) else key})
    return {**evidence, "figures": figures}


def list_flags(session: Session, f: FlagFilter, *, role: str, cursor: str | None, limit: int) -> dict[str, Any]:
    """One page of flags, newest first: ``{"items", "next_cursor"}``."""
    stmt = select(RiskFlag)
    if f.rules:
        stmt = stmt.where(RiskFlag.rule.in_(list(f.rules)))
    if f.flags:
        stmt = stmt.where(RiskFlag.flag.in_(list(f.flags)))
    if f.channels:
        stmt = stmt.where(RiskFlag.channel.in_(list(f.channels)))
    if f.held is not None:
        stmt = stmt.where(RiskFlag.held.is_(f.held))
    if f.order_id:
        stmt = stmt.where(RiskFlag.order_id == f.order_id)
    if f.at_from:
        stmt = stmt.where(RiskFlag.at >= f.at_from)
    if f.at_to:
        stmt = stmt.where(RiskFlag.at < f.at_to)
    if cursor:
        at, pk = decode_cursor(cursor)
        stmt = stmt.where(or_(RiskFlag.at < at, and_(RiskFlag.at == at, RiskFlag.id < pk)))
    rows = session.scalars(stmt.order_by(RiskFlag.at.desc(), RiskFlag.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [{"id": r.id, "order_pk": r.order_pk, "channel": r.channel, "order_id": r.order_id,
              "revision": r.revision, "rule": r.rule, "flag": r.flag, "held": r.held, "ruleset": r.ruleset,
              "ruleset_version": r.ruleset_version, "evidence": _masked_evidence(r.evidence or {}, role),
              "at": r.at.isoformat()} for r in rows]
    next_cursor = encode_cursor(rows[-1].at, rows[-1].id) if more and rows else None
    return {"items": items, "next_cursor": next_cursor}
