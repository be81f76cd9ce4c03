"""The alerts' job runs when orders commit, not only at its period: with the background runner's
period at an hour, two orders stored (by the order store, in their own transaction) wake it; it
counts them and the alert fires — on SQLite by the in-process signal, on PostgreSQL by the
per-schema notification its listener hears."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from engine.alerts.models import AlertFiring
from engine.orders import store
from engine.rulesets import service as rulesets
from tests.support.woken_job import runner_with, wait_until

RULES = """\
channel 运营群 feishu { webhook env OP_OPS_HOOK, secret env OP_OPS_SECRET }

alert 今日订单 {
    measure count(orders where channel == "miniprogram") per day
    when value >= 2
    notify 运营群 "今日小程序订单 {value} 单"
}
"""


def _order(services: Any, i: int) -> dict[str, Any]:
    at = services.clock.now()
    return {"order_id": f"MP{i}", "channel": "miniprogram", "shop": "小程序", "status": "awaiting_shipment",
            "created_at": at, "paid_at": at, "updated_at": at + timedelta(seconds=1),
            "lines": [{"line_id": "1", "sku_id": "TEA", "title": "茶", "qty": 1, "unit_price": 100, "amount": 100}],
            "freight": 0, "payment": {"method": "wechat", "paid_amount": 100}}


def _firings(services: Any) -> list[str]:
    with services.db.session() as s:
        return list(s.scalars(select(AlertFiring.message)))


def test_orders_committing_wake_the_alerts_job_which_counts_them_and_fires(services: Any) -> None:
    with services.db.transaction(immediate=True) as s:
        rulesets.create_ruleset(s, name="ops", actor="ops", now=services.clock.now(), content=RULES)
        rulesets.publish(s, "ops", actor="ops", now=services.clock.now())
    with runner_with(services, "engine.alerts.jobs", "alerts.measures") as job:
        assert _firings(services) == []
        store.store_orders(services.db, [store.Incoming(_order(services, i), "miniprogram", "push", None, "test")
                                         for i in range(2)], now=services.clock.now())
        wait_until(lambda: _firings(services) == ["今日小程序订单 2 单"], "the firing")
        wait_until(lambda: job.woken_runs >= 1, "the woken run counted")  # counted once its run returned
        assert job.runs >= 2  # the first pass, then the woken run
