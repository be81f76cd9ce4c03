"""The inventory section of ``orderpulse demo``: idempotent, the six fake platforms get stock
over signed HTTP through the connectors the published sources template declares, and its
alerts reach the fake Feishu bot of the templates' 仓储群."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from connectors.fakes import FEISHU_BOTS, FakeCounterparts
from engine.demo import publish_demo_templates
from engine.inventory.alert_delivery import register_alert_handler
from engine.inventory.audit import check_invariants
from engine.inventory.channels import CHANNELS, channel_registry
from engine.inventory.demo import DEMO_ALERT_CHANNEL, DEMO_STOCK, setup_inventory_demo
from engine.inventory.jobs import register_push_handler
from engine.inventory.push import PUSH_TOPIC, relay_pushes
from engine.inventory.service import ALERT_TOPIC, inventory_for
from engine.outbox.dispatcher import Dispatcher
from engine.storage.models import OutboxMessage


@pytest.fixture
def demo_fakes(services, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCounterparts]:
    """The demo's published templates and fake counterparts, the environment pointing at them,
    and a fresh gate when Redis is configured."""
    publish_demo_templates(services)
    with FakeCounterparts() as fakes:
        for name, value in fakes.environment().items():
            monkeypatch.setenv(name, value)
        inv = inventory_for(services)
        if inv.gate is not None:
            inv.gate.wipe()
            inv.ensure_gate()
        yield fakes
        if inv.gate is not None:
            inv.gate.wipe()


def test_demo_section_seeds_once_and_feeds_the_fake_platforms_over_http(services, demo_fakes) -> None:
    fakes, inv = demo_fakes, inventory_for(services)
    first = setup_inventory_demo(services, fakes.platforms, echo=False)
    setup_inventory_demo(services, fakes.platforms, echo=False)  # a second start changes nothing
    assert "stock goes to 6 platforms (抖音、快手、小程序、拼多多、天猫、小红书" in first[0]
    assert {sku: inv.get(sku)["total_stock"] for sku, _, _ in DEMO_STOCK} == {sku: q for sku, _, q in DEMO_STOCK}
    assert inv.get("SCARF-SILK")["reserved_stock"] == 1
    registry = channel_registry(services)
    assert registry.channels() == sorted(CHANNELS)
    register_push_handler(services)
    relay_pushes(inv.db, inv.clock, registry)
    Dispatcher(services, worker_id="demo").dispatch_due(now=services.clock.now(), limit=1000)
    with services.db.session() as s:
        statuses = set(s.scalars(select(OutboxMessage.status).where(OutboxMessage.topic == PUSH_TOPIC)))
    assert statuses == {"delivered"}
    shown = {channel: fake.shown("SCARF-SILK") for channel, fake in fakes.platforms.items()}
    # 15 in stock, 1 reserved: 14 everywhere, pdd holds back 2, douyin shows at most 5
    assert shown == {"douyin": 5, "taobao": 14, "pdd": 12, "kuaishou": 14, "xiaohongshu": 14, "miniprogram": 14}
    assert fakes.platforms["taobao"].shown("TEA-LJ-250") == 118  # 120 less DEMO-PDD-0001's 2
    assert check_invariants(inv.db) == []


def test_demo_alerts_reach_the_fake_feishu_bot_of_the_warehouse_group(services, demo_fakes) -> None:
    fakes, inv = demo_fakes, inventory_for(services)
    lines = setup_inventory_demo(services, fakes.platforms, echo=False)
    assert services.settings.inventory_alert_channel == DEMO_ALERT_CHANNEL == "仓储群"
    assert "仓储群" in lines[-1]
    register_push_handler(services)
    register_alert_handler(services)
    inv.raise_alert("channel_shows_more_than_available",
                    {"channel": "pdd", "skus": [{"sku_id": "SCARF-SILK", "reported": 30, "available": 12}]})
    Dispatcher(services, worker_id="demo").dispatch_due(now=services.clock.now(), limit=1000)
    with services.db.session() as s:
        statuses = set(s.scalars(select(OutboxMessage.status).where(OutboxMessage.topic == ALERT_TOPIC)))
    assert statuses == {"delivered"}
    warehouse_token = FEISHU_BOTS["warehouse"][2]
    assert {m["token"] for m in fakes.feishu.messages} == {warehouse_token}
    assert any(m["text"].startswith("库存告警：拼多多平台显示库存高于可售（SCARF-SILK 显示 30、可售 12）")
               for m in fakes.feishu.messages)
