"""面料起球 returns through the real path — the Taobao fake over HTTP, the puller, the pipeline's
stages, the after-sales tickets the refunds open — counted into the alert's hourly measure, and
the alert's messages reaching the quality team's Feishu group (the fake bot checks the
signature), on the manual clock:

hour 1: 3 returns; hour 2: 4 returns → +33% > 15% fires once with the figures, a 5th changes
nothing; hour 3: 3 returns (−25%) clears it with its message, then 5 (+25%) would fire again
but the one-day cool-down holds it. The same measure with ``minimum 10`` never fires, nor does a
different reason. A 客服组长 acknowledges the firing: who and when are kept and shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.fakes import FakeFeishuBot
from engine.alerts.service import run_alerts
from engine.orders.pipeline import Pipeline
from engine.scheduler import Scheduler
from tests.alerts.support import feishu_bot, publish_new
from tests.conftest import auth
from tests.order_tickets.support import publish
from tests.orders_in.conftest import platforms  # noqa: F401 - fixture
from tests.orders_in.test_pulling import scheduler, tick  # noqa: F401 - fixture
from tests.pipeline.test_end_to_end import PULL_EVERY, TEMPLATES, _stock
from tests.shipping.conftest import _writeback_handler, dispatch  # noqa: F401 - fixture

TOKEN, SECRET = "qc-alert-hook", "qc-alert-secret"
RULES = """\
channel 品控告警群 feishu { webhook env OP_QC_HOOK, secret env OP_QC_SECRET }

alert 面料起球预警 {
    measure count(returns where reason == "面料起球") per hour
    minimum 3
    cooldown 1d
    when change_vs_previous > 15%
    notify 品控告警群 "面料起球退货环比上升 {change}：本时段 {value} 件，上时段 {previous} 件"
    clear notify 品控告警群 "面料起球退货已回落（{change}）：本时段 {value} 件，上时段 {previous} 件"
}

alert 面料起球大量预警 {
    measure count(returns where reason == "面料起球") per hour
    minimum 10
    when change_vs_previous > 15%
    notify 品控告警群 "不应发送 {value}"
}

alert 色差预警 {
    measure count(returns where reason == "色差") per hour
    when value >= 1
    notify 品控告警群 "不应发送：色差 {value}"
}
"""


@pytest.fixture
def feishu(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFeishuBot]:
    with feishu_bot(monkeypatch, TOKEN, SECRET, "OP_QC_HOOK", "OP_QC_SECRET") as bot:
        yield bot


def _returns(services: Any, scheduler: Scheduler, fake: Any, count: int,  # noqa: F811
             reason_code: str = "fabric_pilling") -> None:
    """``count`` orders arrive, ship on the platform and are refunded for ``reason_code``, all
    through the puller and the pipeline."""
    orders = [fake.scenario.create([("TEA-LJ-250", 1)], freight=0, platform_discount=0, seller_discount=0)
              for _ in range(count)]
    tick(services, scheduler, PULL_EVERY)
    Pipeline(services).run_due()
    for order in orders:
        fake.scenario.ship(order.number)
    services.clock.advance(5)
    for order in orders:
        fake.scenario.refund(order.number, line_no=1, reason_code=reason_code)
    tick(services, scheduler, PULL_EVERY)
    Pipeline(services).run_due()


def _next_hour(services: Any) -> None:
    """Move the clock to five minutes past the next hour."""
    now = services.clock.now()
    services.clock.advance(3600 - (now.minute * 60 + now.second) + 300)


def _firings(client: Any, token: str, **params: str) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/alerts", query_string=params, headers=auth(token))
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


def test_fabric_pilling_returns_fire_once_with_their_figures_clear_on_recovery_and_respect_the_cooldown(
        services: Any, platforms: Any, scheduler: Scheduler, feishu: FakeFeishuBot,  # noqa: F811
        client: Any, tokens: dict[str, str]) -> None:
    publish(services, *TEMPLATES)
    publish_new(services, "quality_alerts", RULES)
    _stock(services)
    fake = platforms["taobao"]
    _next_hour(services)

    _returns(services, scheduler, fake, 3)
    _returns(services, scheduler, fake, 1, reason_code="size_mismatch")
    run_alerts(services)
    assert _firings(client, tokens["ops"], alert="面料起球预警") == []

    _next_hour(services)
    _returns(services, scheduler, fake, 2)
    run_alerts(services)  # 2 vs 3: below the minimum of 3 — nothing, though −33%
    assert _firings(client, tokens["ops"]) == []
    _returns(services, scheduler, fake, 2)
    fired = run_alerts(services)
    assert [(o.alert, o.action) for o in fired.outcomes] == [("面料起球预警", "fire")]
    _returns(services, scheduler, fake, 1)
    assert run_alerts(services).outcomes == []  # still firing: one condition, one message
    dispatch(services)
    assert [m["text"] for m in feishu.messages] == ["面料起球退货环比上升 +33.33%：本时段 4 件，上时段 3 件"]

    (firing,) = _firings(client, tokens["cs"], state="firing")
    assert (firing["alert"], firing["ruleset"], firing["ruleset_version"]) == ("面料起球预警", "quality_alerts", 1)
    assert firing["figures"]["value"] == 4 and firing["figures"]["previous"] == 3
    assert firing["figures"]["change_vs_previous"] == "+33.33%" and firing["delivery_status"] == "delivered"
    assert firing["window"]["period"] == "hour" and firing["channels"] == ["品控告警群"]

    _next_hour(services)
    _returns(services, scheduler, fake, 3)
    cleared = run_alerts(services)
    assert [(o.alert, o.action) for o in cleared.outcomes] == [("面料起球预警", "clear")]
    _returns(services, scheduler, fake, 2)  # 5 vs 5 of the hour before: holds no more… and
    _returns(services, scheduler, fake, 1)  # 6 vs 5 = +20%: holds again, within the one-day cool-down
    assert run_alerts(services).outcomes == []
    dispatch(services)
    assert [m["text"] for m in feishu.messages][1:] == ["面料起球退货已回落（-40%）：本时段 3 件，上时段 5 件"]

    (done,) = _firings(client, tokens["ops"])
    assert done["state"] == "cleared" and done["cleared_at"] is not None
    assert done["clear_figures"]["value"] == 3 and done["clear_figures"]["previous"] == 5
    assert _firings(client, tokens["ops"], state="firing") == []
    assert _firings(client, tokens["ops"], alert="色差预警,面料起球大量预警") == []

    refused = client.post(f"/api/v1/alerts/{done['id']}/ack", headers=auth(tokens["finance"]))
    assert refused.status_code == 403
    acked = client.post(f"/api/v1/alerts/{done['id']}/ack", headers=auth(tokens["cs_lead"]))
    assert acked.status_code == 200, acked.get_json()
    body = acked.get_json()
    assert body["acknowledged_by"] == "user_cs_lead"
    assert body["acknowledged_at"] == services.clock.now().isoformat()
    again = client.post(f"/api/v1/alerts/{done['id']}/ack", headers=auth(tokens["ops"]))
    assert again.status_code == 409 and "user_cs_lead" in again.get_json()["error"]["message"]
    assert [f["id"] for f in _firings(client, tokens["ops"], state="acknowledged")] == [done["id"]]
