"""Importing seller-centre exports: CSV (UTF-8 or GB18030, ``="…"`` guards) and Excel, rows of
one order merged, refused rows named by row and column, dry runs that store nothing, and a
re-run that changes nothing. The mapping here is a small hand-written one over the export's
columns, so these tests exercise the importer alone (the shipped export mappings are tested
with the mapping runner)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.orders.importer import ImportFileError, import_file, read_rows
from engine.orders.model import Order, OrderLine
from engine.orders.published import MappingRef, PublishedRules

HEADER = ["订单编号", "订单状态", "下单时间", "商家编码", "购买数量", "实付金额", "收货人手机号"]
CST = timezone(timedelta(hours=8))


class RowFailure(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class ExportMapping:
    """A Taobao-style export row → normalized order (what an export mapping does)."""

    name = "shop_export"

    def apply(self, row: dict[str, Any]) -> dict[str, Any]:
        try:
            fen = int(Decimal(row["实付金额"]) * 100)
        except InvalidOperation:
            raise RowFailure("$.实付金额", f"{row['实付金额']!r} is not a yuan amount") from None
        created = datetime.strptime(row["下单时间"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST).astimezone(UTC)
        status = {"等待卖家发货": "awaiting_shipment", "交易关闭": "cancelled"}[row["订单状态"]]
        return {"order_id": row["订单编号"], "channel": "taobao", "status": status, "created_at": created,
                "buyer_phone": row["收货人手机号"],
                "lines": [{"sku_id": row["商家编码"], "qty": int(row["购买数量"]), "amount": fen}]}


def _ref() -> tuple[PublishedRules, MappingRef]:
    rules = PublishedRules({}, (), lambda: None)  # type: ignore[arg-type,return-value]
    return rules, MappingRef(ExportMapping(), "shop_export", "exports", 1)


ROWS = [
    ["=\"3001\"", "等待卖家发货", "2026-11-01 10:00:00", "TS-M", "2", "198.00", "13812340001"],
    ["3001", "等待卖家发货", "2026-11-01 10:00:00", "SCARF", "1", "119.00", "13812340001"],
    ["3002", "交易关闭", "2026-11-02 11:30:00", "TS-L", "1", "99.9", "13812340002"],
    ["3003", "等待卖家发货", "2026-11-03 09:00:00", "TS-S", "1", "abc", "13812340003"],
    ["", "", "", "", "", "", ""],
]


def _csv(tmp_path: Path, rows=ROWS, encoding: str = "utf-8-sig") -> Path:
    path = tmp_path / "export.csv"
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


def _count(services) -> tuple[int, int]:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Order)), s.scalar(select(func.count()).select_from(OrderLine))


def _import(services, path, **kw):
    rules, ref = _ref()
    return import_file(services, path, mapping="shop_export", rules=rules, ref=ref, **kw)


def test_a_csv_export_is_imported_rows_of_one_order_merged_and_bad_rows_refused(services, tmp_path) -> None:
    steps: list[tuple[str, int, int]] = []
    report = _import(services, _csv(tmp_path), progress=lambda *a: steps.append(a))
    assert (report.rows, report.imported, report.updated) == (4, 2, 0)
    assert [(r.row, r.column) for r in report.refused] == [(5, "实付金额")]
    assert "'abc' is not a yuan amount" in report.refused[0].reason
    assert steps[-1] == ("store", 2, 2)
    with services.db.session() as s:
        order = s.scalar(select(Order).where(Order.order_id == "3001"))
        assert order.total == 31700 and order.via == "import" and order.source == "shop_export"
        assert order.updated_at == datetime(2026, 11, 1, 2, 0, tzinfo=UTC)  # versioned by its time
        assert s.scalars(select(OrderLine.sku_id).where(OrderLine.order_pk == order.id)
                         .order_by(OrderLine.line_no)).all() == ["TS-M", "SCARF"]
        assert s.scalar(select(Order.total).where(Order.order_id == "3002")) == 9990
    assert report.lines()[0] == "4 rows: 2 imported, 0 updated, 0 already stored, 0 dropped as test orders, 1 refused"
    assert report.lines()[1] == "  refused row 5, column 实付金额: $.实付金额: 'abc' is not a yuan amount"


def test_re_running_an_import_changes_nothing(services, tmp_path) -> None:
    path = _csv(tmp_path)
    _import(services, path)
    before = _count(services)
    again = _import(services, path)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 2)
    assert _count(services) == before == (2, 3)


def test_a_dry_run_reports_exactly_and_stores_nothing(services, tmp_path) -> None:
    report = _import(services, _csv(tmp_path), dry_run=True)
    assert (report.imported, len(report.refused), report.dry_run) == (2, 1, True)
    assert report.lines()[0].startswith("dry run (nothing stored): 4 rows: 2 imported")
    assert _count(services) == (0, 0)


def test_gb18030_csv_and_excel_read_the_same_rows(services, tmp_path) -> None:
    from openpyxl import Workbook

    gbk = _csv(tmp_path, encoding="gb18030")
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in ROWS[:3]:
        sheet.append([row[0].strip('="'), row[1], datetime.strptime(row[2], "%Y-%m-%d %H:%M:%S"), row[3],
                      int(row[4]), float(row[5]), row[6]])
    xlsx = tmp_path / "export.xlsx"
    book.save(xlsx)
    csv_rows = list(read_rows(gbk)[1])[:3]
    xlsx_rows = list(read_rows(xlsx)[1])
    assert csv_rows[0][1]["订单编号"] == "3001"
    assert csv_rows[2][1]["实付金额"] == "99.9"
    for (_, a), (_, b) in zip(csv_rows, xlsx_rows):
        assert {k: a[k] for k in HEADER if k != "实付金额"} == {k: b[k] for k in HEADER if k != "实付金额"}
        assert Decimal(a["实付金额"]) == Decimal(b["实付金额"])
    report = _import(services, xlsx)
    assert (report.imported, report.refused) == (2, [])


def test_a_file_that_is_not_an_export_is_refused_clearly(tmp_path) -> None:
    bad = tmp_path / "orders.txt"
    bad.write_text("x")
    with pytest.raises(ImportFileError, match="import takes .csv or .xlsx"):
        read_rows(bad)
    fake = tmp_path / "orders.xlsx"
    fake.write_bytes(b"not a zip")
    with pytest.raises(ImportFileError, match="not a readable Excel workbook"):
        read_rows(fake)
