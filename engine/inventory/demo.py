"""The inventory section of ``orderpulse demo``: demo stock, the six channels' stock
connectors built from the published sources template and pointed at the fake platforms
(signed HTTP, as the real ones), a channel buffer and quota, and two reserved orders — so
``/api/v1/stock/…`` has something to show and the fake platforms receive pushes. Inventory alerts go
to the templates' 仓储群 channel (the demo's fake Feishu bot) unless
``ORDERPULSE_INVENTORY_ALERT_CHANNEL`` names another.

Idempotent: every change carries a fixed key, so a second start changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import click

from engine.inventory.channels import CHANNEL_LABELS
from engine.inventory.service import inventory_for
from engine.inventory.sources import sync_source_connectors

if TYPE_CHECKING:
    from engine.services import Services

DEMO_STOCK = [
    ("TEA-LJ-250", "西湖龙井 250g", 120),
    ("TEA-PE-357", "云南普洱饼 357g", 60),
    ("TSHIRT-W-M", "纯棉白T恤 M", 300),
    ("TSHIRT-W-L", "纯棉白T恤 L", 200),
    ("SCARF-SILK", "真丝围巾", 15),
    # the gift of 女装节大促 (满399赠丝巾): the price stage adds it to mini-program orders as a
    # line at price 0, reserved and shipped like the rest
    ("GIFT-SCARF", "赠品丝巾", 200),
]
# Declared (feishu) by the library templates the demo publishes; the demo runs its fake bot.
DEMO_ALERT_CHANNEL = "仓储群"
DEMO_ORDERS = [
    ("DEMO-PDD-0001", "pdd", [{"sku_id": "TEA-LJ-250", "qty": 2}, {"sku_id": "SCARF-SILK", "qty": 1}]),
    ("DEMO-DY-0001", "douyin", [{"sku_id": "TSHIRT-W-M", "qty": 3}]),
]


def configure_alert_channel(services: Services) -> str:
    """Send inventory alerts to :data:`DEMO_ALERT_CHANNEL` unless the settings name a channel."""
    if not services.settings.inventory_alert_channel:
        services.settings = replace(services.settings, inventory_alert_channel=DEMO_ALERT_CHANNEL)
    return services.settings.inventory_alert_channel or DEMO_ALERT_CHANNEL


def setup_inventory_demo(services: Services, platforms: Mapping[str, Any] | None = None, *,
                         echo: bool = True) -> list[str]:
    """Seed the demo stock, list the demo SKUs in the fake ``platforms``' shops (by channel),
    build the channels' connectors from the published sources and pick the alert channel;
    returns (and prints) what it set up."""
    alert_channel = configure_alert_channel(services)
    inv = inventory_for(services)
    for sku, title, qty in DEMO_STOCK:
        inv.adjust(sku, qty, f"demo inbound: {title}", key=f"demo-seed:{sku}", actor="demo")
    for fake in (platforms or {}).values():
        for sku, _title, _qty in DEMO_STOCK:
            if sku not in fake.catalogue:
                fake.add_sku(sku, 0)
    connected = sync_source_connectors(services)
    inv.set_channel_rule("*", "pdd", quota=None, buffer=2, actor="demo")
    inv.set_channel_rule("SCARF-SILK", "douyin", quota=5, buffer=None, actor="demo")
    for order_id, channel, lines in DEMO_ORDERS:
        inv.reserve(order_id, lines, channel=channel, actor="demo")
    scarf = inv.get("SCARF-SILK") or {}
    lines_out = [
        (f"  inventory: {len(DEMO_STOCK)} SKUs in stock, {len(DEMO_ORDERS)} demo orders reserved; "
        f"stock goes to {len(connected)} platforms ({'、'.join(CHANNEL_LABELS[c] for c in connected) or '无'}; "
        "pdd holds back 2, douyin shows at most 5 scarves)"),
        (f"  try: GET /api/v1/stock/SCARF-SILK (available {scarf.get('available')}) and "
        "GET /api/v1/stock/SCARF-SILK/channels"),
        f"  inventory alerts (Redis bypassed, platform showing more than available …) go to channel {alert_channel}",
    ]
    if echo:
        for line in lines_out:
            click.echo(line)
    return lines_out
