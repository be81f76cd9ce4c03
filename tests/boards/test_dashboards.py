"""看板数据 over real stored orders and tickets: the heatmap cell of a known weekday and hour,
the busiest 3 km grid with its district, the late rate per channel and day at the published or
default threshold, a reason's weekly returns against the week before, only the alerts still
firing; the filters (dates, channel) and what a wrong filter says; every staff role reads it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from engine.alerts.models import AlertFiring
from tests.analytics.test_deviation import placed  # noqa: F401 - the fixture: seven orders with promises
from tests.analytics.test_return_reasons import returns  # noqa: F401 - the fixture: refunds over four weeks
from tests.boards.test_board_pages import _rows


def _cell(html: str, weekday: int, hour: int) -> str:
    """The tooltip and count of one heatmap cell (weekday 1 = Monday)."""
    match = re.search(rf'<title>([^<]*)</title><rect [^>]*data-cell="{weekday - 1}-{hour}" data-n="(\d+)"', html)
    assert match is not None
    return f"{match.group(1)} = {match.group(2)}"


def test_the_heatmap_grids_and_late_rates_of_stored_orders(signed_in: Any, placed: Any) -> None:  # noqa: F811
    html = signed_in("finance").get("/dashboards?from=2026-11-10&to=2026-11-12").get_data(as_text=True)
    assert "<h1>看板数据</h1>" in html and 'aria-current="page">看板数据</a>' in html
    # F1 and F2 were placed on Tuesday 2026-11-10 at 10:00 Beijing time
    assert _cell(html, 2, 10) == "周二 10时：2单 = 2"
    assert _cell(html, 2, 11) == "周二 11时：0单 = 0"
    assert "<p>共 8 单；最忙：周二 10时（2 单）</p>" in html
    assert _rows(html, "grid-list") == ["1 杭州市西湖区 8 100.00%"]
    assert "晚于承诺发货时间 2小时 以上算超时（默认）" in html
    assert _rows(html, "deviation-channels") == ["抖音 4 2 50.00% 11-11 2/4 50.00%",
                                                     "淘宝 3 1 33.33% 11-12 1/3 33.33%"]
    assert "<title>抖音 11-11：50.00%</title>" in html and "<title>淘宝 11-12：33.33%</title>" in html


def test_one_channel_and_the_default_range_of_28_days(signed_in: Any, placed: Any) -> None:  # noqa: F811
    client = signed_in("warehouse")
    html = client.get("/dashboards?channel=taobao").get_data(as_text=True)
    assert 'value="2026-10-16"' in html and 'value="2026-11-12"' in html  # the clock is at 2026-11-12 12:00
    assert 'value="taobao" selected' in html
    assert _rows(html, "deviation-channels") == ["淘宝 3 1 33.33% 11-12 1/3 33.33%"]
    assert "<p>共 4 单；" in html  # F4, F5, F6, F8


def test_a_wrong_filter_is_told_next_to_the_form_and_the_defaults_are_shown(signed_in: Any,
                                                                            placed: Any) -> None:  # noqa: F811
    html = signed_in("cs").get("/dashboards?from=2026-11-12&to=2026-11-01&channel=ebay").get_data(as_text=True)
    assert '<p class="field-error error" id="d-from-error" role="alert">开始日期不能晚于结束日期</p>' in html
    assert '<p class="field-error error" id="d-channel-error" role="alert">没有这个渠道</p>' in html
    assert 'value="2026-10-05"' in html  # 28 days ending at the given end


def test_return_reasons_week_over_week(signed_in: Any, returns: Any) -> None:  # noqa: F811
    html = signed_in("cs").get("/dashboards?from=2026-11-09&to=2026-11-22").get_data(as_text=True)
    assert _rows(html, "return-reasons") == ["面料起球 3 环比 +50.00% 3 环比 0.00% 6",
                                           "尺码偏差 1 环比 — 3 环比 +200.00% 4",
                                           "未注明 0 环比 — 1 环比 — 1"]
    assert "<title>尺码偏差 11-16 周：3件</title>" in html


def _firing(alert: str, state: str) -> AlertFiring:
    return AlertFiring(ruleset="alerts_standard", ruleset_version=1, alert=alert, grp="", period="week",
                       window_start=datetime(2026, 11, 8, 16, tzinfo=UTC), window_end=datetime(2026, 11, 15, 16, tzinfo=UTC),
                       figures={"value": 23, "previous": 12, "change_vs_previous_bp": 9167,
                                "change_vs_previous": "+91.67%"},
                       message=f"{alert}：本周 23 件，上周 12 件", channels="品控主管群", deliveries=[], state=state,
                       fired_at=datetime(2026, 11, 12, 2, tzinfo=UTC))


def test_only_the_alerts_still_firing_with_a_link_to_the_warnings(signed_in: Any, services: Any) -> None:
    empty = signed_in("ops").get("/dashboards").get_data(as_text=True)
    assert "现在没有告警。" in empty and "没有能定位的订单" in empty
    with services.db.transaction() as s:
        s.add(_firing("面料起球预警", "firing"))
        s.add(_firing("尺码偏差预警", "cleared"))
    html = signed_in("ops").get("/dashboards").get_data(as_text=True)
    assert _rows(html, "firing-alerts") == [
        "面料起球预警 面料起球预警：本周 23 件，上周 12 件 全部 2026-11-09 00:00 23 +91.67%"]
    assert 'href="/warnings#alerts"' in html


def test_the_page_needs_a_session_and_every_staff_role_reads_it(app: Any, signed_in: Any) -> None:
    resp = app.test_client().get("/dashboards")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")
    for role in ("admin", "ops", "warehouse", "finance", "cs", "cs_lead"):
        assert signed_in(role).get("/dashboards").status_code == 200, role
