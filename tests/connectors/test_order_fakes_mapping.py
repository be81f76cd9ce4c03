"""The fakes speak the field names the templates' mappings read: an order made in each fake
(Kuaishou, Xiaohongshu, the mini-program shop), fetched over HTTP by its order client and run
through the ``sources_six_channels`` mapping of its platform, comes out with the exact fen,
UTC instants, merchant SKU codes, canonical status and masked receiver a person would check.

The order: 2 × TEA-LJ-250 at 16800 and 1 × TSHIRT-W-M at 8990 (goods 42590), discounts 500
(platform) + 1000 (shop) = 1500 split 1183 / 317 by amount (33600 : 8990, largest remainder to
the second line), freight 800: the buyer pays 42590 − 1500 + 800 = 41890; created at
2025-12-03 00:00:00 UTC, paid a second later.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest

from connectors.fakes.kuaishou_orders import OID_BASE
from connectors.fakes.kuaishou_stock import FakeKuaishouStock
from connectors.fakes.miniprogram_orders import out_trade_no_of
from connectors.fakes.miniprogram_stock import FakeMiniprogramStock
from connectors.fakes.order_scenario import OrderScenario, ScenarioOrder
from connectors.fakes.xiaohongshu_orders import order_id_of
from connectors.fakes.xiaohongshu_stock import FakeXiaohongshuStock
from connectors.kuaishou_orders import KuaishouOrderClient
from connectors.kuaishou_stock import KuaishouStockConnector
from connectors.miniprogram_orders import MiniprogramOrderClient
from connectors.miniprogram_stock import MiniprogramStockConnector
from connectors.xiaohongshu_orders import XiaohongshuOrderClient
from connectors.xiaohongshu_stock import XiaohongshuStockConnector
from dsl import parse_text
from engine.orders.mapping import CompiledMapping, compile_ruleset_mappings
from tests.connectors.order_support import Clock

CREATED = datetime(2025, 12, 3, 0, 0, 0, tzinfo=UTC)
PAID = datetime(2025, 12, 3, 0, 0, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def mappings() -> dict[str, CompiledMapping]:
    text = resources.files("templates_library").joinpath("sources_six_channels.op").read_text(encoding="utf-8")
    return compile_ruleset_mappings(parse_text(text, "sources_six_channels.op"))


def make_order(scenario: OrderScenario) -> ScenarioOrder:
    return scenario.create([("TEA-LJ-250", 2), ("TSHIRT-W-M", 1)], freight=800, platform_discount=500,
                           seller_discount=1000)


def lines(order: dict[str, Any]) -> list[tuple[str, int, int | None]]:
    return [(line["sku_id"], line["qty"], line.get("paid_amount")) for line in order["lines"]]


def test_kuaishou_orders_map_one_item_each(mappings: dict[str, CompiledMapping]) -> None:
    clock = Clock()
    with FakeKuaishouStock("ks1", "s", "t", scenario=OrderScenario(seed=1, now=clock), now=clock) as fake:
        made = make_order(fake.scenario)
        ks = KuaishouOrderClient(KuaishouStockConnector(app_key="ks1", app_secret="s", access_token="t",
                                                        base_url=fake.url, clock=clock), clock=clock)
        first = mappings["kuaishou"].apply(ks.order_detail(str(OID_BASE + made.number * 100 + 1)))
        second = mappings["kuaishou"].apply(ks.order_detail(str(OID_BASE + made.number * 100 + 2)))
    assert first["channel"] == "kuaishou" and first["order_id"] == str(OID_BASE + made.number * 100 + 1)
    assert first["status"] == "awaiting_shipment" and first["created_at"] == CREATED and first["paid_at"] == PAID
    assert first["freight"] == 800 and first["payment"]["paid_amount"] == 33600 - 1183 + 800
    assert second["freight"] == 0 and second["payment"]["paid_amount"] == 8990 - 317
    assert [(x["sku_id"], x["qty"]) for x in first["lines"]] == [("TEA-LJ-250", 2)]
    # a line's paid share: two at ¥168.00 less the line's ¥11.83 discount, not the unit price
    assert [x["paid_amount"] for x in first["lines"]] == [33600 - 1183]
    assert [x["paid_amount"] for x in second["lines"]] == [8990 - 317]
    phone = made.buyer.phone
    assert first["receiver"]["phone"] == phone[:3] + "****" + phone[-4:]
    assert first["receiver"]["province"] == made.buyer.province and first["receiver"]["cipher"]["phone"]


def test_xiaohongshu_orders_map_with_their_masked_receiver(mappings: dict[str, CompiledMapping]) -> None:
    clock = Clock()
    with FakeXiaohongshuStock("app", "sec", "tok", scenario=OrderScenario(seed=1, now=clock), now=clock) as fake:
        made = make_order(fake.scenario)
        xhs = XiaohongshuOrderClient(XiaohongshuStockConnector(app_key="app", app_secret="sec", access_token="tok",
                                                               base_url=fake.url, clock=clock),
                                     push_url="/push", clock=clock)
        order = mappings["xiaohongshu"].apply(xhs.order_detail(order_id_of(made)))
    assert order["order_id"] == order_id_of(made) and order["status"] == "awaiting_shipment"
    assert order["created_at"] == CREATED and order["paid_at"] == PAID and order["updated_at"] == PAID
    assert order["freight"] == 800 and order["payment"]["paid_amount"] == 41890
    assert lines(order) == [("TEA-LJ-250", 2, 33600 - 1183), ("TSHIRT-W-M", 1, 8990 - 317)]
    assert [line["amount"] for line in order["lines"]] == [33600, 8990]
    phone = made.buyer.phone
    assert order["receiver"]["phone"] == phone[:3] + "****" + phone[-4:] and phone not in str(order)


def test_miniprogram_orders_map_as_the_shop_sends_them(mappings: dict[str, CompiledMapping]) -> None:
    clock = Clock()
    with FakeMiniprogramStock("op", "sec", scenario=OrderScenario(seed=1, now=clock), now=clock) as fake:
        made = make_order(fake.scenario)
        mini = MiniprogramOrderClient(MiniprogramStockConnector(app_key="op", app_secret="sec", base_url=fake.url,
                                                                clock=clock), clock=clock)
        order = mappings["miniprogram"].apply(mini.order_detail(out_trade_no_of(made)))
        fake.scenario.cancel(made.number)
        cancelled = mappings["miniprogram"].apply(mini.order_detail(out_trade_no_of(made)))
    assert order["order_id"] == out_trade_no_of(made) and order["status"] == "awaiting_shipment"
    assert order["created_at"] == CREATED and order["updated_at"] == PAID
    assert order["freight"] == 800 and order["payment"]["paid_amount"] == 41890
    assert lines(order) == [("TEA-LJ-250", 2, 33600 - 1183), ("TSHIRT-W-M", 1, 8990 - 317)]
    assert order["receiver"]["phone"] == made.buyer.phone and order["receiver"]["district"] == made.buyer.district
    assert cancelled["status"] == "cancelled" and cancelled["updated_at"] > order["updated_at"]
