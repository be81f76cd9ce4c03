"""The pure core of alerts: business-time windows in Asia/Shanghai, the figures and the decision
(minimum volume, change in percent, cool-down, clearing) and the messages, with no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dsl.parser import parse_text
from engine.alerts.buckets import bucket_end, bucket_start, previous_bucket
from engine.alerts.evaluation import CLEAR, COOLING, FIRE, HOLD_ON, QUIET, decide, figures_of, render
from engine.alerts.events import return_record
from engine.alerts.measures import CompiledAlert, Stats, compile_alert, measure_value

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai


def _alert(body: str) -> CompiledAlert:
    model = parse_text(f'alert 面料起球预警 {{\n{body}\n}}\n', "t.op")
    return compile_alert(model.declarations[0], ruleset="q", version=3)  # type: ignore[arg-type]


WOW = _alert('measure count(returns where reason == "面料起球") per week\nminimum 10\ncooldown 1d\n'
             'when change_vs_previous > 15%\nnotify 群 "周环比 {change}：本周 {value}，上周 {previous}"')


@pytest.mark.parametrize(("at", "period", "start", "end"), [
    # 2026-11-16 is a Monday; Shanghai is UTC+8
    ("2026-11-15T16:00:00+00:00", "week", "2026-11-15T16:00:00+00:00", "2026-11-22T16:00:00+00:00"),
    ("2026-11-15T15:59:59+00:00", "week", "2026-11-08T16:00:00+00:00", "2026-11-15T16:00:00+00:00"),
    ("2026-11-18T02:00:00+00:00", "day", "2026-11-17T16:00:00+00:00", "2026-11-18T16:00:00+00:00"),
    ("2026-11-30T17:00:00+00:00", "month", "2026-11-30T16:00:00+00:00", "2026-12-31T16:00:00+00:00"),
    ("2026-12-31T15:30:00+00:00", "month", "2026-11-30T16:00:00+00:00", "2026-12-31T16:00:00+00:00"),
    ("2026-11-18T02:59:59+00:00", "hour", "2026-11-18T02:00:00+00:00", "2026-11-18T03:00:00+00:00"),
])
def test_a_window_is_the_shanghai_hour_day_monday_week_or_month(at: str, period: str, start: str, end: str) -> None:
    begins = bucket_start(datetime.fromisoformat(at), period)
    assert begins.isoformat() == start
    assert bucket_end(begins, period).isoformat() == end
    assert bucket_end(previous_bucket(begins, period), period) == begins


def test_twelve_returns_after_ten_is_plus_twenty_percent_and_fires_with_its_figures() -> None:
    figures = figures_of(WOW, 12, 10)
    assert figures.change_bp == 2000 and figures.evaluable
    decision = decide(WOW, figures, open_firing=False, last_fired_at=None, now=NOW)
    assert decision.action == FIRE
    assert render(WOW.decl.notify[0].message, WOW, figures, "") == "周环比 +20%：本周 12，上周 10"


def test_one_to_two_is_below_the_minimum_volume_and_neither_fires_nor_clears() -> None:
    figures = figures_of(WOW, 2, 1)
    assert figures.change_bp == 10000 and not figures.evaluable
    assert decide(WOW, figures, open_firing=False, last_fired_at=None, now=NOW).action == QUIET
    assert decide(WOW, figures, open_firing=True, last_fired_at=NOW, now=NOW).action == HOLD_ON
    assert not figures_of(WOW, 30, 9).evaluable  # a change needs the previous window at the minimum too


def test_an_open_firing_sends_nothing_more_then_clears_when_the_condition_no_longer_holds() -> None:
    assert decide(WOW, figures_of(WOW, 20, 10), open_firing=True, last_fired_at=NOW, now=NOW).action == HOLD_ON
    cleared = decide(WOW, figures_of(WOW, 10, 12), open_firing=True, last_fired_at=NOW, now=NOW)
    assert cleared.action == CLEAR and cleared.figures.change_bp == -1667


def test_the_cooldown_holds_a_new_firing_until_a_day_has_passed_since_the_last() -> None:
    figures = figures_of(WOW, 13, 10)
    assert decide(WOW, figures, open_firing=False, last_fired_at=NOW - timedelta(hours=23),
                  now=NOW).action == COOLING
    assert decide(WOW, figures, open_firing=False, last_fired_at=NOW - timedelta(hours=24),
                  now=NOW).action == FIRE


def test_a_previous_window_of_zero_has_no_change_and_a_value_threshold_still_works() -> None:
    change_alert = _alert('measure count(returns) per day\nwhen change_vs_previous > 15%\nnotify 群 "x"')
    assert decide(change_alert, figures_of(change_alert, 5, 0), open_firing=False, last_fired_at=None,
                  now=NOW).action == QUIET
    value_alert = _alert('measure count(returns) per day\nminimum 3\nwhen value >= 5\nnotify 群 "x {previous}"')
    assert figures_of(value_alert, 5, 0).evaluable  # the previous window only matters to a change
    assert decide(value_alert, figures_of(value_alert, 5, 0), open_firing=False, last_fired_at=None,
                  now=NOW).action == FIRE


def test_a_measure_is_an_expression_over_its_series_figures() -> None:
    rate = _alert("measure count(returns) * 10000 / count(orders) per week\nwhen value > 100\nnotify 群 \"x\"")
    keys = {node.collection: s.key for node, s in rate.series.items()}
    assert measure_value(rate, {keys["returns"]: Stats(n=3), keys["orders"]: Stats(n=200)}) == 150
    assert measure_value(rate, {keys["returns"]: Stats(n=3)}) is None  # no orders: no rate
    avg = _alert("measure avg(amount of returns) per day\nwhen value > 100\nnotify 群 \"x\"")
    (series,) = avg.series.values()
    assert measure_value(avg, {series.key: Stats(n=4, total=1000)}) == 250


def test_two_alerts_counting_the_same_returns_share_one_series_and_a_changed_filter_gets_a_new_one() -> None:
    other = _alert('measure count(returns where reason == "面料起球") per week\nwhen value > 1\nnotify 群 "y"')
    changed = _alert('measure count(returns where reason == "色差") per week\nwhen value > 1\nnotify 群 "y"')
    (a,), (b,), (c,) = WOW.series.values(), other.series.values(), changed.series.values()
    assert a.key == b.key != c.key


def test_a_return_record_takes_the_reason_from_the_refund_and_the_category_from_its_line() -> None:
    doc = {"order_id": "T1", "channel": "taobao", "shop": "店", "lines": [
        {"line_id": "L1", "sku_id": "TEA", "category": "茶", "qty": 1},
        {"line_id": "L2", "sku_id": "SCARF", "category": "服装", "qty": 2}],
        "refunds": [{"refund_id": "R9", "line_id": "L2", "reason": "面料起球", "amount": 5000, "status": "requested"}]}
    record = return_record(doc, "R9", "L2", NOW)
    assert (record["reason"], record["sku_id"], record["category"], record["qty"], record["amount"]) == \
        ("面料起球", "SCARF", "服装", 2, 5000)
