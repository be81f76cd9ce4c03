"""The dashboards' SVG drawing on tiny inputs: where each mark lands, its shade or size, the
exact value in its ``<title>``, and that labels are escaped."""

from __future__ import annotations

from builder_ui.boards import charts


def test_the_busiest_cell_gets_the_darkest_shade_and_a_zero_cell_the_blank_one() -> None:
    assert [charts.heat_level(n, 10) for n in (0, 1, 2, 5, 10)] == [0, 1, 1, 3, 5]
    assert charts.heat_level(3, 0) == 0


def test_a_two_by_two_heatmap_places_each_cell_and_tells_its_count() -> None:
    svg = charts.heatmap("下单量", ["周一", "周二"], ["0", "1"], [[0, 4], [2, 0]])
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="下单量" '
                          'viewBox="0 0 92 72" width="92" height="72"')
    assert ('<g><title>周一 1时：4单</title><rect x="64" y="20" width="22" height="22" fill="#10239e" '
            'data-cell="0-1" data-n="4"/><text x="75" y="35" text-anchor="middle" fill="#ffffff" font-size="10">4</text>'
            '</g>') in svg
    assert '<title>周二 0时：2单</title><rect x="40" y="44" width="22" height="22" fill="#85a5ff"' in svg
    assert '<title>周一 0时：0单</title><rect x="40" y="20" width="22" height="22" fill="#f5f5f5"' in svg
    assert '>周二</text>' in svg and svg.count("<rect") == 4


def test_the_point_map_puts_north_up_and_sizes_by_the_square_root() -> None:
    svg = charts.point_map("网格", [("杭州市西湖区", 120.0, 30.0, 4), ("南京市玄武区", 121.0, 31.0, 1)])
    # the box is 120–121°E × 30–31°N; the inner plot runs x 58…362, y 38…242
    assert '<title>第1名 杭州市西湖区：4单</title><circle cx="58" cy="242" r="18"' in svg
    assert '<title>第2名 南京市玄武区：1单</title><circle cx="362" cy="38" r="9"' in svg
    assert ">120.00°E</text>" in svg and ">31.00°N</text>" in svg and ">经度</text>" in svg


def test_lines_leave_a_gap_for_a_day_without_orders_and_round_the_axis_up() -> None:
    svg = charts.lines("超时率", ["11-10", "11-11", "11-12"], [("抖音", [50.0, None, 25.0])],
                       y_label="超时率（%）", step=10)
    # y axis 0–50 %; x at 48 + 560/3·(i + ½)
    assert '<circle cx="141.3" cy="16" r="3" fill="#1677ff"><title>抖音 11-10：50.00%</title></circle>' in svg
    assert '<circle cx="514.7" cy="116" r="3" fill="#1677ff"><title>抖音 11-12：25.00%</title></circle>' in svg
    assert "<polyline" not in svg  # no two known days side by side
    assert ">50%</text>" in svg and ">0%</text>" in svg and ">超时率（%）</text>" in svg


def test_bars_stand_side_by_side_per_week() -> None:
    svg = charts.bars("退货", ["11-09", "11-16"], [("面料起球", [4, 2]), ("尺码偏差", [0, 1])], y_label="件数")
    assert '<rect x="76" y="16" width="112" height="200" fill="#1677ff"><title>面料起球 11-09 周：4件</title>' in svg
    assert '<rect x="468" y="166" width="112" height="50" fill="#fa8c16"><title>尺码偏差 11-16 周：1件</title>' in svg
    assert ">面料起球</text>" in svg and ">尺码偏差</text>" in svg


def test_labels_are_escaped() -> None:
    svg = charts.bars('<script>"x"</script>', ["a&b"], [("<b>", [1])], y_label="件数")
    assert "<script>" not in svg and "<b>" not in svg
    assert 'aria-label="&lt;script&gt;&quot;x&quot;&lt;/script&gt;"' in svg and "a&amp;b" in svg
