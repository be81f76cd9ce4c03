"""Alert firings in the database: evaluating the published alerts over their counters, storing
each firing and clearing with its figures, writing its messages to the outbox, and reading and
acknowledging firings for the API.

Owns every SQL statement on ``alert_firings``; runs in the caller's transaction and never
commits. What to do is decided by :mod:`engine.alerts.evaluation` (pure); this module reads the
counters of the current and the previous window (a stock level: the stock now, from
:mod:`engine.alerts.stock_levels`), the open firing and the last firing time of each group, and
writes what was decided. A message goes to the channel its ``notify`` names as a ``notify.<type>``
outbox row (:mod:`engine.notifications`), in the same transaction as the firing, and is delivered
afterwards with the outbox's retries; its delivery status is read back from the outbox row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, func, or_, select, update
from sqlalchemy.orm import Session

from engine.alerts.buckets import bucket_end, bucket_start, previous_bucket
from engine.alerts.counters import read_figures
from engine.alerts.evaluation import CLEAR, FIRE, Figures, decide, figures_of, render
from engine.alerts.measures import CompiledAlert, Stats, measure_value
from engine.alerts.models import AlertFiring
from engine.alerts.published import PublishedAlerts
from engine.alerts.stock_levels import level_figures
from engine.api.cursors import decode_cursor, encode_cursor
from engine.errors import Conflict, NotFound
from engine.logs import get_logger
from engine.notifications import notify_body, notify_topic
from engine.outbox.service import enqueue
from engine.storage.models import OutboxMessage

__all__ = ["FiringFilter", "acknowledge", "evaluate", "firing_out", "list_firings"]

log = get_logger(__name__)

_FIR = cast(Table, AlertFiring.__table__)
STATES = ("firing", "cleared", "acknowledged")


@dataclass(frozen=True)
class Outcome:
    alert: str
    group: str
    action: str
    firing_id: int


def _send(session: Session, published: PublishedAlerts, alert: CompiledAlert, notifies: Sequence[Any],
          message_of: Any, firing: AlertFiring, now: datetime, kind: str) -> list[dict[str, Any]]:
    sent = []
    for n in notifies:
        decl = published.channel(alert, n.channel)
        text = message_of(n.message)
        body = notify_body(n.channel, decl, text, context={
            "alert": alert.name, "alert_firing": firing.id, "alert_event": kind,
            "ruleset_version": f"{alert.ruleset}@{alert.version}"})
        row = enqueue(session, notify_topic(decl), body, now=now, source=f"alert:{alert.name}",
                      ruleset_version=f"{alert.ruleset}@{alert.version}")
        sent.append({"event": kind, "channel": n.channel, "delivery_id": row.delivery_id})
    return sent


def _windows(conn: Any, alert: CompiledAlert, now: datetime
             ) -> tuple[datetime, Mapping[str, Mapping[str, Stats]], Mapping[str, Mapping[str, Stats]] | None]:
    """The start of the window of ``now`` and the figures per group of it and of the window before
    (a stock level: ``now``, the stock now, and nothing before)."""
    if alert.period is None:
        return now, level_figures(conn, alert, now), None
    current = bucket_start(now, alert.period)
    previous = previous_bucket(current, alert.period)
    keys = sorted({s.key for s in alert.series.values()})
    figures = read_figures(conn, keys, [current, previous])
    now_figures: dict[str, Mapping[str, Stats]] = {}
    before: dict[str, Mapping[str, Stats]] = {}
    for (bucket, grp), per_series in figures.items():
        (now_figures if bucket == current else before)[grp] = per_series
    return current, now_figures, before


def _evaluate_alert(session: Session, published: PublishedAlerts, alert: CompiledAlert, now: datetime) -> list[Outcome]:
    conn = session.connection()
    current, figures, earlier = _windows(conn, alert, now)
    open_rows = {f.grp: f for f in session.scalars(select(AlertFiring).where(
        AlertFiring.ruleset == alert.ruleset, AlertFiring.alert == alert.name, AlertFiring.state == "firing"))}
    groups = set(figures) | set(earlier or ()) | set(open_rows)
    if not alert.grouped:
        groups = {""}
    last_fired: dict[str, datetime] = {}
    if alert.decl.cooldown:
        last_fired = {r[0]: r[1] for r in conn.execute(
            select(_FIR.c.grp, func.max(_FIR.c.fired_at)).where(_FIR.c.ruleset == alert.ruleset,
                                                                  _FIR.c.alert == alert.name).group_by(_FIR.c.grp))}
    out: list[Outcome] = []
    for grp in sorted(groups):
        value = measure_value(alert, figures.get(grp, {}))
        before = measure_value(alert, earlier.get(grp, {})) if earlier is not None else None
        figs = figures_of(alert, value, before)
        opened = open_rows.get(grp)
        decision = decide(alert, figs, open_firing=opened is not None, last_fired_at=last_fired.get(grp), now=now)
        if decision.action == FIRE:
            out.append(_fire(session, published, alert, grp, figs, current, now))
        elif decision.action == CLEAR and opened is not None:
            out.append(_clear(session, published, alert, opened, figs, now))
    return out


LEVEL_PERIOD = "now"  # the period stored with the firing of a stock level (read at its firing time)


def _window_end(alert: CompiledAlert, start: datetime) -> datetime:
    return bucket_end(start, alert.period) if alert.period is not None else start


def _window_json(alert: CompiledAlert, start: datetime) -> dict[str, Any]:
    return {"period": alert.period or LEVEL_PERIOD, "start": start.isoformat(),
            "end": _window_end(alert, start).isoformat()}


def _fire(session: Session, published: PublishedAlerts, alert: CompiledAlert, grp: str, figs: Figures,
          window: datetime, now: datetime) -> Outcome:
    messages = [render(n.message, alert, figs, grp) for n in alert.decl.notify]
    firing = AlertFiring(ruleset=alert.ruleset, ruleset_version=alert.version, alert=alert.name, grp=grp,
                         period=alert.period or LEVEL_PERIOD, window_start=window,
                         window_end=_window_end(alert, window),
                         figures={**figs.as_json(), "window": _window_json(alert, window)},
                         message="\n".join(messages), channels=",".join(n.channel for n in alert.decl.notify)[:512],
                         deliveries=[], state="firing", fired_at=now)
    session.add(firing)
    session.flush()
    firing.deliveries = _send(session, published, alert, alert.decl.notify,
                              lambda text: render(text, alert, figs, grp), firing, now, "fire")
    log.info("alert fired", alert=alert.name, ruleset=f"{alert.ruleset}@{alert.version}", group=grp,
             figures=figs.as_json(), firing=firing.id)
    return Outcome(alert.name, grp, FIRE, firing.id)


def _clear(session: Session, published: PublishedAlerts, alert: CompiledAlert, firing: AlertFiring, figs: Figures,
           now: datetime) -> Outcome:
    messages = [render(n.message, alert, figs, firing.grp) for n in alert.decl.clear]
    firing.state = "cleared"
    firing.cleared_at = now
    firing.clear_figures = figs.as_json()
    firing.clear_message = "\n".join(messages) if messages else None
    sent = _send(session, published, alert, alert.decl.clear, lambda text: render(text, alert, figs, firing.grp),
                 firing, now, "clear")
    firing.deliveries = [*(firing.deliveries or []), *sent]
    log.info("alert cleared", alert=alert.name, group=firing.grp, firing=firing.id, figures=figs.as_json())
    return Outcome(alert.name, firing.grp, CLEAR, firing.id)


def evaluate(session: Session, published: PublishedAlerts, now: datetime) -> list[Outcome]:
    """Evaluate every published alert for the window of ``now``; fire and clear as decided."""
    out: list[Outcome] = []
    for alert in published.alerts:
        try:
            with session.begin_nested():
                out += _evaluate_alert(session, published, alert, now)
        except Exception:  # noqa: BLE001 - one alert that fails to evaluate does not stop the others
            log.exception("alert evaluation failed", alert=alert.name, ruleset=f"{alert.ruleset}@{alert.version}")
    return out


# --------------------------------------------------------------------------- reading and acknowledging


@dataclass(frozen=True)
class FiringFilter:
    alerts: Sequence[str] = ()
    states: Sequence[str] = ()
    channels: Sequence[str] = ()
    at_from: datetime | None = None
    at_to: datetime | None = None


def _delivery_status(session: Session, rows: Sequence[AlertFiring]) -> dict[str, str]:
    ids = [d["delivery_id"] for r in rows for d in (r.deliveries or []) if d.get("delivery_id")]
    if not ids:
        return {}
    return dict(session.execute(select(OutboxMessage.delivery_id, OutboxMessage.status)
                                .where(OutboxMessage.delivery_id.in_(ids))).all())


def firing_out(row: AlertFiring, statuses: dict[str, str]) -> dict[str, Any]:
    deliveries = [{**d, "status": statuses.get(d.get("delivery_id", ""), "unknown")} for d in (row.deliveries or [])]
    fire_status = [d["status"] for d in deliveries if d.get("event") == "fire"]
    overall = ("dead" if "dead" in fire_status else "pending" if "pending" in fire_status
               else "delivered" if fire_status else "none")
    return {"id": row.id, "ruleset": row.ruleset, "ruleset_version": row.ruleset_version, "alert": row.alert,
            "group": row.grp, "state": row.state, "acknowledged": row.acknowledged_at is not None,
            "window": {"period": row.period, "start": row.window_start.isoformat(), "end": row.window_end.isoformat()},
            "figures": row.figures, "message": row.message, "channels": [c for c in row.channels.split(",") if c],
            "delivery_status": overall, "deliveries": deliveries, "fired_at": row.fired_at.isoformat(),
            "cleared_at": row.cleared_at.isoformat() if row.cleared_at else None,
            "clear_figures": row.clear_figures, "clear_message": row.clear_message,
            "acknowledged_by": row.acknowledged_by,
            "acknowledged_at": row.acknowledged_at.isoformat() if row.acknowledged_at else None}


def list_firings(session: Session, f: FiringFilter, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """Firings newest first (by firing time, then id), one page; ``next_cursor`` pages on."""
    stmt = select(AlertFiring)
    if f.alerts:
        stmt = stmt.where(AlertFiring.alert.in_(list(f.alerts)))
    if f.states:
        conds = []
        if "firing" in f.states:
            conds.append(AlertFiring.state == "firing")
        if "cleared" in f.states:
            conds.append(AlertFiring.state == "cleared")
        if "acknowledged" in f.states:
            conds.append(AlertFiring.acknowledged_at.is_not(None))
        stmt = stmt.where(or_(*conds))
    if f.channels:
        stmt = stmt.where(or_(*[or_(AlertFiring.channels == c, AlertFiring.channels.like(f"{c},%"),
                                    AlertFiring.channels.like(f"%,{c}"), AlertFiring.channels.like(f"%,{c},%"))
                                for c in f.channels]))
    if f.at_from is not None:
        stmt = stmt.where(AlertFiring.fired_at >= f.at_from)
    if f.at_to is not None:
        stmt = stmt.where(AlertFiring.fired_at < f.at_to)
    if cursor:
        at, pk = decode_cursor(cursor)
        stmt = stmt.where(or_(AlertFiring.fired_at < at, and_(AlertFiring.fired_at == at, AlertFiring.id < pk)))
    rows = list(session.scalars(stmt.order_by(AlertFiring.fired_at.desc(), AlertFiring.id.desc()).limit(limit + 1)))
    page, more = rows[:limit], len(rows) > limit
    statuses = _delivery_status(session, page)
    return {"items": [firing_out(r, statuses) for r in page],
            "next_cursor": encode_cursor(page[-1].fired_at, page[-1].id) if more and page else None}


def acknowledge(session: Session, firing_id: int, *, actor: str, now: datetime) -> dict[str, Any]:
    """Record who acknowledged a firing and when; a second acknowledgement is refused (409)
    naming the first."""
    row = session.get(AlertFiring, firing_id, with_for_update=True)
    if row is None:
        raise NotFound(f"alert firing {firing_id} not found")
    if row.acknowledged_at is not None:
        raise Conflict(f"alert firing {firing_id} was acknowledged by {row.acknowledged_by} at "
                       f"{row.acknowledged_at.isoformat()}", code="already_acknowledged")
    session.execute(update(AlertFiring).where(AlertFiring.id == firing_id)
                    .values(acknowledged_by=actor, acknowledged_at=now))
    session.refresh(row)
    return firing_out(row, _delivery_status(session, [row]))
