"""A stock level alert through the real path: orders from the Taobao fake over HTTP, pulled and
reserved by the pipeline, bring one SKU's sellable stock below the threshold; the alert reads the
stock as it is now (no window), fires once for that SKU with the figure — the other SKUs stay
quiet — and its message reaches the warehouse's Feishu group (the fake bot checks the
signature). A restock through ``POST /api/v1/stock/adjust`` clears it with its message; a second
fall inside the cool-down sends nothing. The checker refuses what a level cannot mean."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.fakes import FakeFeishuBot
from engine.alerts.service import run_alerts
from engine.inventory.service import inventory_for
from engine.orders.pipeline import Pipeline
from engine.scheduler import Scheduler
from tests.alerts.support import alert_errors, feishu_bot, publish_new
from tests.alerts.test_alerts_end_to_end import _firings
from tests.conftest import auth
from tests.order_tickets.support import publish
from tests.orders_in.conftest import platforms  # noqa: F401 - fixture
from tests.orders_in.test_pulling import scheduler, tick  # noqa: F401 - fixture
from tests.pipeline.test_end_to_end import PULL_EVERY, TEMPLATES, _stock
from tests.shipping.conftest import _writeback_handler, dispatch  # noqa: F401 - fixture

TOKEN, SECRET = "wh-alert-hook", "wh-alert-secret"
RULES = """\
channel 仓储告警群 feishu { webhook env OP_WH_HOOK, secret env OP_WH_SECRET }

alert 库存不足预警 {
    measure sum(available of stock) by sku_id
    cooldown 12h
    when value < 8
    notify 仓储告警群 "{group} 可售库存仅剩 {value} 件"
    clear notify 仓储告警群 "{group} 库存已回升到 {value} 件"
}
"""


@pytest.fixture
def feishu(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeFeishuBot]:
    with feishu_bot(monkeypatch, TOKEN, SECRET, "OP_WH_HOOK", "OP_WH_SECRET") as bot:
        yield bot


def _orders(services: Any, scheduler: Scheduler, fake: Any, *qty: int) -> None:  # noqa: F811
    """One order of TEA-LJ-250 per quantity, pulled and run through the pipeline (reserved)."""
    for n in qty:
        fake.scenario.create([("TEA-LJ-250", n)], freight=0, platform_discount=0, seller_discount=0)
    tick(services, scheduler, PULL_EVERY)
    Pipeline(services).run_due()


def _available(services: Any, sku: str) -> int:
    item = inventory_for(services).get(sku)
    assert item is not None
    return int(item["available"])


def test_a_sku_falling_below_its_threshold_fires_once_clears_on_restock_and_respects_the_cooldown(
        services: Any, platforms: Any, scheduler: Scheduler, feishu: FakeFeishuBot,  # noqa: F811
        client: Any, tokens: dict[str, str]) -> None:
    publish(services, *TEMPLATES)
    publish_new(services, "stock_alerts", RULES)
    _stock(services)  # TEA-LJ-250 50, SCARF-SILK 20, GIFT-SCARF 10: none below 8
    fake = platforms["taobao"]
    assert run_alerts(services).outcomes == []

    _orders(services, scheduler, fake, 20, 20)
    assert _available(services, "TEA-LJ-250") == 10
    assert run_alerts(services).outcomes == []  # 10: not below 8
    _orders(services, scheduler, fake, 5)
    assert _available(services, "TEA-LJ-250") == 5
    fired = run_alerts(services)
    assert [(o.alert, o.group, o.action) for o in fired.outcomes] == [("库存不足预警", "TEA-LJ-250", "fire")]
    _orders(services, scheduler, fake, 1)
    assert run_alerts(services).outcomes == []  # still below: one condition, one message
    dispatch(services)
    assert [m["text"] for m in feishu.messages] == ["TEA-LJ-250 可售库存仅剩 5 件"]

    (firing,) = _firings(client, tokens["warehouse"], state="firing")
    assert (firing["alert"], firing["group"], firing["figures"]["value"]) == ("库存不足预警", "TEA-LJ-250", 5)
    assert firing["figures"]["previous"] is None and firing["window"]["period"] == "now"
    assert firing["delivery_status"] == "delivered" and firing["channels"] == ["仓储告警群"]

    restocked = client.post("/api/v1/stock/adjust", json={"sku_id": "TEA-LJ-250", "delta": 30, "reason": "到货入库"},
                            headers=auth(tokens["warehouse"]))
    assert restocked.status_code == 200, restocked.get_json()
    cleared = run_alerts(services)
    assert [(o.group, o.action) for o in cleared.outcomes] == [("TEA-LJ-250", "clear")]
    _orders(services, scheduler, fake, 28)  # 34 − 28 = 6: below again, inside the 12 h cool-down
    assert _available(services, "TEA-LJ-250") == 6
    assert run_alerts(services).outcomes == []
    dispatch(services)
    assert [m["text"] for m in feishu.messages][1:] == ["TEA-LJ-250 库存已回升到 34 件"]
    (done,) = _firings(client, tokens["ops"], alert="库存不足预警")
    assert done["state"] == "cleared" and done["clear_figures"]["value"] == 34

    services.clock.advance(12 * 3600 + 1)  # the cool-down over: the same SKU fires again
    again = run_alerts(services)
    assert [(o.group, o.action) for o in again.outcomes] == [("TEA-LJ-250", "fire")]


@pytest.mark.parametrize(("measure", "message"), [
    ("sum(available of stock) per day by sku_id when value < 8",
     "stock is read as it is now, not per window: drop 'per day'"),
    ("sum(available of stock) by sku_id when change_vs_previous < -50%",
     "'change_vs_previous' compares with the previous window; a stock level has none"),
    ("sum(available of stock) + count(orders) when value < 8",
     "stock is read as it is now and cannot be mixed with counted records"),
    ("count(orders) when value > 8", "a measure of counted records needs its window: 'per hour'"),
    ("sum(avaliable of stock) when value < 8", "unknown stock field 'avaliable'; did you mean 'available'?"),
])
def test_the_checker_says_what_a_stock_level_cannot_mean(measure: str, message: str) -> None:
    errors = alert_errors(measure, "stock.op")
    assert errors and message in errors[0], errors
    assert errors[0].startswith("stock.op:2:")
