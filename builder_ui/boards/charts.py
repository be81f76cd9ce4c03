"""The dashboards' charts as inline SVG: a weekday × hour heatmap, a lon/lat point map, lines of
rates over days, grouped bars. Pure drawing over plain numbers and labels; every text is escaped,
every mark carries a ``<title>`` with its exact value. No Flask, no database, no business rule."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["PALETTE", "bars", "heat_level", "heatmap", "lines", "point_map"]

# Series colours (Ant Design's chart palette), readable on white and told apart by their legend.
PALETTE = ("#1677ff", "#fa8c16", "#52c41a", "#eb2f96", "#722ed1", "#13c2c2")
# Heatmap shades, 0 (no orders) to 5 (the busiest cell).
HEAT = ("#f5f5f5", "#d6e4ff", "#adc6ff", "#85a5ff", "#2f54eb", "#10239e")
INK, MUTED, RULE = "#262626", "#595959", "#d9d9d9"
FONT = 'font-family="sans-serif"'


def _n(value: float) -> str:
    """A coordinate without noise: ``12`` not ``12.0``, else one decimal."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def _svg(title: str, width: int, height: int, body: list[str]) -> str:
    t = escape(title)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{t}" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" {FONT} font-size="11"><title>{t}</title>' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, *, anchor: str = "start", fill: str = INK, size: int = 11,
          extra: str = "") -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}" font-size="{size}"{extra}>'
            f"{escape(text)}</text>")


def heat_level(n: int, peak: int) -> int:
    """The shade of a cell: 0 for no orders, else 1..5 in proportion to the busiest cell (rounded up)."""
    if n <= 0 or peak <= 0:
        return 0
    return max(1, min(5, math.ceil(n * 5 / peak)))


# heatmap geometry
CELL, HEAT_LEFT, HEAT_TOP = 24, 40, 20


def heatmap(title: str, rows: Sequence[str], columns: Sequence[str], matrix: Sequence[Sequence[int]],
            unit: str = "单") -> str:
    """One rect per cell at ``(HEAT_LEFT + col·CELL, HEAT_TOP + row·CELL)``, shaded by
    :func:`heat_level`, the count written inside when not zero, ``<title>`` 周三 10时：2单."""
    peak = max((n for row in matrix for n in row), default=0)
    width = HEAT_LEFT + CELL * len(columns) + 4
    height = HEAT_TOP + CELL * len(rows) + 4
    body = [_text(HEAT_LEFT + c * CELL + CELL / 2, HEAT_TOP - 6, label, anchor="middle", fill=MUTED, size=10)
            for c, label in enumerate(columns)]
    for r, row_label in enumerate(rows):
        y = HEAT_TOP + r * CELL
        body.append(_text(HEAT_LEFT - 6, y + CELL / 2 + 4, row_label, anchor="end"))
        for c, col_label in enumerate(columns):
            n = matrix[r][c]
            level = heat_level(n, peak)
            x = HEAT_LEFT + c * CELL
            tip = escape(f"{row_label} {col_label}时：{n}{unit}")
            body.append(f'<g><title>{tip}</title><rect x="{x}" y="{y}" width="{CELL - 2}" height="{CELL - 2}" '
                        f'fill="{HEAT[level]}" data-cell="{r}-{c}" data-n="{n}"/>')
            if n:
                ink = "#ffffff" if level >= 4 else INK
                body.append(_text(x + (CELL - 2) / 2, y + CELL / 2 + 3, str(n), anchor="middle", fill=ink, size=10))
            body.append("</g>")
    return _svg(title, width, height, body)


# point map geometry
MAP_W, MAP_H, MAP_PAD, MAX_R = 420, 300, 40, 18.0


def point_map(title: str, points: Sequence[tuple[str, float, float, int]]) -> str:
    """Points ``(label, lng, lat, n)`` placed by longitude (x) and latitude (y, north up) in the
    box of all points; radius ``MAX_R·√(n / max n)`` (at least 4); the rank written beside each."""
    body = [f'<rect x="{MAP_PAD}" y="{MAP_PAD // 2}" width="{MAP_W - MAP_PAD * 2}" height="{MAP_H - MAP_PAD * 3 // 2}" '
            f'fill="#fafafa" stroke="{RULE}"/>',
            _text(MAP_W / 2, MAP_H - 6, "经度", anchor="middle", fill=MUTED),
            _text(12, MAP_H / 2, "纬度", anchor="middle", fill=MUTED,
                  extra=f' transform="rotate(-90 12 {MAP_H // 2})"')]
    if points:
        lngs, lats = [p[1] for p in points], [p[2] for p in points]
        lo_x, hi_x, lo_y, hi_y = min(lngs), max(lngs), min(lats), max(lats)
        span_x, span_y = max(hi_x - lo_x, 0.5), max(hi_y - lo_y, 0.5)
        inner_w, inner_h = MAP_W - MAP_PAD * 2 - 2 * MAX_R, MAP_H - MAP_PAD * 3 / 2 - 2 * MAX_R
        x0, y0 = MAP_PAD + MAX_R, MAP_PAD / 2 + MAX_R
        peak = max(p[3] for p in points) or 1
        body += [_text(MAP_PAD, MAP_H - MAP_PAD / 2 + 4, f"{lo_x:.2f}°E", fill=MUTED, size=10),
                 _text(MAP_W - MAP_PAD, MAP_H - MAP_PAD / 2 + 4, f"{lo_x + span_x:.2f}°E", anchor="end", fill=MUTED,
                       size=10),
                 _text(MAP_PAD - 4, MAP_H - MAP_PAD, f"{lo_y:.2f}°N", anchor="end", fill=MUTED, size=10),
                 _text(MAP_PAD - 4, MAP_PAD / 2 + 10, f"{lo_y + span_y:.2f}°N", anchor="end", fill=MUTED, size=10)]
        for rank, (label, lng, lat, n) in enumerate(points, start=1):
            x = x0 + (lng - lo_x) / span_x * inner_w
            y = y0 + (lo_y + span_y - lat) / span_y * inner_h
            r = max(4.0, MAX_R * math.sqrt(n / peak))
            tip = escape(f"第{rank}名 {label}：{n}单")
            body.append(f'<g><title>{tip}</title><circle cx="{_n(x)}" cy="{_n(y)}" r="{_n(r)}" fill="{PALETTE[0]}" '
                        f'fill-opacity="0.55" stroke="{PALETTE[0]}" data-rank="{rank}"/>'
                        + _text(x, y + 4, str(rank), anchor="middle", size=10) + "</g>")
    return _svg(title, MAP_W, MAP_H, body)


# lines and bars geometry
PLOT_W, PLOT_H, LEFT, TOP, BOTTOM, LEGEND = 560, 200, 48, 16, 40, 22


def _axis_top(peak: float, step: float) -> float:
    """The y axis top: the peak rounded up to a whole number of ``step`` (at least one step)."""
    return max(step, math.ceil(peak / step) * step)


def _frame(y_top: float, y_label: str, ticks: int, fmt: str) -> list[str]:
    out = []
    for i in range(ticks + 1):
        value = y_top * i / ticks
        y = TOP + PLOT_H - PLOT_H * i / ticks
        out.append(f'<line x1="{LEFT}" y1="{_n(y)}" x2="{LEFT + PLOT_W}" y2="{_n(y)}" stroke="{RULE}"/>')
        out.append(_text(LEFT - 4, y + 4, fmt.format(value), anchor="end", fill=MUTED, size=10))
    out.append(_text(4, TOP - 4, y_label, fill=MUTED, size=10))
    return out


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    every = max(1, math.ceil(len(labels) / 10))
    return [_text(x, TOP + PLOT_H + 16, label, anchor="middle", fill=MUTED, size=10)
            for i, (label, x) in enumerate(zip(labels, xs, strict=True)) if i % every == 0 or i == len(labels) - 1]


def _legend(names: Sequence[str], y: float) -> list[str]:
    out = []
    x = float(LEFT)
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{_n(x)}" y="{_n(y - 9)}" width="10" height="10" fill="{colour}"/>')
        out.append(_text(x + 14, y, name))
        x += 24 + 12 * len(name)
    return out


def lines(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]], *,
          y_label: str, step: float, fmt: str = "{:.0f}%", tip_fmt: str = "{:.2f}%") -> str:
    """One polyline per series over evenly spaced x labels; a point per known value (None: a gap)
    with ``<title>`` 抖音 2026-11-11：50.00%; y from 0 to the peak rounded up to ``step``."""
    peak = max((v for _, values in series for v in values if v is not None), default=0.0)
    y_top = _axis_top(peak, step)
    gap = PLOT_W / max(len(x_labels), 1)
    xs = [LEFT + gap * (i + 0.5) for i in range(len(x_labels))]
    body = _frame(y_top, y_label, 4, fmt) + _x_labels(x_labels, xs)
    for s, (name, values) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        runs: list[list[str]] = [[]]
        marks = []
        for x, label, value in zip(xs, x_labels, values, strict=True):
            if value is None:
                runs.append([])
                continue
            y = TOP + PLOT_H - PLOT_H * value / y_top
            runs[-1].append(f"{_n(x)},{_n(y)}")
            tip = escape(f"{name} {label}：{tip_fmt.format(value)}")
            marks.append(f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3" fill="{colour}"><title>{tip}</title></circle>')
        body += [f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2"/>'
                 for run in runs if len(run) > 1]
        body += marks
    height = TOP + PLOT_H + BOTTOM + LEGEND
    body += _legend([name for name, _ in series], height - 8)
    return _svg(title, LEFT + PLOT_W + 8, height, body)


def bars(title: str, x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], *, y_label: str,
         unit: str = "件") -> str:
    """Bars grouped per x label, one per series side by side, y from 0 to the peak rounded up to
    a whole step; ``<title>`` 面料起球 2026-11-16 周：3件."""
    peak = max((v for _, values in series for v in values), default=0)
    step = max(1, math.ceil(peak / 4))
    y_top = _axis_top(peak, step)
    group = PLOT_W / max(len(x_labels), 1)
    width = group * 0.8 / max(len(series), 1)
    xs = [LEFT + group * (i + 0.5) for i in range(len(x_labels))]
    body = _frame(y_top, y_label, 4, "{:.0f}") + _x_labels(x_labels, xs)
    for s, (name, values) in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        for i, (label, value) in enumerate(zip(x_labels, values, strict=True)):
            h = PLOT_H * value / y_top
            x = LEFT + group * i + group * 0.1 + width * s
            tip = escape(f"{name} {label} 周：{value}{unit}")
            body.append(f'<rect x="{_n(x)}" y="{_n(TOP + PLOT_H - h)}" width="{_n(width)}" height="{_n(h)}" '
                        f'fill="{colour}"><title>{tip}</title></rect>')
    height = TOP + PLOT_H + BOTTOM + LEGEND
    body += _legend([name for name, _ in series], height - 8)
    return _svg(title, LEFT + PLOT_W + 8, height, body)
