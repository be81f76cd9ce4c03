"""The alerts_standard template imports as a draft, checks clean, publishes (a 管理员: it declares
a channel) and every alert in it runs: compiled, its series back-filled, evaluated."""

from __future__ import annotations

from typing import Any

from engine.alerts.published import published_alerts
from engine.alerts.service import run_alerts
from engine.inventory.service import inventory_for
from tests.conftest import auth


def test_alerts_standard_imports_checks_publishes_and_every_alert_runs(services: Any, client: Any,
                                                                       tokens: dict[str, str]) -> None:
    listed = client.get("/api/v1/templates", headers=auth(tokens["ops"])).get_json()
    assert "alerts_standard" in [t["name"] for t in (listed["items"] if isinstance(listed, dict) else listed)]
    imported = client.post("/api/v1/templates/alerts_standard/import", headers=auth(tokens["admin"]))
    assert imported.status_code in (200, 201), imported.get_json()
    checked = client.post("/api/v1/rulesets/alerts_standard/check", headers=auth(tokens["admin"]))
    assert checked.status_code == 200 and checked.get_json()["ok"] is True, checked.get_json()
    published = client.post("/api/v1/rulesets/alerts_standard/publish", json={"note": "标准预警"},
                            headers=auth(tokens["admin"]))
    assert published.status_code in (200, 201), published.get_json()

    with services.db.session() as s:
        alerts = published_alerts(s).alerts
    assert sorted(a.name for a in alerts) == ["库存不足预警", "退货原因周环比预警", "退货率周环比预警", "面料起球预警"]
    assert {a.decl.minimum for a in alerts} == {None, 10, 50}
    assert {a.decl.cooldown for a in alerts} == {72 * 3600, 12 * 3600}
    assert [a.name for a in alerts if a.level] == ["库存不足预警"]  # read as it is now: nothing to back-fill
    run = run_alerts(services)
    assert len(run.backfilled) == 4  # 面料起球, the other reasons by reason, all returns, all orders
    assert run.outcomes == []  # no returns yet: nothing reaches a minimum; no stock yet
    inventory_for(services).adjust("TEA-LJ-250", 19, "入库")
    inventory_for(services).adjust("SCARF-SILK", 20, "入库")
    fired = run_alerts(services).outcomes
    assert [(o.alert, o.group, o.action) for o in fired] == [("库存不足预警", "TEA-LJ-250", "fire")]
