"""``orderpulse import`` with the shipped ``taobao_export`` mapping: a 千牛 export (one row per
sub-order, GB18030 as Excel saves it) imported with progress and a report; a test order
dropped with its rule; a bad amount refused by row and column; re-running changes nothing;
``--dry-run`` stores nothing."""

from __future__ import annotations

import csv

from click.testing import CliRunner
from sqlalchemy import func, select

from engine.cli import main
from engine.orders.model import Order, OrderLine
from tests.orders.test_intake import publish

HEADER = ["订单编号", "订单状态", "订单创建时间", "订单付款时间", "收货人姓名", "联系手机", "收货地址", "买家应付邮费",
          "买家实际支付金额", "商家编码", "宝贝标题", "宝贝总数量", "买家应付货款"]
ROWS = [
    ["=\"2093001\"", "买家已付款，等待卖家发货", "2026-11-01 10:00:00", "2026-11-01 10:00:30", "王小明", "13812340001",
     "浙江省 杭州市 西湖区 文三路90号", "0.00", "317.00", "TS-WHITE-M", "白色T恤 M", "2", "198.00"],
    ["=\"2093001\"", "买家已付款，等待卖家发货", "2026-11-01 10:00:00", "2026-11-01 10:00:30", "王小明", "13812340001",
     "浙江省 杭州市 西湖区 文三路90号", "0.00", "317.00", "SCARF-01", "丝巾", "1", "119.00"],
    ["2093002", "交易关闭", "2026-11-02 11:30:00", "", "测试", "13812340002", "重庆 重庆市 璧山区 双星大道8号",
     "6.00", "105.90", "TS-L", "白色T恤 L", "1", "99.90"],
    ["2093003", "买家已付款，等待卖家发货", "2026-11-03 09:00:00", "2026-11-03 09:01:00", "李四", "13812340003",
     "上海 上海市 浦东新区 世纪大道1号", "0.00", "abc", "TS-S", "白色T恤 S", "1", "99.00"],
]


def _run(services, *args: str):
    env = {"ORDERPULSE_DATABASE_URL": services.settings.database_url}
    return CliRunner().invoke(main, ["import", *args], env=env, catch_exceptions=False)


def _counts(services) -> tuple[int, int]:
    with services.db.session() as s:
        return s.scalar(select(func.count()).select_from(Order)), s.scalar(select(func.count()).select_from(OrderLine))


def test_import_a_taobao_export_report_rerun_and_dry_run(services, tmp_path) -> None:
    publish(services)
    path = tmp_path / "已卖出的宝贝.csv"
    with path.open("w", encoding="gb18030", newline="") as f:
        csv.writer(f).writerows([HEADER, *ROWS])

    dry = _run(services, str(path), "--mapping", "taobao_export", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "dry run (nothing stored): 4 rows: 1 imported, 0 updated, 0 already stored, 1 dropped" in dry.output
    assert _counts(services) == (0, 0)

    first = _run(services, str(path), "--mapping", "taobao_export")
    assert first.exit_code == 0, first.output
    report = first.output.splitlines()
    assert "4 rows: 1 imported, 0 updated, 0 already stored, 1 dropped as test orders, 1 refused" in report
    assert '  dropped row 4: order 2093002 (rule: receiver.name in ["测试", "测试单", "test"])' in report
    refused = next(line for line in report if line.startswith("  refused row 5"))
    assert "column 买家实际支付金额" in refused and "abc" in refused
    assert "映射 4/4 (100%)" in first.output and "入库 2/2 (100%)" in first.output
    with services.db.session() as s:
        order = s.scalar(select(Order).where(Order.order_id == "2093001"))
        assert (order.channel, order.status, order.total, order.via) == ("taobao", "awaiting_shipment", 31700, "import")
        assert s.scalars(select(OrderLine.sku_id).where(OrderLine.order_pk == order.id)
                         .order_by(OrderLine.line_no)).all() == ["TS-WHITE-M", "SCARF-01"]
    assert _counts(services) == (2, 3)

    again = _run(services, str(path), "--mapping", "taobao_export")
    assert "4 rows: 0 imported, 0 updated, 2 already stored, 0 dropped as test orders, 1 refused" in again.output
    assert _counts(services) == (2, 3)


def test_import_names_a_missing_mapping_and_an_unreadable_file(services, tmp_path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("订单编号\n1\n", encoding="utf-8")
    missing = _run(services, str(path), "--mapping", "taobao_export")
    assert missing.exit_code == 1 and "no published mapping named 'taobao_export'" in missing.output
    bad = tmp_path / "x.xlsx"
    bad.write_bytes(b"nope")
    publish(services)
    unreadable = _run(services, str(bad), "--mapping", "taobao_export")
    assert unreadable.exit_code == 1 and "not a readable Excel workbook" in unreadable.output
