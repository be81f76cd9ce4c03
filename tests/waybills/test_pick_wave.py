"""拣货波次: the selected orders' lines become one row per SKU at its location, the quantity the
sum over the orders (with which order takes how many), rows in walking order of the
locations, SKUs without a location last; the pure core imports neither Flask nor SQLAlchemy."""

from __future__ import annotations

import ast
from pathlib import Path

from engine.waybills.pick_list import NO_LOCATION, pick_wave

ORDERS = [
    ("taobao/1", {"lines": [{"sku_id": "TEA-LJ-250", "title": "西湖龙井 250g", "qty": 2},
                            {"sku_id": "SCARF-SILK", "title": "真丝围巾", "qty": 1}]}),
    ("pdd/2", {"lines": [{"sku_id": "TEA-LJ-250", "title": "西湖龙井 250g", "qty": 1}]}),
    ("douyin/3", {"lines": [{"sku_id": "TSHIRT-W-M", "title": "纯棉白T恤 M", "qty": 3},
                            {"sku_id": "TEA-LJ-250", "title": "西湖龙井 250g", "qty": 1},
                            {"sku_id": "TEA-LJ-250", "title": "西湖龙井 250g", "qty": 1}]}),
]


def test_three_orders_become_one_row_per_sku_with_totals_in_walking_order() -> None:
    wave = pick_wave(ORDERS, {"TEA-LJ-250": "B-02-01", "TSHIRT-W-M": "A-01-03"})
    assert [(r.location, r.sku_id, r.total) for r in wave.rows] == [
        ("A-01-03", "TSHIRT-W-M", 3), ("B-02-01", "TEA-LJ-250", 5), (NO_LOCATION, "SCARF-SILK", 1)]
    tea = wave.rows[1]
    assert tea.orders == (("douyin/3", 2), ("pdd/2", 1), ("taobao/1", 2)) and tea.title == "西湖龙井 250g"
    assert (wave.order_count, wave.total_qty) == (3, 9)


def test_an_empty_selection_is_an_empty_wave() -> None:
    wave = pick_wave([], {})
    assert (wave.rows, wave.order_count, wave.total_qty) == ((), 0, 0)


def test_the_pure_parts_import_no_flask_or_sqlalchemy() -> None:
    root = Path(__file__).resolve().parents[2] / "engine" / "waybills"
    for name in ("pick_list.py", "ports.py", "requests.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        imported = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not any(m.split(".")[0] in ("flask", "sqlalchemy") for m in imported), name
