"""The drill's report: ``report.json`` (every measure) and ``report.html`` (the verdicts and
charts drawn as inline SVG on the server: no script, no CDN), plus the summary lines the
command prints. Pure formatting over the measures; writes the two files only."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from engine.drill.measures import LATE_CAUSES, MUST_BE_ZERO

LABELS = {
    "oversell": "超卖件数 oversell",
    "ledger_mismatches": "台账重放 ≠ 计数 ledger replay mismatches",
    "orders_lost": "丢单 orders lost",
    "orders_stuck": "卡单 orders stuck in the pipeline",
    "writebacks_stuck": "回传未完成 write-backs still pending",
    "dead_letters_not_permanent": "非永久错误的死信 dead letters that were not permanent errors",
    "bad_signatures_accepted": "错签名被接受 badly signed requests accepted",
}


def failures(measures: dict[str, Any]) -> list[str]:
    return [k for k in MUST_BE_ZERO if measures.get(k)]


def _ms(v: Any) -> str:
    return "-" if v is None else f"{v:.0f} ms"


def summary_lines(report: dict[str, Any]) -> list[str]:
    m = report["measures"]
    wb, sp = m["writeback_latency_ms"], m["stock_push_latency_ms"]
    cpu = report["cpu_ms_per_order"]
    lines = [
        f"drill: {report['orders']} orders at {report['speed']:g}x on {report['shape']} "
        f"({report['elapsed_seconds']:.0f} s, {report['orders_per_second']:.1f} orders/s placed)",
        f"orders: placed {m['orders_placed']}, stored {m['orders_stored']}, shipped {m['orders_shipped']}, "
        f"held by rules {sum(m['orders_held'].values())} {m['orders_held']}",
    ]
    for key in MUST_BE_ZERO:
        lines.append(f"  {'FAIL' if m.get(key) else 'ok  '} {key} = {m.get(key)}")
    lines += [
        f"tickets past deadline with no alert: {m['tickets_past_deadline_no_alert']} "
        f"(deadline alerts fired: {m['deadline_alerts_fired']})",
        f"write-back latency: p50 {_ms(wb['p50'])}, p95 {_ms(wb['p95'])}, p99 {_ms(wb['p99'])} (n={wb['n']})",
        f"stock push latency: p50 {_ms(sp['p50'])}, p95 {_ms(sp['p95'])}, p99 {_ms(sp['p99'])} (n={sp['n']})",
        f"backlog at the end: pipeline {report['backlog_end']['pipeline']}, outbox {report['backlog_end']['outbox']}"
        f" (peak {report['backlog_peak']['pipeline']} / {report['backlog_peak']['outbox']})",
        f"late shipments caused by the system: {m['late_shipments_caused_by_system']} "
        f"(by the warehouse: {m['late_shipments_caused_by_warehouse']})",
        *(f"  {n:6d} {LATE_CAUSES[cause]}" for cause, n in m.get("late_shipments_by_cause", {}).items() if n),
        f"returns: opened {m['returns_opened']}, closed {m['returns_closed']}, QC failed {m['qc_failed']}, "
        f"approvals sent {m['approvals_sent']} ({m['approvals_repeated']} twice)",
        "CPU per order: " + ", ".join(f"{k} {v:.2f} ms" for k, v in cpu.items()),
        "verdict: " + ("PASS" if not report["failed"] else "FAIL (" + ", ".join(report["failed"]) + ")"),
    ]
    return lines


def _polyline(points: list[tuple[float, float]], x0: float, x1: float, y1: float, w: int, h: int) -> str:
    if not points:
        return ""
    sx = (w - 60) / max(1e-9, x1 - x0)
    sy = (h - 40) / max(1e-9, y1)
    coords = " ".join(f"{50 + (x - x0) * sx:.1f},{h - 25 - y * sy:.1f}" for x, y in points)
    return coords


def svg_chart(title: str, series: dict[str, list[tuple[float, float]]], unit: str, x_label: str = "h") -> str:
    w, h = 640, 220
    colours = ["#1677ff", "#fa541c", "#52c41a", "#722ed1", "#faad14"]
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    if not xs:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>（无数据）</p></figure>"
    x0, x1, y1 = min(xs), max(xs), max(max(ys), 1e-9)
    parts = [f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{html.escape(title)}">',
             f'<line x1="50" y1="{h - 25}" x2="{w - 10}" y2="{h - 25}" stroke="#999"/>',
             f'<line x1="50" y1="10" x2="50" y2="{h - 25}" stroke="#999"/>',
             f'<text x="4" y="18" font-size="11">{y1:.0f} {html.escape(unit)}</text>',
             f'<text x="4" y="{h - 25}" font-size="11">0</text>',
             f'<text x="50" y="{h - 8}" font-size="11">{x0:.1f}{x_label}</text>',
             f'<text x="{w - 60}" y="{h - 8}" font-size="11">{x1:.1f}{x_label}</text>']
    for i, (name, pts) in enumerate(series.items()):
        colour = colours[i % len(colours)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                     f'points="{_polyline(pts, x0, x1, y1, w, h)}"/>')
        parts.append(f'<text x="{60 + i * 130}" y="{h - 8 - 14}" font-size="11" fill="{colour}">'
                     f'{html.escape(name)}</text>')
    parts.append("</svg>")
    return f"<figure><figcaption>{html.escape(title)}</figcaption>{''.join(parts)}</figure>"


def _latency_series(rows: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    return {p: [(r["hour"] + 0.5, r[p]) for r in rows if r.get(p) is not None] for p in ("p50", "p95", "p99")}


def write_report(folder: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "report.json"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    m = report["measures"]
    samples = report["samples"]
    rows = "".join(
        f"<tr class=\"{'bad' if m.get(k) else 'good'}\"><td>{html.escape(LABELS[k])}</td><td>{m.get(k)}</td>"
        f"<td>{'未通过' if m.get(k) else '通过'}</td></tr>" for k in MUST_BE_ZERO)
    charts = [
        svg_chart("回传延迟（按时段）write-back latency by hour of the day",
                  _latency_series(m["writeback_latency_by_hour"]), "ms"),
        svg_chart("库存推送延迟（按时段）stock push latency by hour", _latency_series(m["stock_push_latency_by_hour"]),
                  "ms"),
        svg_chart("积压 backlog over time", {
            "pipeline": [(s["hour"], s["pipeline_backlog"]) for s in samples],
            "outbox": [(s["hour"], s["outbox_pending"]) for s in samples],
            "warehouse queue": [(s["hour"], s["warehouse_waiting"]) for s in samples]}, "rows"),
        svg_chart("订单 orders placed and stored", {
            "placed": [(s["hour"], s["placed"]) for s in samples],
            "stored": [(s["hour"], s["stored"]) for s in samples]}, "orders"),
    ]
    summary = "\n".join(html.escape(line) for line in summary_lines(report))
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>大促演练报告 OrderPulse drill</title>
<style>
body{{font-family:"Noto Sans CJK SC","PingFang SC",sans-serif;margin:24px;color:#1f1f1f}}
table{{border-collapse:collapse}}td,th{{border:1px solid #d9d9d9;padding:4px 10px}}
tr.bad td{{background:#fff1f0}}tr.good td{{background:#f6ffed}}
figure{{display:inline-block;margin:8px 16px 8px 0}}pre{{background:#fafafa;padding:8px}}
</style></head><body>
<h1>大促演练报告 {'通过' if not report['failed'] else '未通过'}</h1>
<p>{report['orders']} 单，{report['speed']:g} 倍速，{html.escape(report['shape'])}；
场景 {html.escape(report['scenario'])}</p>
<h2>必须为 0 的指标</h2><table><tr><th>指标</th><th>值</th><th>结论</th></tr>{rows}</table>
<h2>摘要</h2><pre>{summary}</pre>
<h2>图表</h2>{''.join(charts)}
<h2>故障时间线</h2><pre>{html.escape(json.dumps(m['faults'], ensure_ascii=False, indent=1))}</pre>
</body></html>"""
    html_path = folder / "report.html"
    html_path.write_text(page, encoding="utf-8")
    return json_path, html_path
