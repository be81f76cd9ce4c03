"""Inventory alerts reach the merchant's alert channel: the channel named by
``ORDERPULSE_INVENTORY_ALERT_CHANNEL`` is looked up in the published rulesets and the alert
goes, in Chinese, through the same connector a workflow ``notify`` uses (real HTTP to the fake
bots, signatures checked by them). No channel configured: the row is delivered and the log
says why. A channel no ruleset declares: the row fails naming it, ends dead, and is
delivered once the channel is declared and the row replayed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from connectors.fakes import FakeFeishuBot, FakeWeComBot
from engine.config import Settings
from engine.errors import Conflict
from engine.inventory.alert_delivery import register_alert_handler
from engine.inventory.channels import register_stock_connector
from engine.inventory.gate import RedisGate
from engine.inventory.jobs import register_push_handler
from engine.inventory.service import ALERT_TOPIC, InventoryService, make_gate_client
from engine.inventory.snapshots import pull_snapshot
from engine.outbox.admin import replay_dead
from engine.outbox.dispatcher import Dispatcher
from engine.rulesets import service as rulesets
from engine.services import Services
from engine.storage.models import OutboxMessage
from tests.inventory.fake_channel import FakeChannel

FEISHU_TOKEN = "warehouse-alert-hook"
FEISHU_SECRET = "warehouse-alert-secret"
WECOM_KEY = "wecom-alert-key"
CHANNELS = """\
channel 仓储群 feishu { webhook env OP_ALERT_HOOK, secret env OP_ALERT_SECRET }
channel 客服组长群 wecom { key env OP_ALERT_WECOM_KEY }
"""
# 2026-11-11 00:00 UTC, the manual clock's start, in Beijing time.
RAISED = "（北京时间 2026-11-11 08:00:00）"


@pytest.fixture
def bots(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeFeishuBot, FakeWeComBot]]:
    with FakeFeishuBot({FEISHU_TOKEN: FEISHU_SECRET}) as feishu, FakeWeComBot([WECOM_KEY]) as wecom:
        monkeypatch.setenv("ORDERPULSE_FEISHU_BASE_URL", feishu.url)
        monkeypatch.setenv("ORDERPULSE_WECOM_BASE_URL", wecom.url)
        monkeypatch.setenv("OP_ALERT_HOOK", f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_TOKEN}")
        monkeypatch.setenv("OP_ALERT_SECRET", FEISHU_SECRET)
        monkeypatch.setenv("OP_ALERT_WECOM_KEY", WECOM_KEY)
        yield feishu, wecom  # type: ignore[misc]


def publish(services: Services, name: str, content: str) -> None:
    with services.db.transaction(immediate=True) as s:
        rulesets.create_ruleset(s, name=name, actor="ops", now=services.clock.now(), content=content)
        rulesets.publish(s, name, actor="ops", now=services.clock.now())


def alerts_to(services: Services, channel: str | None) -> None:
    """Configure the alert channel as ORDERPULSE_INVENTORY_ALERT_CHANNEL would, and register
    the handler as the background runner does."""
    services.settings = replace(services.settings, inventory_alert_channel=channel)
    register_alert_handler(services)


def alert_rows(services: Services) -> list[OutboxMessage]:
    with services.db.session() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.topic == ALERT_TOPIC)
                              .order_by(OutboxMessage.id)))


def dispatch(services: Services) -> int:
    return Dispatcher(services, worker_id="alerts").dispatch_due()


def redis_down_inventory(services: Services) -> InventoryService:
    """An inventory whose gate points at a port nobody listens on: Redis is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gate = RedisGate(make_gate_client(f"redis://127.0.0.1:{port}/0", timeout=0.2), "op:alerts-down:")
    return InventoryService(services.db, services.clock, gate)


def test_redis_down_alert_reaches_the_warehouse_feishu_group_signed(services, bots) -> None:
    feishu, _ = bots
    publish(services, "shop", CHANNELS)
    alerts_to(services, "仓储群")
    inv = redis_down_inventory(services)
    inv.adjust("TEA-LJ-250", 2, "inbound")
    assert inv.reserve("o1", [{"sku_id": "TEA-LJ-250", "qty": 1}]).gate == "bypassed"

    assert dispatch(services) == 1
    [row] = alert_rows(services)
    assert (row.status, row.attempts) == ("delivered", 1)
    assert feishu.messages == [{
        "token": FEISHU_TOKEN,
        "text": f"库存告警：库存闸门已旁路（Redis 不可用：ConnectionError），由数据库直接判定。{RAISED}"}]
    body = feishu.requests[0].json
    assert body["timestamp"].isdigit() and body["sign"]  # checked by the fake bot against the secret


def test_a_wrong_secret_is_refused_by_the_bot_and_the_alert_retried(services, bots, clock, monkeypatch) -> None:
    feishu, _ = bots
    publish(services, "shop", CHANNELS)
    alerts_to(services, "仓储群")
    monkeypatch.setenv("OP_ALERT_SECRET", "not-the-secret")
    InventoryService(services.db, services.clock).raise_alert("gate_bypassed", {"reason": "no_epoch"})

    assert dispatch(services) == 1
    [row] = alert_rows(services)
    assert row.status == "pending" and "Feishu bot: code 19021" in (row.last_error or "")
    assert "not-the-secret" not in (row.last_error or "") and feishu.messages == []

    monkeypatch.setenv("OP_ALERT_SECRET", FEISHU_SECRET)
    clock.advance(30)
    assert dispatch(services) == 1
    assert alert_rows(services)[0].status == "delivered"
    assert feishu.messages[0]["text"].startswith("库存告警：库存闸门已旁路（Redis 中的库存缓存缺失或 Redis 已重启")


def test_platform_showing_more_than_available_goes_to_a_wecom_channel(services, bots) -> None:
    _, wecom = bots
    publish(services, "shop", CHANNELS)
    alerts_to(services, "客服组长群")
    pdd = FakeChannel("pdd")
    register_stock_connector(services, pdd)
    register_push_handler(services)
    inv = InventoryService(services.db, services.clock)
    inv.adjust("SCARF-SILK", 5, "inbound")
    pdd.show("SCARF-SILK", 50)
    assert pull_snapshot(inv, "pdd", pdd.fetch_stock).drift

    dispatch(services)
    assert [r.status for r in alert_rows(services)] == ["delivered"]
    assert [m["content"] for m in wecom.messages] == [
        f"库存告警：拼多多平台显示库存高于可售（SCARF-SILK 显示 50、可售 5），有超卖风险。{RAISED}"]
    assert pdd.shown == {"SCARF-SILK": 5}
    inv.close()


def test_without_an_alert_channel_the_row_is_delivered_and_the_log_says_why(services, bots, log_stream) -> None:
    feishu, wecom = bots
    publish(services, "shop", CHANNELS)
    alerts_to(services, None)
    InventoryService(services.db, services.clock).raise_alert("gate_bypassed", {"reason": "epoch_changing"})

    assert dispatch(services) == 1
    [row] = alert_rows(services)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)
    assert feishu.requests == [] and wecom.requests == []
    events = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    [note] = [e for e in events if e["event"] == "inventory alert not sent: no alert channel configured"]
    assert note["setting"] == "ORDERPULSE_INVENTORY_ALERT_CHANNEL" and note["kind"] == "gate_bypassed"
    assert note["delivery_id"] == row.delivery_id


def test_an_undeclared_channel_fails_naming_it_and_is_replayed_once_declared(services, bots, clock) -> None:
    feishu, _ = bots
    publish(services, "shop", CHANNELS)
    alerts_to(services, "补货群")
    InventoryService(services.db, services.clock).raise_alert("gate_drift_repaired", {"skus": ["A", "B"],
                                                                                      "orphans": 1})
    for wait in (0, 30, 120, 300):  # the default schedule: four attempts, then dead
        clock.advance(wait)
        assert dispatch(services) == 1
    [row] = alert_rows(services)
    assert (row.status, row.attempts) == ("dead", 4)
    assert row.last_error == (
        "AlertChannelError: inventory alert channel '补货群' (set by ORDERPULSE_INVENTORY_ALERT_CHANNEL): "
        "no published ruleset declares channel 补货群; declare it in a ruleset and publish, or name a declared channel")
    assert feishu.requests == []

    publish(services, "restock", "channel 补货群 feishu { webhook env OP_ALERT_HOOK, secret env OP_ALERT_SECRET }\n")
    with services.db.transaction(immediate=True) as s:
        replay_dead(s, [row.id], now=clock.now(), actor="admin")
    assert dispatch(services) == 1
    assert alert_rows(services)[0].status == "delivered"
    assert feishu.messages[0]["text"] == (
        f"库存告警：Redis 库存闸门与数据库不一致，已按数据库修正 SKU A、B，并释放 1 个下单中断留下的 Redis 预占。{RAISED}")


def test_a_second_ruleset_cannot_take_the_alert_channel_and_alerts_keep_their_group(services, bots) -> None:
    feishu, wecom = bots
    publish(services, "shop", CHANNELS)
    with pytest.raises(Conflict) as refused:
        publish(services, "other", "channel 仓储群 wecom { key env OP_ALERT_WECOM_KEY }\n")
    assert refused.value.code == "name_taken"
    assert "channel 仓储群 is already declared by published ruleset 'shop'" in refused.value.message
    alerts_to(services, "仓储群")
    InventoryService(services.db, services.clock).raise_alert("gate_bypassed", {"reason": "breaker_open"})
    assert dispatch(services) == 1
    [row] = alert_rows(services)
    assert row.status == "delivered"
    assert len(feishu.messages) == 1 and wecom.messages == []


def test_a_channel_without_a_notify_connector_is_refused(services) -> None:
    publish(services, "shop", "channel wms wms { url env WMS_URL }\n")
    alerts_to(services, "wms")
    InventoryService(services.db, services.clock).raise_alert("gate_bypassed", {"reason": "no_epoch"})
    assert dispatch(services) == 1
    [row] = alert_rows(services)
    assert row.status == "pending" and "declared in shop@1 as a wms channel, which has no notify.wms handler" in (
        row.last_error or "")


def test_a_plug_in_handler_for_alerts_is_kept(services) -> None:
    seen: list[str] = []
    services.handlers.register(ALERT_TOPIC, lambda delivery: seen.append(delivery.payload["kind"]))
    alerts_to(services, "仓储群")
    InventoryService(services.db, services.clock).raise_alert("gate_bypassed", {"reason": "no_epoch"})
    assert dispatch(services) == 1
    assert seen == ["gate_bypassed"] and alert_rows(services)[0].status == "delivered"


def test_the_alert_channel_is_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("ORDERPULSE_SECRET_KEY", "test-secret")
    monkeypatch.setenv("ORDERPULSE_INVENTORY_ALERT_CHANNEL", " 仓储群 ")
    assert Settings.from_env().inventory_alert_channel == "仓储群"
    monkeypatch.setenv("ORDERPULSE_INVENTORY_ALERT_CHANNEL", "")
    assert Settings.from_env().inventory_alert_channel is None
