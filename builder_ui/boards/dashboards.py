"""看板数据: the operations figures drawn for a glance — orders per weekday × hour, the busiest
3 km grid cells, the late rate per channel per day, return reasons week over week, and the alerts
firing now. Every staff role may read it.

Filters are Asia/Shanghai dates (default: the 28 days up to today by the services' clock) and one
channel. The figures come from the analytics functions the API calls
(:func:`~engine.analytics.hourly.hourly_heatmap`, :func:`~engine.analytics.geo.geo_overview`,
:func:`~engine.analytics.deviation.deviation_report` with the API's threshold,
:func:`~engine.analytics.return_reasons.return_reasons`) and
:func:`engine.alerts.firings.list_firings`; the drawing is :mod:`builder_ui.boards.charts`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import Blueprint, request

from builder_ui.boards import charts
from builder_ui.boards.display import span
from builder_ui.pages import READERS, page, services
from engine.alerts.firings import FiringFilter, list_firings
from engine.analytics.deviation import deviation_report
from engine.analytics.geo import geo_overview
from engine.analytics.hourly import hourly_heatmap
from engine.analytics.ranges import DateRange
from engine.analytics.return_reasons import return_reasons
from engine.analytics.routes import published_threshold
from engine.analytics.sql_time import SHANGHAI
from engine.auth.access import allow
from engine.orders.document import CHANNELS

DEFAULT_DAYS = 28
MAX_DASH_DAYS = 366
ALERTS_SHOWN = 20


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/dashboards", "dashboards", dashboards_page, methods=["GET"])


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filters(today: date) -> tuple[DateRange, list[str], dict[str, str], dict[str, str]]:
    """The range and channels asked for, the form's values, and errors per field (the defaults
    are used where a value is wrong)."""
    args = request.args
    errors: dict[str, str] = {}
    last = _day(args.get("to"))
    if args.get("to") and last is None:
        errors["to"] = "日期格式应为 年-月-日"
    last = last or today
    first = _day(args.get("from"))
    if args.get("from") and first is None:
        errors["from"] = "日期格式应为 年-月-日"
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        errors["from"] = "开始日期不能晚于结束日期"
        first = last - timedelta(days=DEFAULT_DAYS - 1)
    elif (last - first).days + 1 > MAX_DASH_DAYS:
        errors["from"] = f"最多查看 {MAX_DASH_DAYS} 天"
        first = last - timedelta(days=MAX_DASH_DAYS - 1)
    channel = args.get("channel") or ""
    if channel and channel not in CHANNELS:
        errors["channel"] = "没有这个渠道"
        channel = ""
    form = {"from": first.isoformat(), "to": last.isoformat(), "channel": channel}
    return DateRange(first, last), [channel] if channel else [], form, errors


def _percent(bp: int | None) -> str:
    return "—" if bp is None else f"{bp / 100:.2f}%"


def _change(bp: int | None) -> str:
    """Week over week: ``+50.00%``, ``-25.00%``, ``0.00%``; ``—`` when the week before had none."""
    return "—" if bp is None else ("+" if bp > 0 else "") + _percent(bp)


def _heat(session: Any, rng: DateRange, channels: list[str]) -> dict[str, Any]:
    heat = hourly_heatmap(session, rng, channels)
    hours = [str(h) for h in range(24)]
    svg = charts.heatmap("每周各时段下单量（星期 × 小时）", heat["weekdays"], hours, heat["matrix"])
    return {"svg": svg, "total": heat["total"], "peak": heat["peak"]}


def _geo(session: Any, rng: DateRange, channels: list[str]) -> dict[str, Any]:
    geo = geo_overview(session, rng, channels, top=10)
    grids = []
    for g in geo["grids"]:
        names = [f"{d['city']}{d['district']}" for d in g["districts"]]
        grids.append({"id": g["id"], "orders": g["orders"], "share": _percent(g["share_bp"]),
                      "districts": "、".join(names), "lat": g["lat"], "lng": g["lng"]})
    svg = charts.point_map("下单最多的 3 公里网格（前10）",
                           [(gr["districts"] or gr["id"], gr["lng"], gr["lat"], gr["orders"]) for gr in grids])
    return {"svg": svg, "grids": grids, "total": geo["total"], "unplaced": geo["unplaced"]}


def _deviation(session: Any, rng: DateRange, channels: list[str], now: Any) -> dict[str, Any]:
    threshold, source = published_threshold(session)
    chosen = channels or list(CHANNELS)
    days = [(rng.first + timedelta(days=i)).isoformat() for i in range(rng.days)]
    rows = []
    series: list[tuple[str, list[float | None]]] = []
    for channel in chosen:
        report = deviation_report(session, rng, [channel], threshold_s=threshold, now=now, cursor=None, limit=1)
        if not report["totals"]["orders"]:
            continue
        per_day = {d["day"]: d for d in report["by_day"]}
        series.append((CHANNELS[channel], [per_day[d]["late_rate_bp"] / 100 if d in per_day else None for d in days]))
        rows.append({"channel": channel, **report["totals"], "rate": _percent(report["totals"]["late_rate_bp"]),
                     "days": [{"day": d, **per_day[d], "rate": _percent(per_day[d]["late_rate_bp"])}
                              for d in days if d in per_day]})
    svg = charts.lines("各渠道每日发货超时率", [d[5:] for d in days], series, y_label="超时率（%）", step=10)
    return {"svg": svg, "rows": rows, "threshold": span(threshold), "threshold_from": source}


def _returns(session: Any, rng: DateRange, channels: list[str]) -> dict[str, Any]:
    report = return_reasons(session, rng, channels)
    weeks = report["weeks"]
    shown = report["reasons"][:6]
    svg = charts.bars("每周退货原因", [w[5:] for w in weeks],
                      [(r["reason"], [s["returns"] for s in r["weeks"]]) for r in shown], y_label="件数")
    rows = [{"reason": r["reason"], "total": r["total"],
             "weeks": [{**s, "change": _change(s["change_bp"])}
                       for s in r["weeks"]]} for r in report["reasons"]]
    return {"svg": svg, "weeks": weeks, "rows": rows}


def _alerts(session: Any) -> list[dict[str, Any]]:
    return list(list_firings(session, FiringFilter(states=("firing",)), cursor=None, limit=ALERTS_SHOWN)["items"])


@allow(*READERS)
def dashboards_page() -> Any:
    svc = services()
    now = svc.clock.now()
    rng, channels, form, errors = _filters(now.astimezone(SHANGHAI).date())
    with svc.db.session() as session:
        figures = {"heat": _heat(session, rng, channels), "geo": _geo(session, rng, channels),
                   "deviation": _deviation(session, rng, channels, now), "returns": _returns(session, rng, channels),
                   "alerts": _alerts(session)}
    return page("boards/dashboards.html", title="看板数据", active_nav="dashboards", form=form, errors=errors,
                channels=CHANNELS, **figures)
