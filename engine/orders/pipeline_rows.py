"""The store's part of the pipeline: the ``order_pipeline`` row written in the same transaction
as an order's creation or newer revision (so no stored order can miss its stages).

- :func:`add_created` — a new order: ``next_stage`` :data:`START` (the pipeline's first
  stage), ``ready`` now.
- :func:`refresh_revised` — a newer revision: the row becomes ``ready`` now, wherever it
  stands (held and done rows too: a cancellation must release a held order's stock), keeping
  its stage and holds; while the pipeline had caught up with the previous revision, that
  revision's document is kept as ``seen_doc`` for the follow-up. An order stored before the
  pipeline existed gets its row here.

Core statements built once per dialect; no business rule lives here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, case, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engine.orders.pipeline_model import OrderPipeline
from engine.storage.types import JSONType, UTCDateTime

__all__ = ["START", "add_created", "refresh_revised"]

START = "start"
_P = cast(Table, OrderPipeline.__table__)
_statements: dict[str, Any] = {}


def _row(pk: int, now: datetime) -> dict[str, Any]:
    return {"order_pk": pk, "next_stage": START, "status": "ready", "seen_revision": 0, "due_at": now,
            "attempts": 0, "updated_at": now}


def add_created(conn: Connection, pks: list[int], now: datetime) -> None:
    """One ready row per newly created order (one statement)."""
    if pks:
        stmt = _statements.get("insert")
        if stmt is None:
            stmt = _statements["insert"] = insert(_P)
        conn.execute(stmt, [_row(pk, now) for pk in pks])


def refresh_revised(conn: Connection, pk: int, old_revision: int, old_doc: Any, now: datetime) -> None:
    """Make the order's row ready for its newer revision (created when missing)."""
    dialect = conn.dialect.name
    stmt = _statements.get(dialect)
    if stmt is None:
        at = bindparam("now", type_=UTCDateTime())
        ins = (pg_insert if dialect == "postgresql" else sqlite_insert)(_P).values(
            order_pk=bindparam("pk"), next_stage=START, status="ready", seen_revision=0, due_at=at, attempts=0,
            updated_at=at)
        stmt = _statements[dialect] = ins.on_conflict_do_update(index_elements=["order_pk"], set_={
            "status": "ready", "due_at": ins.excluded.due_at, "updated_at": ins.excluded.updated_at,
            "seen_doc": case((_P.c.seen_revision == bindparam("old_revision"),
                              bindparam("old_doc", type_=JSONType)), else_=_P.c.seen_doc)})
    conn.execute(stmt, {"pk": pk, "now": now, "old_revision": old_revision, "old_doc": old_doc})
