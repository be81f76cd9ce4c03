"""Importing order history from the platforms' seller-centre exports (CSV or Excel).

Each row becomes a dict keyed by the export's (Chinese) header and goes through a published
export mapping (e.g. ``taobao_export``) and the published cleaning; rows that map to the same
order (exports with one row per line) are merged into one order with all their lines. Orders
are stored in batches through the same versioned upsert as pulls, so re-running an import
changes nothing. The report says what was imported, updated, left as it was, dropped as a test
order (with the rule) and refused (row, column, reason). ``dry_run`` stores everything in one
transaction and rolls it back: the report is exact, the store unchanged.

CSV: UTF-8 (with or without BOM), else GB18030 (what Excel saves for Chinese exports); the
exports' ``="…"`` text guards are removed. Excel: the first sheet, read with openpyxl
(read-only); times become ``yyyy-MM-dd HH:mm:ss`` text and numbers their shortest text, as in CSV.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.orders import store
from engine.orders.intake import map_payload, report
from engine.orders.published import MappingRef, PublishedRules, published_rules

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["BATCH", "ImportFileError", "ImportReport", "Refused", "import_file", "read_rows"]

BATCH = 500
_GUARD = re.compile(r'^="(.*)"$', re.DOTALL)
_PATH_HEAD = re.compile(r"""^\$(?:\.([^.\[]+)|\[['"](.+?)['"]\])""")


class ImportFileError(Exception):
    """A file that cannot be read as an export (unknown type, no header, unreadable)."""


@dataclass(frozen=True)
class Refused:
    row: int
    column: str | None
    reason: str


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    dropped: list[tuple[int, str, str]] = field(default_factory=list)  # (row, order_id, rule)
    refused: list[Refused] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        head = "dry run (nothing stored): " if self.dry_run else ""
        summary = (f"{head}{self.rows} rows: {self.imported} imported, {self.updated} updated, "
                   f"{self.unchanged + self.stale} already stored, {len(self.dropped)} dropped as test orders, "
                   f"{len(self.refused)} refused")
        out = [summary]
        out += [f"  dropped row {row}: order {oid} (rule: {rule})" for row, oid, rule in self.dropped]
        out += [f"  refused row {r.row}" + (f", column {r.column}" if r.column else "") + f": {r.reason}"
                for r in self.refused]
        return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = str(value).strip()
    guarded = _GUARD.match(text)
    return guarded.group(1).strip() if guarded else text


def _csv_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"{path.name}: neither UTF-8 nor GB18030 text (byte {exc.start})") from None


def _rows_of(header: list[str], rows: Iterator[list[Any]], first: int) -> Iterator[tuple[int, dict[str, str]]]:
    names = [_cell(h) for h in header]
    if not any(names):
        raise ImportFileError("the first row holds no column names")
    for number, values in enumerate(rows, start=first):
        cells = [_cell(v) for v in values]
        if not any(cells):
            continue
        yield number, {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(names) if name}


def read_rows(path: str | Path) -> tuple[int, Iterator[tuple[int, dict[str, str]]]]:
    """``(data rows, iterator of (spreadsheet row number, row dict))`` of a CSV or XLSX export."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        table = list(csv.reader(io.StringIO(_csv_text(path), newline="")))
        if not table:
            raise ImportFileError(f"{path.name} is empty")
        return len(table) - 1, _rows_of(table[0], iter(table[1:]), 2)
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a bad file
            raise ImportFileError(f"{path.name} is not a readable Excel workbook ({exc})") from None
        sheet = book.worksheets[0]
        values = [list(r) for r in sheet.iter_rows(values_only=True)]
        book.close()
        if not values:
            raise ImportFileError(f"{path.name} has an empty first sheet")
        return len(values) - 1, _rows_of(values[0], iter(values[1:]), 2)
    raise ImportFileError(f"{path.name}: import takes .csv or .xlsx files")


def _column_of(path: str | None) -> str | None:
    if not path:
        return None
    found = _PATH_HEAD.match(path)
    return (found.group(1) or found.group(2)) if found else None


def _merge(first: store.Incoming, more: store.Incoming) -> store.Incoming:
    """Two rows of one order: the lines of the second appended to the first."""
    order = dict(first.order)
    order["lines"] = list(order.get("lines") or []) + list(more.order.get("lines") or [])
    payload = first.payload if isinstance(first.payload, list) else [first.payload]
    return store.Incoming(order, first.source, first.via, [*payload, more.payload], first.actor, first.mapping,
                          first.ruleset, first.ruleset_version, first.dropped)


def import_file(services: Services, path: str | Path, *, mapping: str, dry_run: bool = False,
                progress: Callable[[str, int, int], None] | None = None,
                rules: PublishedRules | None = None, ref: MappingRef | None = None) -> ImportReport:
    """Import an export file with the published mapping ``mapping``; see the module docstring.
    ``progress(stage, done, total)`` is called as rows are mapped and orders stored."""
    rules = rules or published_rules(services)
    ref = ref or rules.mapping(mapping)
    total, rows = read_rows(path)
    result = ImportReport(rows=0, dry_run=dry_run)
    orders: dict[tuple[str, str], tuple[int, store.Incoming]] = {}
    for number, row in rows:
        result.rows += 1
        mapped = map_payload(rules, ref, row, source=mapping, via="import", actor="import")
        if isinstance(mapped, store.ParkedAt):
            result.refused.append(Refused(number, _column_of(mapped.path), mapped.message))
        else:
            key = (str(mapped.order["channel"]), str(mapped.order["order_id"]))
            seen = orders.get(key)
            orders[key] = (number, mapped) if seen is None else (seen[0], _merge(seen[1], mapped))
        if progress and result.rows % 100 == 0:
            progress("map", result.rows, total)
    if progress:
        progress("map", result.rows, total)
    items = list(orders.values())
    batches = [items] if dry_run else [items[i:i + BATCH] for i in range(0, len(items), BATCH)]
    done = 0
    for batch in batches:
        stored = store.store_orders(services.db, [inc for _, inc in batch], now=services.clock.now(),
                                    dry_run=dry_run)
        kinds = ([o.outcome for o in report(stored, source=mapping, via="import")] if not dry_run else
                 ["dropped" if s.outcome in ("created", "updated") and s.dropped else s.outcome for s in stored])
        for (number, _), s, kind in zip(batch, stored, kinds):
            if kind == "dropped":
                result.dropped.append((number, s.order_id, s.dropped[0] if s.dropped else ""))
            elif kind == "created":
                result.imported += 1
            else:
                setattr(result, kind, getattr(result, kind) + 1)
        done += len(batch)
        if progress:
            progress("store", done, len(items))
    return result
