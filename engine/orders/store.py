"""Storing orders: the upsert by (channel, order_id) with the version rule, the raw payload as
received, the lines and the timeline, in one transaction; and parking payloads whose mapping
failed.

The version rule: an order whose platform ``updated_at`` is newer than the stored one replaces
it (lines rewritten, a timeline entry with the field-level diff); an equal one is an
idempotent no-op (``unchanged``) and an older one changes nothing (``stale``); both answer what
is stored. Safe under concurrency on both back ends: on SQLite the transaction takes the write
lock at BEGIN; on PostgreSQL a new order is claimed with ``INSERT … ON CONFLICT DO NOTHING`` and
an existing one is read ``FOR NO KEY UPDATE`` (a racing twin waits on the row, then sees the
winner's version; a row that only references the order, a shipment, does not wait), keys taken
in sorted order. :func:`store_orders` stores many orders in one transaction
(pulls, imports) and still answers per order.

The same transaction writes the order's ``order_pipeline`` row (:mod:`engine.orders.pipeline_rows`:
ready from the first stage on creation, ready again on a newer revision), so no stored order
can miss its stages. The ``status`` column is ours: a newer version's platform status that is
behind it (our hold, our shipment) changes nothing (:func:`merge_platform_status`); the
document keeps what the platform said.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import OperationalError

from engine.analytics.deviation_counts import refresh_orders as refresh_deviation
from engine.analytics.return_reason_counts import refresh_order_tickets as refresh_reason_tickets
from engine.fulfillment.presale_counts import refresh_orders as refresh_presale
from engine.orders import document, pipeline_rows
from engine.orders.model import (
    Order,
    OrderEvent,
    OrderLine,
    OrderPayload,
    ParkedPayload,
)
from engine.orders.order_status import merge_platform_status
from engine.orders.order_tags import write_tags
from engine.orders.priced_lines import carry_priced_lines
from engine.storage.db import Database

__all__ = [
    "Incoming",
    "MissingVersion",
    "ParkedAt",
    "Stored",
    "park_payload",
    "resolve_parked",
    "store_order",
    "store_orders",
]

_ORDERS = cast(Table, Order.__table__)
_LINES = cast(Table, OrderLine.__table__)
_PAYLOADS = cast(Table, OrderPayload.__table__)
_EVENTS = cast(Table, OrderEvent.__table__)
_PARKED = cast(Table, ParkedPayload.__table__)


class MissingVersion(ValueError):
    """An order without ``channel``, ``order_id`` or a time to version it by."""


@dataclass(frozen=True)
class Incoming:
    """One order to store: its normalized form (Python form), the payload as received, and
    where it came from. ``dropped`` is ``(rule, by)`` when a cleaning dropped it."""

    order: Mapping[str, Any]
    source: str
    via: str
    payload: Any = None
    actor: str = ""
    mapping: str | None = None
    ruleset: str | None = None
    ruleset_version: int | None = None
    dropped: tuple[str, str] | None = None


@dataclass(frozen=True)
class Stored:
    """What storing one order did: ``created``, ``updated``, ``unchanged`` or ``stale``, and
    the order as stored afterwards (JSON form)."""

    outcome: str
    order_pk: int
    channel: str
    order_id: str
    revision: int
    doc: dict[str, Any] | None
    changes: list[dict[str, Any]] = field(default_factory=list)
    dropped: tuple[str, str] | None = None


@dataclass
class _Prepared:
    index: int
    item: Incoming
    doc: dict[str, Any]
    channel: str
    order_id: str
    version: datetime
    digest: str
    payload: Any

    @property
    def key(self) -> tuple[str, str]:
        return (self.channel, self.order_id)


def _prepare(index: int, item: Incoming) -> _Prepared:
    order = item.order
    channel, order_id = order.get("channel"), order.get("order_id")
    if not channel or not order_id:
        raise MissingVersion("an order needs channel and order_id")
    version = order.get("updated_at")
    if not isinstance(version, datetime):
        raise MissingVersion(f"order {channel}/{order_id} has no updated_at (the platform's modified time)")
    doc = document.to_json(order)
    payload = doc if item.payload is None else item.payload
    return _Prepared(index, item, doc, str(channel), str(order_id), version, document.digest(payload), payload)


def _columns(p: _Prepared) -> dict[str, Any]:
    order = p.item.order
    receiver = order.get("receiver") or {}
    dropped = p.item.dropped
    return {
        "channel": p.channel, "order_id": p.order_id, "shop": str(order.get("shop") or ""),
        "status": str(order.get("status") or ""),
        "created_at": order.get("created_at") or order.get("paid_at") or p.version,
        "updated_at": p.version, "paid_at": order.get("paid_at"),
        "promised_ship_at": order.get("promised_ship_at"),
        "buyer_phone": (str(order["buyer_phone"])[:32] if order.get("buyer_phone") else None),
        "phone_tail": document.phone_tail(order),
        "province": receiver.get("province"), "city": receiver.get("city"), "district": receiver.get("district"),
        "adcode": receiver.get("adcode"), "total": document.order_total(order),
        "freight": int(order.get("freight") or 0), "tags": list(order.get("tags") or []), "doc": p.doc,
        "source": p.item.source, "via": p.item.via, "mapping": p.item.mapping, "ruleset": p.item.ruleset,
        "ruleset_version": p.item.ruleset_version,
        "dropped_rule": dropped[0] if dropped else None, "dropped_by": dropped[1] if dropped else None,
    }


def _line_rows(order_pk: int, order: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for no, line in enumerate(order.get("lines") or ()):
        rows.append({
            "order_pk": order_pk, "line_no": no, "line_id": _text(line.get("line_id")),
            "sku_id": _text(line.get("sku_id")), "platform_sku_id": _text(line.get("platform_sku_id")),
            "title": _text(line.get("title")), "qty": int(line.get("qty") or 0),
            "unit_price": line.get("unit_price"), "amount": line.get("amount"),
            "paid_amount": line.get("paid_amount"),
        })
    return rows


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _actor(item: Incoming) -> str:
    return item.actor or f"{item.via}:{item.source}"


def _dialect_insert(conn: Connection, table: Any) -> Any:
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


_statements: dict[tuple[str, str], Any] = {}


def _statement(conn: Connection, name: str) -> Any:
    """The hot statements, built once per dialect (building one costs more than running it)."""
    key = (conn.dialect.name, name)
    found = _statements.get(key)
    if found is None:
        if name == "claim_orders":
            found = (_dialect_insert(conn, _ORDERS).on_conflict_do_nothing(index_elements=["channel", "order_id"])
                     .returning(_ORDERS.c.id, _ORDERS.c.channel, _ORDERS.c.order_id))
        elif name == "add_payloads":
            found = (_dialect_insert(conn, _PAYLOADS).on_conflict_do_nothing(index_elements=["order_pk", "digest"])
                     .returning(_PAYLOADS.c.id, _PAYLOADS.c.order_pk))
        elif name.endswith(":ids"):
            table = _ORDERS if name.startswith("claim_orders") else _PAYLOADS
            found = text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                         "FROM generate_series(1, :n)")
        elif name.endswith(":pg"):
            table, index = ((_ORDERS, ["channel", "order_id"]) if name.startswith("claim_orders")
                            else (_PAYLOADS, ["order_pk", "digest"]))
            found = pg_insert(table).on_conflict_do_nothing(index_elements=index)
        elif name.endswith(":won"):
            table = _ORDERS if name.startswith("claim_orders") else _PAYLOADS
            cols = (table.c.id, table.c.channel, table.c.order_id) if table is _ORDERS else (
                table.c.id, table.c.order_pk)
            found = select(*cols).where(table.c.id == func.any(bindparam("ids", type_=ARRAY(BigInteger))))
        elif name == "add_lines":
            found = insert(_LINES)
        elif name == "add_events":
            found = insert(_EVENTS)
        else:
            raise KeyError(name)
        _statements[key] = found
    return found


def store_orders(db: Database, items: Sequence[Incoming], *, now: datetime, attempts: int = 5,
                 dry_run: bool = False, with_docs: bool = False) -> list[Stored]:
    """Store ``items`` in one transaction; one :class:`Stored` per item, in the given order.
    A PostgreSQL deadlock between two batches is retried (the whole batch, as one unit).
    ``dry_run`` answers the same and rolls everything back. ``Stored.doc`` of an order left
    unchanged or stale is what is stored with ``with_docs``, else None."""
    prepared = [_prepare(i, item) for i, item in enumerate(items)]
    for attempt in range(1, attempts + 1):
        try:
            with db.transaction(immediate=True) as session:
                stored = _store(session.connection(), prepared, now, with_docs)
                if dry_run:
                    session.rollback()
                return stored
        except OperationalError as exc:
            if attempt == attempts or "deadlock" not in str(exc).lower():
                raise
            time.sleep(0.01 * attempt)
    raise AssertionError("unreachable")


def store_order(db: Database, item: Incoming, *, now: datetime) -> Stored:
    """Store one order (see :func:`store_orders`); the answer carries the order as stored."""
    return store_orders(db, [item], now=now, with_docs=True)[0]


def _store(conn: Connection, prepared: list[_Prepared], now: datetime, with_docs: bool) -> list[Stored]:
    results: list[Stored | None] = [None] * len(prepared)
    # Rounds: the first item of each key, then the second of each, … (a batch may carry two
    # versions of one order; the later one sees the earlier one stored).
    pending = sorted(prepared, key=lambda p: (p.key, p.index))
    while pending:
        this_round: dict[tuple[str, str], _Prepared] = {}
        later: list[_Prepared] = []
        for p in pending:
            if p.key in this_round:
                later.append(p)
            else:
                this_round[p.key] = p
        for stored, p in _store_round(conn, list(this_round.values()), now, with_docs):
            results[p.index] = stored
        pending = later
    done = [r for r in results if r is not None]
    # the fulfillment deviation and presale counters move with the versions, in this transaction
    moved = [r.order_pk for r in done if r.outcome in ("created", "updated")]
    refresh_deviation(conn, moved)
    refresh_presale(conn, moved)
    return done


def _store_round(conn: Connection, batch: list[_Prepared], now: datetime,
                 with_docs: bool) -> list[tuple[Stored, _Prepared]]:
    out: list[tuple[Stored, _Prepared]] = []
    existing = _lock_existing(conn, [p.key for p in batch])
    new = [p for p in batch if p.key not in existing]
    if new:
        created, lost = _insert_new(conn, new, now)
        out.extend(created)
        if lost:  # a concurrent writer created them first: they are updates now
            existing.update(_lock_existing(conn, [p.key for p in lost]))
    older = [p for p in batch if p.key in existing]
    wanted = [existing[p.key].id for p in older if with_docs or p.version > existing[p.key].updated_at]
    docs = _docs(conn, wanted)
    for p in older:
        row = existing[p.key]
        out.append((_apply_version(conn, p, row, docs.get(row.id), now), p))
    return out


def _docs(conn: Connection, pks: list[int]) -> dict[int, Any]:
    if not pks:
        return {}
    stmt = _statements.get(("", "docs"))
    if stmt is None:
        stmt = _statements[("", "docs")] = select(_ORDERS.c.id, _ORDERS.c.doc).where(
            _ORDERS.c.id.in_(bindparam("pks", expanding=True)))
    return {r.id: r.doc for r in conn.execute(stmt, {"pks": pks})}


_EXISTING_COLS = (_ORDERS.c.id, _ORDERS.c.channel, _ORDERS.c.order_id, _ORDERS.c.updated_at, _ORDERS.c.revision,
                  _ORDERS.c.status, _ORDERS.c.dropped_rule, _ORDERS.c.dropped_by, _ORDERS.c.tags)


def _one_existing(conn: Connection) -> Any:
    key = (conn.dialect.name, "one_existing")
    found = _statements.get(key)
    if found is None:
        found = select(*_EXISTING_COLS).where(_ORDERS.c.channel == bindparam("c"),
                                              _ORDERS.c.order_id == bindparam("o"))
        if conn.dialect.name == "postgresql":
            found = found.with_for_update(key_share=True)
        _statements[key] = found
    return found


def _lock_existing(conn: Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    """The stored rows of ``keys`` (locked FOR NO KEY UPDATE on PostgreSQL, in key order)."""
    found: dict[tuple[str, str], Any] = {}
    if len(keys) == 1:
        for row in conn.execute(_one_existing(conn), {"c": keys[0][0], "o": keys[0][1]}):
            found[(row.channel, row.order_id)] = row
        return found
    for start in range(0, len(keys), 500):
        chunk = sorted(keys[start:start + 500])
        stmt = (select(*_EXISTING_COLS).where(tuple_(_ORDERS.c.channel, _ORDERS.c.order_id).in_(chunk))
                .order_by(_ORDERS.c.channel, _ORDERS.c.order_id))
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update(key_share=True)
        for row in conn.execute(stmt):
            found[(row.channel, row.order_id)] = row
    return found


def _insert_new(conn: Connection, new: list[_Prepared], now: datetime
                ) -> tuple[list[tuple[Stored, _Prepared]], list[_Prepared]]:
    rows = []
    for p in new:
        cols = _columns(p)
        cols.update(revision=1, stored_at=now, changed_at=now)
        rows.append(cols)
    ids = _claim(conn, rows, _ORDERS, "claim_orders", ("channel", "order_id"))
    won = [p for p in new if p.key in ids]
    lost = [p for p in new if p.key not in ids]
    if not won:
        return [], lost
    lines = [row for p in won for row in _line_rows(ids[p.key], p.item.order)]
    if lines:
        conn.execute(_statement(conn, "add_lines"), lines)
    tags = {(r["channel"], r["order_id"]): r["tags"] for r in rows if r["tags"]}
    write_tags(conn, [(ids[p.key], tags[p.key]) for p in won if p.key in tags], new=True)
    pipeline_rows.add_created(conn, [ids[p.key] for p in won], now)
    payload_ids = _insert_payloads(conn, [(ids[p.key], p) for p in won], now)
    events = []
    created: list[tuple[Stored, _Prepared]] = []
    for p in won:
        pk = ids[p.key]
        dropped = p.item.dropped
        detail: dict[str, Any] = {"status": p.doc.get("status"), "updated_at": p.doc.get("updated_at")}
        if dropped:
            detail["dropped"] = {"rule": dropped[0], "by": dropped[1]}
        events.append(_event(pk, 1, "dropped" if dropped else "created", p, payload_ids.get(pk), [], detail, now))
        created.append((Stored("created", pk, p.channel, p.order_id, 1, p.doc, [], dropped), p))
    conn.execute(_statement(conn, "add_events"), events)
    return created, lost


def _insert_payloads(conn: Connection, owners: list[tuple[int, _Prepared]], now: datetime) -> dict[int, int]:
    rows = [{"order_pk": pk, "source": p.item.source, "via": p.item.via, "received_at": now,
             "version_at": p.version, "digest": p.digest, "payload": p.payload} for pk, p in owners]
    got = {key[0]: pk for key, pk in _claim(conn, rows, _PAYLOADS, "add_payloads", ("order_pk",)).items()}
    missing = [(pk, p) for pk, p in owners if pk not in got]
    for pk, p in missing:  # the same payload came before (e.g. a re-sent newer version)
        got[pk] = conn.execute(select(_PAYLOADS.c.id).where(_PAYLOADS.c.order_pk == pk,
                                                             _PAYLOADS.c.digest == p.digest)).scalar_one()
    return got


def _claim(conn: Connection, rows: list[dict[str, Any]], table: Table, name: str,
           key: tuple[str, ...]) -> dict[tuple[Any, ...], int]:
    """Insert ``rows`` unless their unique key exists; ``{key: id}`` of the rows inserted.

    SQLite: one multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING``. PostgreSQL: the ids
    are drawn from the table's sequence first and the rows sent with ``executemany`` (short
    statements the driver prepares once; a multi-row VALUES text is parsed again on every
    call), then the ids that went in are read back."""
    if conn.dialect.name != "postgresql":
        return {tuple(getattr(r, k) for k in key): r.id for r in conn.execute(_statement(conn, name), rows)}
    ids = conn.execute(_statement(conn, f"{name}:ids"), {"n": len(rows)}).scalars().all()
    for row, pk in zip(rows, ids):
        row["id"] = pk
    conn.execute(_statement(conn, f"{name}:pg"), rows)
    found = conn.execute(_statement(conn, f"{name}:won"), {"ids": list(ids)})
    return {tuple(getattr(r, k) for k in key): r.id for r in found}


def _event(pk: int, revision: int, kind: str, p: _Prepared, payload_id: int | None,
           changes: list[dict[str, Any]], detail: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"order_pk": pk, "revision": revision, "kind": kind, "at": now, "actor": _actor(p.item),
            "payload_id": payload_id, "changes": changes, "detail": detail,
            "ruleset": p.item.ruleset, "ruleset_version": p.item.ruleset_version}


def _cancelled_here(conn: Connection, row: Any, incoming: str) -> bool:
    """Whether a person of ours cancelled this order (asked only when the platform says it lives)."""
    if row.status != "cancelled" or incoming == "cancelled":
        return False
    found = conn.execute(select(OrderEvent.id).where(OrderEvent.order_pk == row.id, OrderEvent.kind == "cancelled")
                         .limit(1)).first()
    return found is not None


def _tag_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def tags_of_version(stored: Any, old_doc: Any, incoming: list[Any]) -> list[Any]:
    """An order's tags after a newer platform version: the version's own (its cleaning rules'),
    then each tag the stored order has that its previous version did not bring — what the
    pipeline added (缺货, 价格异常) or a person did outlives the new version."""
    brought = _tag_list(old_doc.get("tags") if isinstance(old_doc, dict) else None)
    return [*incoming, *(t for t in _tag_list(stored) if t not in brought and t not in incoming)]


def _apply_version(conn: Connection, p: _Prepared, row: Any, old_doc: Any, now: datetime) -> Stored:
    stored_dropped = (row.dropped_rule, row.dropped_by) if row.dropped_rule is not None else None
    if p.version <= row.updated_at:
        outcome = "unchanged" if p.version == row.updated_at else "stale"
        return Stored(outcome, row.id, p.channel, p.order_id, row.revision, old_doc, [], stored_dropped)
    # what the price stage added (gift lines, computed paid shares) outlives the new version
    carried = carry_priced_lines(old_doc, p.doc)
    lines_of: Mapping[str, Any] = p.item.order
    if carried is not p.doc:
        p.doc = lines_of = carried
    changes = document.diff(old_doc, p.doc)
    revision = row.revision + 1
    cols = _columns(p)
    # the status column is ours: a platform status behind it (our hold, our shipment) is stale
    cols.update(revision=revision, changed_at=now, status=merge_platform_status(
        row.status, cols["status"], cancelled_here=_cancelled_here(conn, row, cols["status"])))
    cols["tags"] = tags_of_version(row.tags, old_doc, cols["tags"])
    conn.execute(update(_ORDERS).where(_ORDERS.c.id == row.id), cols)
    write_tags(conn, [(row.id, cols["tags"])])
    pipeline_rows.refresh_revised(conn, row.id, row.revision, old_doc, now)
    conn.execute(delete(_LINES).where(_LINES.c.order_pk == row.id))
    lines = _line_rows(row.id, lines_of)
    if lines:
        conn.execute(_statement(conn, "add_lines"), lines)
    payload_id = _insert_payloads(conn, [(row.id, p)], now)[row.id]
    dropped = p.item.dropped
    if (dropped is None) != (stored_dropped is None):  # its refund tickets leave or rejoin the return reasons
        refresh_reason_tickets(conn, [row.id])
    detail: dict[str, Any] = {"status": p.doc.get("status"), "updated_at": p.doc.get("updated_at")}
    kind = "updated"
    if dropped and not stored_dropped:
        kind = "dropped"
        detail["dropped"] = {"rule": dropped[0], "by": dropped[1]}
    elif stored_dropped and not dropped:
        kind = "undropped"
        detail["undropped"] = {"rule": stored_dropped[0], "by": stored_dropped[1]}
    conn.execute(_statement(conn, "add_events"), [_event(row.id, revision, kind, p, payload_id, changes, detail, now)])
    return Stored("updated", row.id, p.channel, p.order_id, revision, p.doc, changes, dropped)


# --------------------------------------------------------------------------- parked payloads


@dataclass(frozen=True)
class ParkedAt:
    """Where a payload failed its mapping."""

    mapping: str | None
    message: str
    path: str | None = None
    line: int | None = None


def park_payload(db: Database, *, source: str, via: str, payload: Any, failure: ParkedAt, now: datetime) -> int:
    """Keep a payload whose mapping failed (one row per source and digest: the same payload
    parked again counts an attempt); returns the parked row's id."""
    key = document.digest(payload)
    with db.transaction(immediate=True) as session:
        conn = session.connection()
        stmt = (_dialect_insert(conn, _PARKED)
                .values(source=source, via=via, digest=key, payload=payload, status="parked",
                        mapping=failure.mapping, error=failure.message, error_path=failure.path,
                        error_line=failure.line, attempts=1, received_at=now, last_attempt_at=now))
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "digest"],
            set_={"status": "parked", "attempts": _PARKED.c.attempts + 1, "last_attempt_at": now,
                  "error": failure.message, "error_path": failure.path, "error_line": failure.line,
                  "mapping": failure.mapping},
        ).returning(_PARKED.c.id)
        return int(conn.execute(stmt).scalar_one())


def resolve_parked(db: Database, parked_id: int, order_pk: int | None, *, now: datetime) -> None:
    """Mark a parked payload as taken in (its retry mapped it)."""
    with db.transaction() as session:
        session.execute(update(_PARKED).where(_PARKED.c.id == parked_id)
                        .values(status="resolved", order_pk=order_pk, last_attempt_at=now))
