"""The statements every set of maintained counters builds the same way, per back end.

Owns their shape only, not what counts: an upsert of per-item rows (a newer derivation replaces
the stored one), an additive upsert of counters (a delta adds to the stored figures, a new
counter starts at the delta), the delete of the items that stopped counting, and a cache that
builds each named statement once per back end (refreshes run in every store transaction);
:func:`write_changes` runs the three as a refresh ends.
Used by the deviation, presale, return-reason, hourly and district counters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

__all__ = ["StatementCache", "add_counts", "delete_items", "dialect_insert", "replace_rows", "write_changes"]


def dialect_insert(dialect: str, table: Any) -> Any:
    """``INSERT`` with ``ON CONFLICT`` for ``dialect`` (``postgresql`` or ``sqlite``)."""
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


def replace_rows(dialect: str, table: Any, key: Sequence[str], columns: Sequence[str]) -> Any:
    """Insert rows; a row whose ``key`` is stored replaces its ``columns``."""
    ins = dialect_insert(dialect, table)
    return ins.on_conflict_do_update(index_elements=list(key), set_={c: ins.excluded[c] for c in columns})


def add_counts(dialect: str, table: Any, key: Sequence[str], counts: Sequence[str]) -> Any:
    """Insert counters; a counter whose ``key`` is stored adds the row's ``counts`` to its own."""
    ins = dialect_insert(dialect, table)
    return ins.on_conflict_do_update(index_elements=list(key),
                                     set_={c: table.c[c] + ins.excluded[c] for c in counts})


def delete_items(table: Any, column: str) -> Any:
    """Delete the rows whose ``column`` is in the expanding parameter ``pks``."""
    return delete(table).where(table.c[column].in_(bindparam("pks", expanding=True)))


class StatementCache:
    """Named statements built once per back end by ``build(dialect, name)``."""

    def __init__(self, build: Callable[[str, str], Any]) -> None:
        self._build = build
        self._built: dict[tuple[str, str], Any] = {}

    def __call__(self, conn: Any, name: str) -> Any:
        key = (conn.dialect.name, name)
        found = self._built.get(key)
        if found is None:
            found = self._built[key] = self._build(conn.dialect.name, name)
        return found


def write_changes(conn: Any, statement: StatementCache, counts: list[dict[str, Any]], gone: list[int],
                  rows: list[dict[str, Any]]) -> None:
    """The end of a refresh: add the ``counts`` deltas, delete the items ``gone`` and store the
    ``rows`` derived anew, with the cache's ``counts``, ``gone`` and ``rows`` statements."""
    if counts:
        conn.execute(statement(conn, "counts"), counts)
    if gone:
        conn.execute(statement(conn, "gone"), {"pks": gone})
    if rows:
        conn.execute(statement(conn, "rows"), rows)
