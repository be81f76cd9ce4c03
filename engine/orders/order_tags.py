"""The ``order_tags`` rows: an order's tags as one row per (order, tag), kept in step with the
``tags`` list of ``orders`` by every writer of that list, in the writer's transaction.

The writers: the store (a new order, a newer platform version), the pipeline (a stage's
notes add tags — :func:`engine.orders.stages.add_tags`; a 缺货 hold that ends drops its tag) and
a person's cancellation (:mod:`engine.orders.order_cancel`). Each calls one of the functions
here with the list it wrote (or the tags it added or dropped), after writing ``orders``: a row
copies the order's ``created_at`` from there, so the index ``(tag, created_at, order_pk)``
walks a tag's orders newest first, as the order list pages them (:func:`tag_page`).

One row is not in the list: :data:`FLAGGED`, written with an order's first risk flag
(:func:`mark_flagged`, from :mod:`engine.risk.flags`), so the list's 风险 filter walks the
flagged orders alone instead of probing ``risk_flags`` for every order. Rewriting an order's
list keeps it (with the order's ``created_at`` read again); a list tag of the same text gets no row.

Owns the rows only; what a tag means belongs to whoever sets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, and_, bindparam, delete, exists, insert, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from engine.orders.model import Order, OrderTag

__all__ = ["FLAGGED", "TAGS", "add_tag_rows", "drop_tag_rows", "mark_flagged", "tag_page", "tagged", "write_tags"]

TAGS = cast(Table, OrderTag.__table__)
FLAGGED = "risk:flagged"  # the row of an order a risk rule flagged (never a tag of the list)
_O = cast(Table, Order.__table__)
# one row, its created_at read from the order as it stands in this transaction
_ADD = insert(TAGS).from_select(
    ["order_pk", "tag", "created_at"],
    select(_O.c.id, bindparam("tag", type_=TAGS.c.tag.type), _O.c.created_at).where(_O.c.id == bindparam("pk")))
_DROP = delete(TAGS).where(TAGS.c.order_pk == bindparam("pk"), TAGS.c.tag == bindparam("tag"))


def _clean(tags: Iterable[Any]) -> list[str]:
    """The distinct text tags, in order (a list as stored may hold duplicates or non-text)."""
    return list(dict.fromkeys(t for t in tags if isinstance(t, str) and t and t != FLAGGED))


def write_tags(conn: Connection, orders: Sequence[tuple[int, Iterable[Any]]], *, new: bool = False) -> None:
    """Make the rows of each ``(order pk, tags)`` exactly ``tags`` (``new``: orders just
    inserted, which have no rows yet). Call after writing the ``orders`` rows."""
    if not orders:
        return
    flagged: list[int] = []
    if not new:  # a flagged row goes back too, with the order's created_at as it stands now
        gone = conn.execute(delete(TAGS).where(TAGS.c.order_pk.in_([pk for pk, _ in orders]))
                            .returning(TAGS.c.order_pk, TAGS.c.tag))
        flagged = [pk for pk, tag in gone if tag == FLAGGED]
    rows = [{"pk": pk, "tag": t} for pk, tags in orders for t in _clean(tags)]
    rows += [{"pk": pk, "tag": FLAGGED} for pk in flagged]
    if rows:
        conn.execute(_ADD, rows)


def add_tag_rows(conn: Connection, pk: int, added: Iterable[Any]) -> None:
    """Rows for tags just added to order ``pk``'s list (tags it did not have)."""
    rows = [{"pk": pk, "tag": t} for t in _clean(added)]
    if rows:
        conn.execute(_ADD, rows)


def drop_tag_rows(conn: Connection, pk: int, tag: str) -> None:
    """Order ``pk`` no longer has ``tag``."""
    conn.execute(_DROP, {"pk": pk, "tag": tag})


def mark_flagged(conn: Connection, pk: int) -> None:
    """Order ``pk`` has a risk flag: its :data:`FLAGGED` row (once; a second flag adds none)."""
    ins = pg_insert(TAGS) if conn.dialect.name == "postgresql" else sqlite_insert(TAGS)
    conn.execute(ins.from_select(["order_pk", "tag", "created_at"],
                                 select(_O.c.id, literal(FLAGGED, TAGS.c.tag.type), _O.c.created_at)
                                 .where(_O.c.id == pk))
                 .on_conflict_do_nothing(index_elements=["order_pk", "tag"]))


def tagged(tag: str) -> ColumnElement[bool]:
    """A condition on ``orders``: the order has ``tag`` (a primary-key probe of ``order_tags``)."""
    return exists(select(TAGS.c.order_pk).where(TAGS.c.order_pk == Order.id, TAGS.c.tag == tag))


def tag_page(stmt: Select[Any], tag: str) -> tuple[Select[Any], Any, Any]:
    """``stmt`` (a select from ``orders``) driven by the rows of ``tag``: the statement and the
    columns to page on (the tag rows' ``created_at`` and ``order_pk``, the index's order)."""
    joined = stmt.join(TAGS, and_(TAGS.c.order_pk == Order.id, TAGS.c.tag == tag))
    return joined, TAGS.c.created_at, TAGS.c.order_pk
