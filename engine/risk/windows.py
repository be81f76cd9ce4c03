"""The risk rules' windows in the database: an order's keys written, the orders sharing a key
within a window read back, and the keys of existing orders back-filled when a rule starts
grouping by a new field or reaches further back.

Owns every SQL statement on ``risk_keys`` and ``risk_dimensions``; runs in the caller's
transaction and never commits. A window is one range read on ``ix_risk_keys_window``
(dimension, value, at): its cost follows the orders of that key, not the size of the store.
On PostgreSQL a transaction-scoped advisory lock per (dimension, value) is taken before an
order's key is written, so two workers evaluating two orders of one buyer at the same time
see each other (the second waits for the first to commit).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, insert, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.orders.model import Order
from engine.risk.models import RiskDimension, RiskKey
from engine.risk.rules import Dimension, Neighbour, key_value

__all__ = ["BACKFILL_BATCH", "ensure_backfilled", "keys_of", "neighbours", "write_keys"]

_KEYS = cast(Table, RiskKey.__table__)
_DIMS = cast(Table, RiskDimension.__table__)
_ORDERS = cast(Table, Order.__table__)

BACKFILL_BATCH = 2000

_statements: dict[tuple[str, str], Any] = {}


def _stmt(conn: Connection, name: str) -> Any:
    """The hot statements, built once per dialect."""
    key = (conn.dialect.name, name)
    found = _statements.get(key)
    if found is not None:
        return found
    if name == "upsert":
        ins = pg_insert(_KEYS) if conn.dialect.name == "postgresql" else sqlite_insert(_KEYS)
        found = ins.on_conflict_do_update(index_elements=["order_pk", "dimension"],
                                          set_={"value": ins.excluded.value, "at": ins.excluded.at})
    elif name in ("window", "window_docs"):
        cols = [_KEYS.c.order_pk, _KEYS.c.at, _ORDERS.c.channel, _ORDERS.c.order_id]
        if name == "window_docs":
            cols.append(_ORDERS.c.doc)
        found = (select(*cols).select_from(_KEYS.join(_ORDERS, _ORDERS.c.id == _KEYS.c.order_pk))
                 .where(_KEYS.c.dimension == bindparam("d"), _KEYS.c.value == bindparam("v"),
                        _KEYS.c.at > bindparam("since"), _KEYS.c.at <= bindparam("until"),
                        _ORDERS.c.dropped_rule.is_(None)))
    elif name in ("window_all", "window_all_docs"):
        cols = [_KEYS.c.order_pk, _KEYS.c.at, _ORDERS.c.channel, _ORDERS.c.order_id]
        if name == "window_all_docs":
            cols.append(_ORDERS.c.doc)
        found = (select(*cols).select_from(_KEYS.join(_ORDERS, _ORDERS.c.id == _KEYS.c.order_pk))
                 .where(_KEYS.c.dimension == bindparam("d"), _KEYS.c.value == bindparam("v"),
                        _KEYS.c.at <= bindparam("until"), _ORDERS.c.dropped_rule.is_(None)))
    elif name == "lock":
        found = text("SELECT pg_advisory_xact_lock(:k)")
    else:
        raise KeyError(name)
    _statements[key] = found
    return found


def _lock_key(dimension: str, value: str) -> int:
    """A signed 64-bit advisory lock id for (dimension, value), in its own key space."""
    high = zlib.crc32(f"risk:{dimension}".encode())
    low = zlib.crc32(value.encode())
    n = (high << 32) | low
    return n - (1 << 64) if n >= 1 << 63 else n


def write_keys(session: Session, order_pk: int, at: datetime, keys: dict[str, str]) -> None:
    """Write (or move, for a newer revision) the order's key of each dimension."""
    if not keys:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        for dimension, value in sorted(keys.items()):
            conn.execute(_stmt(conn, "lock"), {"k": _lock_key(dimension, value)})
    conn.execute(_stmt(conn, "upsert"), [{"order_pk": order_pk, "dimension": d, "value": v, "at": at}
                                         for d, v in sorted(keys.items())])


def neighbours(session: Session, dimension: Dimension, value: str, until: datetime, *,
               with_docs: bool) -> list[Neighbour]:
    """The orders whose key of ``dimension`` is ``value`` within its longest window before
    ``until`` (inclusive), not dropped; their documents too when ``with_docs``."""
    conn = session.connection()
    params: dict[str, Any] = {"d": dimension.name, "v": value, "until": until}
    if dimension.within is None:
        stmt = _stmt(conn, "window_all_docs" if with_docs else "window_all")
    else:
        stmt = _stmt(conn, "window_docs" if with_docs else "window")
        params["since"] = until - timedelta(seconds=dimension.within)
    out = []
    for row in conn.execute(stmt, params):
        out.append(Neighbour(row.order_pk, f"{row.channel}/{row.order_id}", row.at,
                             row.doc if with_docs else None))
    return out


def ensure_backfilled(session: Session, dimensions: Iterable[Dimension], now: datetime) -> list[tuple[str, int]]:
    """Make the keys of each dimension complete as far back as its longest window reaches from
    ``now`` (all orders for a window without limit): the orders not yet keyed there get their
    key. Returns ``(dimension, orders keyed)`` for each dimension it filled. Cheap when nothing
    is missing: one primary-key read per dimension."""
    filled = []
    conn = session.connection()
    for dim in dimensions:
        wanted_from = None if dim.within is None else now - timedelta(seconds=dim.within)
        row = conn.execute(select(_DIMS.c.covered_from).where(_DIMS.c.dimension == dim.name)).first()
        if row is not None and (row.covered_from is None or
                                (wanted_from is not None and row.covered_from <= wanted_from)):
            continue
        upto = row.covered_from if row is not None else None
        count = _backfill(conn, dim, wanted_from, upto)
        if row is None:
            conn.execute(insert(_DIMS).values(dimension=dim.name, covered_from=wanted_from, filled_at=now,
                                              filled_orders=count))
        else:
            conn.execute(update(_DIMS).where(_DIMS.c.dimension == dim.name)
                         .values(covered_from=wanted_from, filled_at=now,
                                 filled_orders=_DIMS.c.filled_orders + count))
        filled.append((dim.name, count))
    return filled


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
