"""The drill's scenario file: the default peak day loads, a wrong field is named by its path,
and the day's plan keeps the promises the scenario makes (Zipf demand, hot SKUs stocked below
demand, the evening peak, the shares)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from engine.drill.scenario import DEFAULT_SCENARIO, ScenarioError, load_scenario, plan_day, scenario_from_dict

CI_DAY = Path(__file__).with_name("ci_day.toml")


def test_the_default_peak_day_is_27000_orders_on_six_channels_with_the_fault_timeline() -> None:
    s = load_scenario()
    assert s.orders == 27000
    assert set(s.channels) == {"douyin", "taobao", "pdd", "kuaishou", "xiaohongshu", "miniprogram"}
    assert {f.kind for f in s.faults} == {"platform_5xx", "platform_timeout", "platform_down", "bad_signatures",
                                         "redis_restart", "worker_kill"}
    assert load_scenario(orders=500).orders == 500


def _raw() -> dict:
    return tomllib.loads(DEFAULT_SCENARIO.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("change", "path"), [
    (lambda d: d["channels"].update(jd=3), "channels.jd"),
    (lambda d: d["returns"].update(rate=1.5), "returns.rate"),
    (lambda d: d["returns"]["reasons"].update(too_ugly=1), "returns.reasons.too_ugly"),
    (lambda d: d["day"].update(hourly_shape=[1] * 23), "day.hourly_shape"),
    (lambda d: d["faults"][0].update(kind="meteor"), "faults[0].kind"),
    (lambda d: d["faults"][0].update(platform="jd"), "faults[0].platform"),
    (lambda d: d["sources"].pop("retry"), "sources.retry"),
])
def test_a_wrong_field_is_refused_with_its_path(change, path: str) -> None:
    data = _raw()
    change(data)
    with pytest.raises(ScenarioError) as err:
        scenario_from_dict(data)
    assert err.value.path == path


def test_the_plan_has_zipf_demand_hot_skus_short_of_demand_and_an_evening_peak() -> None:
    s = load_scenario(CI_DAY, orders=3000)
    plan = plan_day(s, seed=3)
    assert len(plan.orders) == 3000
    assert [o.at_hour for o in plan.orders] == sorted(o.at_hour for o in plan.orders)
    ranked = sorted(plan.demand.values(), reverse=True)
    assert ranked[0] > 3 * ranked[len(ranked) // 2]  # a long tail
    for code in plan.hot:
        assert plan.stock[code] < plan.demand[code]
    for code in set(plan.stock) - set(plan.hot):
        assert plan.stock[code] >= plan.demand[code]
    evening = sum(1 for o in plan.orders if 20 <= o.at_hour < 22)
    night = sum(1 for o in plan.orders if 2 <= o.at_hour < 4)
    assert evening > 10 * night
    douyin = sum(1 for o in plan.orders if o.channel == "douyin") / len(plan.orders)
    assert 0.28 < douyin < 0.40
    returned = [o for o in plan.orders if o.returned]
    assert 0.10 < len(returned) / len(plan.orders) < 0.20
    assert any(o.qc_fails for o in returned) and any(o.approval_twice for o in returned)
    assert any(o.risky_buyer is not None for o in plan.orders) and any(o.presale for o in plan.orders)
    assert plan_day(s, seed=3) == plan  # the same seed, the same day
