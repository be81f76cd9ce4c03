"""The ``order_tags`` rows: an order's tags as one row per (order, tag), kept in step with the
``tags`` list of ``orders`` by every writer of that list, in the writer's transaction.

The writers: the store (a new order, a newer platform version), the pipeline (a stage's
notes add tags — :func:`engine.orders.stages.add_tags`; a 缺货 hold that ends drops its tag) and
a person's cancellation (:mod:`engine.orders.order_cancel`). Each calls one of the functions
here with the list it wrote (or the tags it added or dropped). The list API and 订单 filter by
tag through :func:`tagged` (an index on ``(tag, order_pk)``) instead of scanning the JSON.

Owns the rows only; what a tag means belongs to whoever sets it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, delete, exists, insert, select
from sqlalchemy.sql.elements import ColumnElement

from engine.orders.model import Order, OrderTag

__all__ = ["add_tag_rows", "drop_tag_rows", "tagged", "write_tags"]

_T = cast(Table, OrderTag.__table__)
_ADD = insert(_T)
_DROP = delete(_T).where(_T.c.order_pk == bindparam("pk"), _T.c.tag == bindparam("t"))


def _clean(tags: Iterable[Any]) -> list[str]:
    """The distinct text tags, in order (a list as stored may hold duplicates or non-text)."""
    return list(dict.fromkeys(t for t in tags if isinstance(t, str) and t))


def write_tags(conn: Connection, orders: Sequence[tuple[int, Iterable[Any]]], *, new: bool = False) -> None:
    """Make the rows of each ``(order pk, tags)`` exactly ``tags`` (``new``: orders just
    inserted, which have no rows yet)."""
    if not orders:
        return
    if not new:
        conn.execute(delete(_T).where(_T.c.order_pk.in_([pk for pk, _ in orders])))
    rows = [{"order_pk": pk, "tag": t} for pk, tags in orders for t in _clean(tags)]
    if rows:
        conn.execute(_ADD, rows)


def add_tag_rows(conn: Connection, pk: int, added: Iterable[Any]) -> None:
    """Rows for tags just added to order ``pk``'s list (tags it did not have)."""
    rows = [{"order_pk": pk, "tag": t} for t in _clean(added)]
    if rows:
        conn.execute(_ADD, rows)


def drop_tag_rows(conn: Connection, pk: int, tag: str) -> None:
    """Order ``pk`` no longer has ``tag``."""
    conn.execute(_DROP, {"pk": pk, "t": tag})


def tagged(tag: str) -> ColumnElement[bool]:
    """A condition on ``orders``: the order has ``tag`` (an index lookup on ``order_tags``)."""
    return exists(select(_T.c.order_pk).where(_T.c.tag == tag, _T.c.order_pk == Order.id))
