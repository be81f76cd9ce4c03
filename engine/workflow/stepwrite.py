"""The writes of one transition, after its checks passed: the ticket (conditional on its
``version``), the history row, the cancelled deadline of the state it left, the deadline of the
state it entered, and its outbox rows — all in the caller's transaction.

On PostgreSQL they go in one statement — data-modifying CTEs, each reading the ticket's
conditional ``UPDATE … WHERE id = :id AND version = :seen RETURNING id`` — so a transition
costs one round trip instead of up to five. When another change won the race the ``UPDATE``
returns no row and none of the other writes happen (they select from it). Those statements are
built once per shape (deadline left / entered, number of outbox rows) and cached; values travel
as bound parameters with their column types. Elsewhere (SQLite, in-process and under the
writer lock) the same writes are prepared statements issued one after the other, the
conditional ``UPDATE`` first. Each statement is compiled once per dialect (:class:`Prepared`)
and its values processed the way SQLAlchemy's own execution does, which spares the per-call
compile-cache lookups of ``Connection.execute``. Either way :func:`write_step` answers how many tickets it advanced
(0 or 1); 0 means nothing was written.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, cast

from sqlalchemy import (
    Connection,
    CursorResult,
    Executable,
    Select,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    union_all,
    update,
)

from engine.storage.models import OutboxMessage
from engine.workflow.models import (
    WorkflowDeadline,
    WorkflowInstance,
    WorkflowTransition,
)

_INSTANCES = cast(Table, WorkflowInstance.__table__)
_TRANSITIONS = cast(Table, WorkflowTransition.__table__)
_DEADLINES = cast(Table, WorkflowDeadline.__table__)
_OUTBOX = cast(Table, OutboxMessage.__table__)

ADVANCE_COLUMNS = ("state", "data", "updated_at", "state_entered_at", "version", "closed", "closed_at",
                   "processing_seconds", "order_id")
HISTORY_COLUMNS = ("seq", "from_state", "to_state", "action", "actor", "actor_role", "at", "payload",
                   "ruleset_version", "idempotency_key", "seconds_in_state", "result")
DEADLINE_COLUMNS = ("state", "entry_seq", "due_at", "status", "outcome")
OUTBOX_COLUMNS = ("delivery_id", "topic", "payload", "status", "attempts", "max_attempts", "retry_schedule",
                  "next_attempt_at", "source", "ruleset_version", "created_at")

class Prepared:
    """A statement compiled once per dialect and set of parameter names, run with
    ``exec_driver_sql``. Values go through ``construct_params`` and the types' bind processors
    exactly as in ``Connection.execute``; a statement SQLAlchemy would have to add values to
    (Python-side column defaults, expanding parameters) is run the ordinary way. Results come
    back unprocessed: use it for writes and plain counts."""

    def __init__(self, stmt: Executable) -> None:
        self.stmt = stmt
        self._by_dialect: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], Any]] = weakref.WeakKeyDictionary()

    def _compiled(self, dialect: Any, keys: tuple[str, ...]) -> tuple[Any, bool]:
        per_keys = self._by_dialect.get(dialect)
        if per_keys is None:
            per_keys = self._by_dialect.setdefault(dialect, {})
        found = per_keys.get(keys)
        if found is None:
            compiled = self.stmt.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
            direct = not (compiled.insert_prefetch or compiled.update_prefetch or compiled.literal_execute_params
                          or compiled.post_compile_params)
            found = per_keys.setdefault(keys, (compiled, direct))
        return found

    def execute(self, conn: Connection, params: dict[str, Any] | list[dict[str, Any]]) -> CursorResult[Any]:
        rows = params if isinstance(params, list) else [params]
        compiled, direct = self._compiled(conn.dialect, tuple(rows[0]))
        if not direct:
            return conn.execute(self.stmt, params)
        processors = compiled._bind_processors
        order = compiled.positiontup
        out: list[Any] = []
        for row in rows:
            values = compiled.construct_params(row)
            for name, process in processors.items():
                values[name] = process(values[name])
            out.append(tuple(values[name] for name in order) if order is not None else values)
        return conn.exec_driver_sql(compiled.string, out if isinstance(params, list) else out[0])


_ADVANCE_STMT = (update(_INSTANCES)
                 .where(_INSTANCES.c.id == bindparam("b_id"), _INSTANCES.c.version == bindparam("b_seen"))
                 .values({c: bindparam(c) for c in ADVANCE_COLUMNS}))
_CANCEL_STMT = (update(_DEADLINES)
                .where(_DEADLINES.c.instance_id == bindparam("b_id"), _DEADLINES.c.status == "pending")
                .values(status="cancelled", outcome=bindparam("outcome")))
_ADVANCE = Prepared(_ADVANCE_STMT)
_CANCEL_DEADLINES = Prepared(_CANCEL_STMT)
_RECORD = Prepared(insert(_TRANSITIONS))
_START_DEADLINE = Prepared(insert(_DEADLINES))
OUTBOX_INSERT = Prepared(insert(_OUTBOX))


def insert_outbox(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """One statement for a step's outbox rows, in the order the effects were declared."""
    if rows:
        OUTBOX_INSERT.execute(conn, rows if len(rows) > 1 else rows[0])


_cache: dict[tuple[bool, bool, int], Prepared] = {}
_lock = threading.Lock()


def _params(table: Table, prefix: str, columns: tuple[str, ...]) -> list[Any]:
    return [bindparam(f"{prefix}{c}", type_=table.c[c].type) for c in columns]


def _build(cancel: bool, deadline: bool, outbox: int) -> Select[Any]:
    adv = (update(_INSTANCES)
           .where(_INSTANCES.c.id == bindparam("b_id"), _INSTANCES.c.version == bindparam("b_seen"))
           .values({c: bindparam(f"a_{c}", type_=_INSTANCES.c[c].type) for c in ADVANCE_COLUMNS})
           .returning(_INSTANCES.c.id)
           .cte("adv"))
    ctes: list[Any] = [
        insert(_TRANSITIONS).from_select(("instance_id", *HISTORY_COLUMNS),
                                         select(adv.c.id, *_params(_TRANSITIONS, "h_", HISTORY_COLUMNS)))
        .cte("history")]
    if cancel:
        ctes.append(update(_DEADLINES)
                    .where(_DEADLINES.c.instance_id.in_(select(adv.c.id)), _DEADLINES.c.status == "pending")
                    .values(status="cancelled", outcome=bindparam("c_outcome", type_=_DEADLINES.c.outcome.type))
                    .cte("cancelled"))
    if deadline:
        ctes.append(insert(_DEADLINES).from_select(("instance_id", *DEADLINE_COLUMNS),
                                                   select(adv.c.id, *_params(_DEADLINES, "d_", DEADLINE_COLUMNS)))
                    .cte("deadline"))
    if outbox:  # one INSERT, rows numbered in the order the effects were declared
        rows = union_all(*[select(*[p.label(c) for p, c in zip(_params(_OUTBOX, f"o{i}_", OUTBOX_COLUMNS),
                                                                 OUTBOX_COLUMNS, strict=True)],
                                  literal(i).label("ord")) for i in range(outbox)]).subquery("rows")
        ctes.append(insert(_OUTBOX).from_select(OUTBOX_COLUMNS,
                                                select(*[rows.c[c] for c in OUTBOX_COLUMNS])
                                                .where(select(adv.c.id).exists()).order_by(rows.c.ord))
                    .cte("outbox"))
    return select(func.count()).select_from(adv).add_cte(*ctes)


def statement(cancel: bool, deadline: bool, outbox: int) -> Prepared:
    key = (cancel, deadline, outbox)
    found = _cache.get(key)
    if found is None:
        with _lock:
            found = _cache.setdefault(key, Prepared(_build(*key)))
    return found


def write_step(conn: Connection, *, one_statement: bool, instance_id: int, seen: int, values: dict[str, Any],
               history: dict[str, Any], cancel_outcome: str | None, deadline: dict[str, Any] | None,
               outbox: list[dict[str, Any]]) -> int:
    """Advance ticket ``instance_id`` from version ``seen`` to ``values`` and write the step's
    rows (``history`` without ``instance_id``; ``cancel_outcome`` when the state left had a
    deadline; ``deadline`` without ``instance_id`` when the state entered has one). The number of
    tickets advanced: 0 when another change won the race, and then nothing was written.
    ``one_statement`` (PostgreSQL only) sends it all as one statement."""
    if one_statement:
        return _write_one_statement(conn, instance_id, seen, values, history, cancel_outcome, deadline, outbox)
    if _ADVANCE.execute(conn, {**values, "b_id": instance_id, "b_seen": seen}).rowcount != 1:
        return 0
    insert_outbox(conn, outbox)
    if cancel_outcome is not None:
        _CANCEL_DEADLINES.execute(conn, {"b_id": instance_id, "outcome": cancel_outcome})
    _RECORD.execute(conn, {"instance_id": instance_id, **history})
    if deadline is not None:
        _START_DEADLINE.execute(conn, {"instance_id": instance_id, **deadline})
    return 1


def _write_one_statement(conn: Connection, instance_id: int, seen: int, values: dict[str, Any],
                         history: dict[str, Any], cancel_outcome: str | None, deadline: dict[str, Any] | None,
                         outbox: list[dict[str, Any]]) -> int:
    params: dict[str, Any] = {"b_id": instance_id, "b_seen": seen}
    for c in ADVANCE_COLUMNS:
        params[f"a_{c}"] = values[c]
    for c in HISTORY_COLUMNS:
        params[f"h_{c}"] = history[c]
    if cancel_outcome is not None:
        params["c_outcome"] = cancel_outcome
    if deadline is not None:
        for c in DEADLINE_COLUMNS:
            params[f"d_{c}"] = deadline[c]
    for i, row in enumerate(outbox):
        for c in OUTBOX_COLUMNS:
            params[f"o{i}_{c}"] = row[c]
    stmt = statement(cancel_outcome is not None, deadline is not None, len(outbox))
    return int(stmt.execute(conn, params).scalar_one())
