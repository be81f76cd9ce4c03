"""The ``order_tags`` rows: an order's tags as one row per (order, tag), kept in step with the
``tags`` list of ``orders`` by every writer of that list, in the writer's transaction.

The writers: the store (a new order, a newer platform version), the pipeline (a stage's
notes add tags — :func:`engine.orders.stages.add_tags`; a 缺货 hold that ends drops its tag) and
a person's cancellation (:mod:`engine.orders.order_cancel`). Each calls one of the functions
here with the list it wrote (or the tags it added or dropped), after writing ``orders``: a row
copies the order's ``created_at`` from there, so the index ``(tag, created_at, order_pk)``
walks a tag's orders newest first, as the order list pages them (:func:`tag_page`).

Owns the rows only; what a tag means belongs to whoever sets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Select, Table, and_, bindparam, delete, exists, insert, select
from sqlalchemy.sql.elements import ColumnElement

from engine.orders.model import Order, OrderTag

__all__ = ["TAGS", "add_tag_rows", "drop_tag_rows", "tag_page", "tagged", "write_tags"]

TAGS = cast(Table, OrderTag.__table__)
_O = cast(Table, Order.__table__)
# one row, its created_at read from the order as it stands in this transaction
_ADD = insert(TAGS).from_select(
    ["order_pk", "tag", "created_at"],
    select(_O.c.id, bindparam("tag", type_=TAGS.c.tag.type), _O.c.created_at).where(_O.c.id == bindparam("pk")))
_DROP = delete(TAGS).where(TAGS.c.order_pk == bindparam("pk"), TAGS.c.tag == bindparam("tag"))


def _clean(tags: Iterable[Any]) -> list[str]:
    """The distinct text tags, in order (a list as stored may hold duplicates or non-text)."""
    return list(dict.fromkeys(t for t in tags if isinstance(t, str) and t))


def write_tags(conn: Connection, orders: Sequence[tuple[int, Iterable[Any]]], *, new: bool = False) -> None:
    """Make the rows of each ``(order pk, tags)`` exactly ``tags`` (``new``: orders just
    inserted, which have no rows yet). Call after writing the ``orders`` rows."""
    if not orders:
        return
    if not new:
        conn.execute(delete(TAGS).where(TAGS.c.order_pk.in_([pk for pk, _ in orders])))
    rows = [{"pk": pk, "tag": t} for pk, tags in orders for t in _clean(tags)]
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


def tagged(tag: str) -> ColumnElement[bool]:
    """A condition on ``orders``: the order has ``tag`` (a primary-key probe of ``order_tags``)."""
    return exists(select(TAGS.c.order_pk).where(TAGS.c.order_pk == Order.id, TAGS.c.tag == tag))


def tag_page(stmt: Select[Any], tag: str) -> tuple[Select[Any], Any, Any]:
    """``stmt`` (a select from ``orders``) driven by the rows of ``tag``: the statement and the
    columns to page on (the tag rows' ``created_at`` and ``order_pk``, the index's order)."""
    joined = stmt.join(TAGS, and_(TAGS.c.order_pk == Order.id, TAGS.c.tag == tag))
    return joined, TAGS.c.created_at, TAGS.c.order_pk
