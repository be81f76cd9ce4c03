"""The risk rules' windows in the database: an order's keys written, the orders sharing a key
within a window read back, and the keys of existing orders back-filled when a rule starts
grouping by a new field or reaches further back.

Owns every SQL statement on ``risk_keys`` and ``risk_dimensions``; runs in the caller's
transaction and never commits. A window is one range read on ``ix_risk_keys_window``
(dimension, value, at): its cost follows the orders of that key, not the size of the store.
On PostgreSQL a transaction-scoped advisory lock per (dimension, value) is taken before an
order's key is written, so two workers evaluating two orders of one buyer at the same time
see each other (the second waits for the first to commit). The two statements every order
runs (its keys, its windows) go through the session's own DB-API connection, inside its
transaction, with SQL written once per shape: SQLAlchemy's per-call cost was most of a
window's cost.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, and_, case, event, func, null, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from dsl.order_model import NUMERIC, ORDER_FIELDS, field_type
from engine.orders.model import Order
from engine.risk.models import RiskDimension, RiskKey
from engine.risk.rules import Dimension, Neighbour, key_value
from engine.storage.advisory import advisory_key
from engine.storage.raw import placeholders

__all__ = ["BACKFILL_BATCH", "coverage", "covers", "ensure_backfilled", "keys_of", "mark_covered", "neighbours",
           "one_round_trip", "write_keys"]

_KEYS = cast(Table, RiskKey.__table__)
_DIMS = cast(Table, RiskDimension.__table__)
_ORDERS = cast(Table, Order.__table__)

BACKFILL_BATCH = 2000

# Per database (engine): dimensions known complete from a time on. Coverage only ever grows (a
# dimension's mark moves back in time, never forward), so what one transaction saw stays true;
# it spares the two primary-key reads per order of asking the table each time.
_UNKNOWN = object()
_covered: weakref.WeakKeyDictionary[Engine, dict[str, datetime | None]] = weakref.WeakKeyDictionary()

def _lock_key(dimension: str, value: str) -> int:
    """The advisory lock id of (dimension, value), in the risk windows' key space."""
    return advisory_key(f"risk:{dimension}", value)


def _raw(conn: Connection) -> tuple[Any, bool]:
    """The DB-API connection of the transaction (BEGIN already sent) and whether it is
    PostgreSQL: the two statements every order runs skip SQLAlchemy's per-call cost."""
    return conn.connection.driver_connection, conn.dialect.name == "postgresql"


def _param_time(value: datetime, pg: bool) -> Any:
    """A time as the column stores it: aware on PostgreSQL, SQLAlchemy's naive UTC text on SQLite."""
    if pg:
        return value
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _read_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _read_doc(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


@lru_cache(maxsize=16)
def _locks_sql(count: int) -> str:
    return "SELECT " + ", ".join(["pg_advisory_xact_lock(%s)"] * count)


@lru_cache(maxsize=64)
def _upsert_sql(rows: int, pg: bool) -> str:
    values = ", ".join(["(?, ?, ?, ?)"] * rows)
    return placeholders(f"INSERT INTO risk_keys (order_pk, dimension, value, at) VALUES {values} "
                        "ON CONFLICT (order_pk, dimension) DO UPDATE SET value = excluded.value, at = excluded.at", pg)


@lru_cache(maxsize=256)
def _as_json(path: tuple[str, ...]) -> bool:
    """Whether the field is read as JSON (a true/false) rather than as the plain value SQL gives
    for text and numbers (which then needs no decoding)."""
    return field_type(ORDER_FIELDS, path) == "bool"


def _field_sql(path: tuple[str, ...], pg: bool) -> str:
    """One single-valued order field of the document. Text and numbers come as SQL gives them
    (SQLite's ``json_extract``: the same values JSON decoding gives; PostgreSQL: text, or JSON
    the driver decodes); a true/false as JSON. The path's names come from the order model, never
    from a request."""
    if pg:
        op = "#>" if _as_json(path) or _numeric(path) else "#>>"
        return f"o.doc {op} '{{" + ",".join(path) + "}'"
    if _as_json(path):
        return "o.doc -> '$." + ".".join(path) + "'"
    return "json_extract(o.doc, '$." + ".".join(path) + "')"


@lru_cache(maxsize=256)
def _numeric(path: tuple[str, ...]) -> bool:
    return field_type(ORDER_FIELDS, path) in NUMERIC


@lru_cache(maxsize=64)
def _window_sql(shape: tuple[bool, ...], with_docs: bool, pg: bool,
                paths: tuple[tuple[str, ...], ...] | None = None) -> str:
    terms = []
    for unbounded in shape:
        term = "k.dimension = ? AND k.value = ? AND k.at <= ?"
        terms.append(f"({term})" if unbounded else f"({term} AND k.at > ?)")
    doc = ""
    if with_docs:
        doc = ", o.doc" if paths is None else "".join(f", {_field_sql(p, pg)}" for p in paths)
    return placeholders(f"SELECT k.dimension, k.order_pk, k.at, o.channel, o.order_id{doc} FROM risk_keys k "
                        f"JOIN orders o ON o.id = k.order_pk WHERE ({' OR '.join(terms)}) "
                        "AND o.dropped_rule IS NULL", pg)


@contextmanager
def one_round_trip(conn: Connection) -> Iterator[None]:
    """On PostgreSQL, the statements inside (an order's locks and keys, then its windows) go to the
    server together and are answered together (the driver's pipeline mode): one network round
    trip instead of three. SQLite runs in this process: nothing to gather."""
    raw, pg = _raw(conn)
    if not pg:
        yield
        return
    with raw.pipeline():
        yield


def write_keys(conn: Connection, order_pk: int, at: datetime, keys: dict[str, str]) -> None:
    """Write (or move, for a newer revision) the order's key of each dimension."""
    if not keys:
        return
    raw, pg = _raw(conn)
    cur = raw.cursor()
    try:
        items = sorted(keys.items())
        if pg:  # one round trip: the locks are taken left to right, in the keys' sorted order
            cur.execute(_locks_sql(len(items)), [_lock_key(dimension, value) for dimension, value in items])
        when = _param_time(at, pg)
        params: list[Any] = []
        for dimension, value in items:
            params += [order_pk, dimension, value, when]
        cur.execute(_upsert_sql(len(items), pg), params)
    finally:
        cur.close()


def neighbours(conn: Connection, wanted: Sequence[tuple[Dimension, str]], until: datetime, *,
               with_docs: bool, paths: tuple[tuple[str, ...], ...] | None = None) -> dict[str, list[Neighbour]]:
    """For each (dimension, value): the orders whose key of that dimension is that value within
    the dimension's longest window before ``until`` (inclusive), not dropped — all in one
    statement (one indexed range per dimension); their documents too when ``with_docs``: only
    the fields ``paths`` when given (the rest of each document is never read or decoded)."""
    out: dict[str, list[Neighbour]] = {dim.name: [] for dim, _ in wanted}
    if not wanted:
        return out
    raw, pg = _raw(conn)
    params: list[Any] = []
    upto = _param_time(until, pg)
    for dim, value in wanted:
        params += [dim.name, value, upto]
        if dim.within is not None:
            params.append(_param_time(until - timedelta(seconds=dim.within), pg))
    sql = _window_sql(tuple(dim.within is None for dim, _ in wanted), with_docs, pg, paths)
    decode = tuple(not pg and _as_json(p) for p in paths or ())
    cur = raw.cursor()
    try:
        cur.execute(sql, params)
        rows = cur.fetchall()
    finally:
        cur.close()
    for row in rows:
        if not with_docs:
            doc = None
        elif paths is None:
            doc = _read_doc(row[5])
        else:
            doc = _fields_doc(paths, row[5:], decode)
        out[row[0]].append(Neighbour(row[1], f"{row[3]}/{row[4]}", _read_time(row[2]), doc))
    return out


def _fields_doc(paths: tuple[tuple[str, ...], ...], values: Sequence[Any], decode: tuple[bool, ...]
                ) -> dict[str, Any]:
    """The part of a document holding ``paths`` (a missing field stays missing); ``decode``: the
    values that came as JSON text."""
    doc: dict[str, Any] = {}
    for path, value, as_json in zip(paths, values, decode, strict=True):
        if value is None:
            continue
        if as_json:
            value = json.loads(value)
        node = doc
        for seg in path[:-1]:
            node = node.setdefault(seg, {})
        node[path[-1]] = value
    return doc


def ensure_backfilled(session: Session, conn: Connection, dimensions: Iterable[Dimension],
                      now: datetime) -> list[tuple[str, int]]:
    """Make the keys of each dimension complete as far back as its longest window reaches from
    ``now`` (all orders for a window without limit): the orders not yet keyed there get their
    key. Returns ``(dimension, orders keyed)`` for each dimension it filled. Cheap when nothing
    is missing: one primary-key read per dimension."""
    filled = []
    known = _covered.setdefault(conn.engine, {})
    for dim in dimensions:
        wanted_from = None if dim.within is None else now - timedelta(seconds=dim.within)
        if _covers(known.get(dim.name, _UNKNOWN), wanted_from):
            continue
        row = conn.execute(select(_DIMS.c.covered_from).where(_DIMS.c.dimension == dim.name)).first()
        if row is not None and _covers(row.covered_from, wanted_from):
            known[dim.name] = row.covered_from
            continue
        upto = row.covered_from if row is not None else None
        count = _backfill(conn, dim, wanted_from, upto)
        mark_covered(conn, dim.name, wanted_from, now, count)
        filled.append((dim.name, count))
        # remembered once this transaction commits (a rolled-back fill is not remembered)
        _remember_on_commit(session, known, dim.name, wanted_from)
    return filled


def mark_covered(conn: Connection, dimension: str, covered_from: datetime | None, now: datetime,
                 filled_orders: int) -> None:
    """Record that ``dimension``'s keys are complete from ``covered_from`` on (None: all time)
    after a back-fill keyed ``filled_orders`` orders: one upsert, so a mark another worker wrote
    meanwhile is merged, never a primary-key error. The mark only moves back in time: the
    earlier of the stored and the new time stays (None wins)."""
    pg = conn.dialect.name == "postgresql"
    ins = (pg_insert if pg else sqlite_insert)(_DIMS).values(dimension=dimension, covered_from=covered_from,
                                                              filled_at=now, filled_orders=filled_orders)
    stored, new = _DIMS.c.covered_from, ins.excluded.covered_from
    earlier = func.least(stored, new) if pg else func.min(stored, new)
    merged = case((or_(stored.is_(None), new.is_(None)), null()), else_=earlier)
    conn.execute(ins.on_conflict_do_update(index_elements=["dimension"], set_={
        "covered_from": merged, "filled_at": ins.excluded.filled_at,
        "filled_orders": _DIMS.c.filled_orders + ins.excluded.filled_orders}))


def coverage(conn: Connection) -> dict[str, datetime | None]:
    """Each dimension whose keys are stored and the time they are complete from (None: all
    time); a dimension not listed has no keys yet. Read only (for 会有什么变化)."""
    return {row.dimension: row.covered_from for row in conn.execute(select(_DIMS.c.dimension, _DIMS.c.covered_from))}


def covers(covered_from: datetime | None, wanted_from: datetime | None) -> bool:
    """Whether keys complete from ``covered_from`` hold every order from ``wanted_from`` on."""
    return _covers(covered_from, wanted_from)


def _covers(covered_from: datetime | None | object, wanted_from: datetime | None) -> bool:
    if covered_from is _UNKNOWN:
        return False
    if covered_from is None:
        return True
    return wanted_from is not None and isinstance(covered_from, datetime) and covered_from <= wanted_from


def _remember_on_commit(session: Session, known: dict[str, datetime | None], name: str,
                        covered_from: datetime | None) -> None:
    def remember(_session: Session) -> None:
        known[name] = covered_from

    event.listen(session, "after_commit", remember, once=True)


def _backfill(conn: Connection, dim: Dimension, since: datetime | None, before: datetime | None) -> int:
    """Key every order created in ``[since, before)`` (open ends: no limit) by ``dim``; orders
    already keyed are left as they are."""
    base = select(_ORDERS.c.id, _ORDERS.c.created_at, _ORDERS.c.doc).where(_ORDERS.c.dropped_rule.is_(None))
    if since is not None:
        base = base.where(_ORDERS.c.created_at >= since)
    if before is not None:
        base = base.where(_ORDERS.c.created_at < before)
    base = base.order_by(_ORDERS.c.created_at, _ORDERS.c.id).limit(BACKFILL_BATCH)
    ins = pg_insert(_KEYS) if conn.dialect.name == "postgresql" else sqlite_insert(_KEYS)
    ins = ins.on_conflict_do_nothing(index_elements=["order_pk", "dimension"])
    count = 0
    last: tuple[datetime, int] | None = None
    while True:
        stmt = base
        if last is not None:
            stmt = stmt.where(or_(_ORDERS.c.created_at > last[0],
                                  and_(_ORDERS.c.created_at == last[0], _ORDERS.c.id > last[1])))
        rows = conn.execute(stmt).all()
        if not rows:
            return count
        last = (rows[-1].created_at, rows[-1].id)
        batch = []
        for row in rows:
            value = key_value(row.doc or {}, dim.path)
            if value is not None:
                batch.append({"order_pk": row.id, "dimension": dim.name, "value": value, "at": row.created_at})
        if batch:
            conn.execute(ins, batch)
            count += len(batch)


def keys_of(doc: Mapping[str, Any], dimensions: Sequence[Dimension]) -> dict[str, str]:
    """The order's key of each dimension it has a value for."""
    out = {}
    for dim in dimensions:
        value = key_value(doc, dim.path)
        if value is not None:
            out[dim.name] = value
    return out
