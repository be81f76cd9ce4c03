"""The measure consumer: reads the event rows the pipeline and the workflow already keep, past a
stored cursor, and adds them to the alert counters in the same transaction that moves the
cursor — so each row is counted exactly once, across processes and restarts.

Owns every SQL statement on ``alert_cursors``, ``alert_series``, ``alert_counters`` and
``alert_distinct``; runs in the caller's transaction and never commits. The caller opens it
with ``immediate=True`` (SQLite's write lock at BEGIN); on PostgreSQL the ``lock`` cursor row is
taken ``FOR UPDATE SKIP LOCKED``, so one consumer runs at a time and the others pass.

- Sources: ``orders`` (``orders`` rows; the ``order_lines`` collection's series read the same rows, each
  line of each order a record), ``returns`` (``order_tickets`` rows of kind ``refund``),
  ``tickets`` (``workflow_transitions`` rows), ``shipments`` (``order_shipments`` rows). A batch
  reads the rows past the source's cursor in id order and never history again.
- Gaps: on PostgreSQL an id can become visible after a higher one (its transaction committed
  later). Ids skipped below the cursor are kept as the source's ``gaps`` and read again on each
  run until they appear (and are counted then) or are older than :data:`GAP_SETTLE` (a rolled
  back insert or an upsert that took a sequence value and kept the existing row).
- Back-fill: a series first seen (a ruleset with a new or changed alert was published) is
  filled from the existing rows up to the cursor (gap ids excluded: they are counted when they
  arrive) in one pass per source, then kept incrementally with the rest. A series no published
  alert counts any more is dropped with its counters (a later one is back-filled afresh).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, case, delete, func, insert, null, or_, select, tuple_, type_coerce, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.alerts.events import order_record, return_record, shipment_record, ticket_record
from engine.alerts.measures import Series, Stats, Tally
from engine.alerts.models import AlertCounter, AlertCursor, AlertDistinct, AlertSeries
from engine.orders.model import Order
from engine.orders.pipeline_model import OrderShipment, OrderTicket
from engine.storage.types import JSONType
from engine.workflow.models import WorkflowInstance, WorkflowTransition

__all__ = ["BATCH", "GAP_SETTLE", "SOURCES", "ConsumeReport", "consume", "read_figures", "take_lock"]

SOURCES = ("orders", "returns", "tickets", "shipments")
LOCK = "lock"
BATCH = 2000
BACKFILL_BATCH = 5000
GAP_SETTLE = timedelta(minutes=2)
MAX_GAPS = 2000

_CUR = cast(Table, AlertCursor.__table__)
_SER = cast(Table, AlertSeries.__table__)
_CNT = cast(Table, AlertCounter.__table__)
_DST = cast(Table, AlertDistinct.__table__)
_ORD = cast(Table, Order.__table__)
_TIX = cast(Table, OrderTicket.__table__)
_SHP = cast(Table, OrderShipment.__table__)
_TRN = cast(Table, WorkflowTransition.__table__)
_INS = cast(Table, WorkflowInstance.__table__)


@dataclass
class ConsumeReport:
    """What one run did: rows read per source, series back-filled (key → rows), whether a
    source has more rows waiting (a full batch)."""

    read: dict[str, int] = field(default_factory=dict)
    backfilled: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    more: bool = False
    locked_elsewhere: bool = False


# --------------------------------------------------------------------------- reading the sources


def _rows(conn: Connection, source: str, *, after: int | None = None, ids: Sequence[int] = (),
          upto: int | None = None, exclude: Iterable[int] = (), limit: int = BATCH,
          ids_only: bool = False) -> list[Any]:
    """Rows of ``source`` past ``after`` (or with one of ``ids``), in id order; or, for a back-fill,
    rows after ``after`` up to ``upto`` not in ``exclude``."""
    if source == "orders":
        id_col = _ORD.c.id
        cols = [id_col] if ids_only else [id_col, _ORD.c.created_at, _ORD.c.doc, _ORD.c.dropped_rule]
        stmt = select(*cols)
    elif source == "returns":
        id_col = _TIX.c.id
        # the order's document only for a refund's ticket (the others are passed over unread)
        doc: Any = type_coerce(case((_TIX.c.kind == "refund", _ORD.c.doc), else_=null()), JSONType).label("doc")
        cols = [id_col] if ids_only else [id_col, _TIX.c.kind, _TIX.c.created_at, _TIX.c.refund_id, _TIX.c.line_id,
                                          doc]
        stmt = select(*cols) if ids_only else select(*cols).join(_ORD, _ORD.c.id == _TIX.c.order_pk)
    elif source == "shipments":
        id_col = _SHP.c.id
        cols = [id_col] if ids_only else [id_col, _SHP.c.at, _SHP.c.courier, _SHP.c.tracking_no, _SHP.c.via,
                                          _SHP.c.lines, _ORD.c.doc]
        stmt = select(*cols) if ids_only else select(*cols).join(_ORD, _ORD.c.id == _SHP.c.order_pk)
    elif source == "tickets":
        id_col = _TRN.c.id
        cols = [id_col] if ids_only else [id_col, _TRN.c.at, _TRN.c.to_state, _TRN.c.instance_id, _TRN.c.payload,
                                          _INS.c.machine, _INS.c.created_at]
        stmt = select(*cols) if ids_only else select(*cols).join(_INS, _INS.c.id == _TRN.c.instance_id)
    else:
        raise ValueError(source)
    if upto is not None:
        stmt = stmt.where(id_col > (after or 0), id_col <= upto)
        excluded = list(exclude)
        if excluded:
            stmt = stmt.where(id_col.not_in(excluded))
    else:
        cond = id_col > (after or 0)
        if ids:
            cond = or_(cond, id_col.in_(list(ids)))
        stmt = stmt.where(cond)
    return list(conn.execute(stmt.order_by(id_col).limit(limit)))


def _record(source: str, row: Any) -> tuple[dict[str, Any], datetime] | None:
    if source == "orders":
        if row.dropped_rule is not None:
            return None
        return order_record(row.doc), row.created_at
    if source == "returns":
        if row.kind != "refund":
            return None
        return return_record(row.doc, row.refund_id, row.line_id, row.created_at), row.created_at
    if source == "shipments":
        return shipment_record(row.doc, row.id, row.courier, row.tracking_no, row.via, row.lines, row.at), row.at
    return ticket_record(row.instance_id, row.to_state, row.machine, row.created_at, row.at, row.payload), row.at


# --------------------------------------------------------------------------- writing the counters


def _insert(conn: Connection, table: Table) -> Any:
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


def _write(conn: Connection, acc: Tally) -> None:
    if acc.n:
        ins = _insert(conn, _CNT)
        ex = ins.excluded
        stmt = ins.on_conflict_do_update(
            index_elements=["series", "bucket", "grp"],
            set_={"n": _CNT.c.n + ex.n, "total": _CNT.c.total + ex.total,
                  "lo": case((_CNT.c.lo.is_(None), ex.lo), (ex.lo.is_(None), _CNT.c.lo), (ex.lo < _CNT.c.lo, ex.lo),
                             else_=_CNT.c.lo),
                  "hi": case((_CNT.c.hi.is_(None), ex.hi), (ex.hi.is_(None), _CNT.c.hi), (ex.hi > _CNT.c.hi, ex.hi),
                             else_=_CNT.c.hi)})
        conn.execute(stmt, [{"series": k[0], "bucket": k[1], "grp": k[2], "n": v[0], "total": v[1], "lo": v[2],
                             "hi": v[3]} for k, v in sorted(acc.n.items())])
    if acc.members:
        members = [{"series": k[0], "bucket": k[1], "grp": k[2], "value": value}
                   for k, values in sorted(acc.members.items()) for value in sorted(values)]
        conn.execute(_insert(conn, _DST).on_conflict_do_nothing(
            index_elements=["series", "bucket", "grp", "value"]), members)
        keys = sorted(acc.members)
        counts = conn.execute(
            select(_DST.c.series, _DST.c.bucket, _DST.c.grp, func.count())
            .where(tuple_(_DST.c.series, _DST.c.bucket, _DST.c.grp).in_(keys))
            .group_by(_DST.c.series, _DST.c.bucket, _DST.c.grp)).all()
        ins = _insert(conn, _CNT)
        conn.execute(ins.on_conflict_do_update(index_elements=["series", "bucket", "grp"], set_={"n": ins.excluded.n}),
                     [{"series": r[0], "bucket": r[1], "grp": r[2], "n": r[3], "total": 0, "lo": None, "hi": None}
                      for r in counts])


# --------------------------------------------------------------------------- cursors and gaps


def _gaps_of(row: Any) -> dict[int, datetime]:
    return {int(i): datetime.fromisoformat(at) for i, at in (row.gaps or [])}


def _save_cursor(conn: Connection, source: str, last_id: int, gaps: Mapping[int, datetime], now: datetime) -> None:
    kept = sorted(gaps.items())[-MAX_GAPS:]
    conn.execute(update(_CUR).where(_CUR.c.source == source)
                 .values(last_id=last_id, gaps=[[i, at.isoformat()] for i, at in kept], updated_at=now))


def _advance(conn: Connection, source: str, cursor: Any, series: Sequence[Series], now: datetime,
             report: ConsumeReport) -> None:
    last = int(cursor.last_id)
    gaps = {i: at for i, at in _gaps_of(cursor).items() if now - at < GAP_SETTLE}
    rows = _rows(conn, source, after=last, ids=sorted(gaps)[:500], ids_only=not series)
    if not rows and len(gaps) == len(cursor.gaps or []):
        return
    acc = Tally()
    top = last
    for row in rows:
        if row.id in gaps:
            del gaps[row.id]
        elif row.id > top:
            for missing in range(max(top + 1, row.id - MAX_GAPS), row.id):
                gaps[missing] = now
            top = row.id
        if series:
            made = _record(source, row)
            if made is not None:
                acc.add(series, made[0], made[1])
    _write(conn, acc)
    _save_cursor(conn, source, top, gaps, now)
    report.read[source] = len(rows)
    report.more = report.more or len(rows) >= BATCH


# --------------------------------------------------------------------------- series and back-fill


def _sync_series(conn: Connection, active: Mapping[str, Series], cursors: Mapping[str, Any], now: datetime,
                 report: ConsumeReport) -> None:
    known = set(conn.execute(select(_SER.c.key)).scalars())
    gone = sorted(known - set(active))
    if gone:
        for table in (_CNT, _DST):
            conn.execute(delete(table).where(table.c.series.in_(gone)))
        conn.execute(delete(_SER).where(_SER.c.key.in_(gone)))
        report.dropped = len(gone)
    fresh = [s for key, s in sorted(active.items()) if key not in known]
    by_source: dict[str, list[Series]] = defaultdict(list)
    for s in fresh:
        by_source[s.source].append(s)
    for source, series in by_source.items():
        cursor = cursors[source]
        counted = _backfill(conn, source, series, int(cursor.last_id), _gaps_of(cursor))
        conn.execute(insert(_SER), [{"key": s.key, "source": source, "spec": dict(s.spec),
                                     "backfilled_rows": counted, "created_at": now} for s in series])
        for s in series:
            report.backfilled[s.key] = counted


def _backfill(conn: Connection, source: str, series: Sequence[Series], upto: int, gaps: Mapping[int, datetime]) -> int:
    """Count the existing rows of ``source`` up to ``upto`` (not the gap ids) into ``series``: one
    pass in id order, the figures summed in memory and written once per window and group."""
    acc = Tally()
    after = 0
    counted = 0
    while True:
        rows = _rows(conn, source, after=after, upto=upto, exclude=gaps, limit=BACKFILL_BATCH)
        if not rows:
            break
        after = rows[-1].id
        for row in rows:
            made = _record(source, row)
            if made is not None:
                acc.add(series, made[0], made[1])
                counted += 1
    _write(conn, acc)
    return counted


# --------------------------------------------------------------------------- the run


def consume(session: Session, series: Mapping[str, Series], now: datetime) -> ConsumeReport:
    """One batch per source into the counters of ``series`` (every series a published alert
    counts), back-filling new series first. Returns ``locked_elsewhere`` when another process is
    consuming (PostgreSQL)."""
    conn = session.connection()
    report = ConsumeReport()
    if not take_lock(session):
        report.locked_elsewhere = True
        return report
    cursors = {row.source: row for row in conn.execute(select(_CUR).where(_CUR.c.source.in_(SOURCES)))}
    _sync_series(conn, series, cursors, now, report)
    for source in SOURCES:
        _advance(conn, source, cursors[source], [s for s in series.values() if s.source == source], now, report)
    return report


def take_lock(session: Session) -> bool:
    """Take the consumer's lock for this transaction (PostgreSQL: the ``lock`` cursor row, or
    False when another process holds it; SQLite: the write lock the caller's BEGIN IMMEDIATE
    already holds)."""
    conn = session.connection()
    stmt = select(_CUR.c.source).where(_CUR.c.source == LOCK).with_for_update(skip_locked=True)
    if conn.execute(stmt).first() is not None:
        return True
    if conn.execute(select(_CUR.c.source).where(_CUR.c.source == LOCK)).first() is not None:
        return False  # held by another consumer
    # the rows the migration writes are missing (a database emptied by hand): start again from the
    # first row of every source — each row is then counted once, by the consumer
    conn.execute(_insert(conn, _CUR).on_conflict_do_nothing(index_elements=["source"]),
                 [{"source": source, "last_id": 0, "gaps": []} for source in (LOCK, *SOURCES)])
    return conn.execute(stmt).first() is not None


def read_figures(conn: Connection, keys: Sequence[str], buckets: Sequence[datetime]
                 ) -> dict[tuple[datetime, str], dict[str, Stats]]:
    """The counters of ``keys`` in ``buckets``: (bucket, group) → series → figures."""
    out: dict[tuple[datetime, str], dict[str, Stats]] = defaultdict(dict)
    if not keys:
        return out
    rows = conn.execute(select(_CNT.c.series, _CNT.c.bucket, _CNT.c.grp, _CNT.c.n, _CNT.c.total, _CNT.c.lo, _CNT.c.hi)
                        .where(_CNT.c.series.in_(list(keys)), _CNT.c.bucket.in_(list(buckets))))
    for r in rows:
        out[(r.bucket, r.grp)][r.series] = Stats(int(r.n), int(r.total), r.lo, r.hi)
    return out


