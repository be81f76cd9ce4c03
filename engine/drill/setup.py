"""Setting up the drilled shop through OrderPulse's public API: every ruleset template of the
library imported and published (the sources with the scenario's ``pull orders every`` and
``retry``; durations against the promised ship time shrunk by the drill's speed), the
scenario's SKUs listed on the fake platforms' shops and stocked with ``POST /stock/adjust``.
Knows the API only; the fakes are handed in."""

from __future__ import annotations

import re
from typing import Any

import requests

from engine.drill.scenario import DayPlan, Scenario

SOURCES_TEMPLATE = "sources_six_channels"


class SetupFailed(RuntimeError):
    pass


def _ok(answer: requests.Response, what: str) -> Any:
    if answer.status_code >= 400:
        raise SetupFailed(f"{what}: HTTP {answer.status_code} {answer.text[:500]}")
    return answer.json() if answer.content else None


def drill_sources(text: str, scenario: Scenario) -> str:
    """The sources template with the drill's pull interval and retry schedule."""
    text = re.sub(r"pull orders every \S+", f"pull orders every {scenario.pull_orders_seconds}s", text)
    return re.sub(r"retry [^\n]+", f"retry {scenario.retry}", text)


_PROMISE_DURATIONS = re.compile(r"(late after |warn )(\d+)([smhd])(?= before promised_ship_at\b|\s*$)", re.MULTILINE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def drill_fulfillment(text: str, speed: float) -> str:
    """A ruleset with its durations measured against the platforms' promised ship time
    (``late after``, ``warn … before promised_ship_at``) shrunk by the drill's ``speed``, as the
    fake platforms shrink the promise itself: at 100x, a 4 h promise is 144 s of real time, and
    an unscaled ``warn 2h before`` would warn about every order the moment it arrives."""

    def scaled(match: re.Match[str]) -> str:
        seconds = int(match.group(2)) * _UNIT_SECONDS[match.group(3)]
        return f"{match.group(1)}{max(1, round(seconds / speed))}s"

    return _PROMISE_DURATIONS.sub(scaled, text)


def publish_rulesets(http: requests.Session, api: str, scenario: Scenario, speed: float) -> list[str]:
    templates = _ok(http.get(f"{api}/templates", timeout=30), "GET /templates")
    items = templates.get("items", templates) if isinstance(templates, dict) else templates
    names = [t["name"] for t in items if t.get("kind", "ruleset") == "ruleset"]
    for name in names:
        _ok(http.post(f"{api}/templates/{name}/import", json={}, timeout=30), f"import {name}")
        draft = _ok(http.get(f"{api}/rulesets/{name}/draft", timeout=30), f"GET {name} draft")
        content = drill_fulfillment(draft["content"], speed)
        if name == SOURCES_TEMPLATE:
            content = drill_sources(content, scenario)
        if content != draft["content"]:
            _ok(http.put(f"{api}/rulesets/{name}/draft", json={"content": content}, timeout=30), f"PUT {name} draft")
        _ok(http.post(f"{api}/rulesets/{name}/publish", json={"note": "drill"}, timeout=60), f"publish {name}")
    return names


def stock_the_shop(http: requests.Session, api: str, plan: DayPlan, platforms: dict[str, Any]) -> None:
    for fake in platforms.values():
        for code in plan.stock:
            if code not in fake.catalogue:
                (fake.add_item if hasattr(fake, "add_item") else fake.add_sku)(code, 0)
    for code, qty in plan.stock.items():
        if qty > 0:
            _ok(http.post(f"{api}/stock/adjust", json={"sku_id": code, "delta": qty, "reason": "大促备货"},
                          timeout=30), f"stock {code}")
