"""The inventory section of ``orderpulse demo``: idempotent, and its channels get stock."""

from __future__ import annotations

from engine.inventory.audit import check_invariants, check_publications
from engine.inventory.channels import CHANNELS, channel_registry
from engine.inventory.demo import DEMO_STOCK, setup_inventory_demo
from engine.inventory.jobs import register_push_handler
from engine.inventory.push import relay_pushes
from engine.inventory.service import inventory_for
from engine.outbox.dispatcher import Dispatcher


def test_demo_section_seeds_once_and_feeds_the_channels(services) -> None:
    inv = inventory_for(services)
    if inv.gate is not None:
        inv.gate.wipe()
        inv.ensure_gate()
    first = setup_inventory_demo(services, echo=False)
    setup_inventory_demo(services, echo=False)  # a second start changes nothing
    assert "SCARF-SILK" in first[1]
    assert {sku: inv.get(sku)["total_stock"] for sku, _, _ in DEMO_STOCK} == {sku: q for sku, _, q in DEMO_STOCK}
    assert inv.get("SCARF-SILK")["reserved_stock"] == 1
    registry = channel_registry(services)
    assert registry.channels() == sorted(CHANNELS)
    register_push_handler(services)
    relay_pushes(inv.db, inv.clock, registry)
    Dispatcher(services, worker_id="demo").dispatch_due(now=services.clock.now(), limit=1000)
    pdd, douyin = registry.get("pdd"), registry.get("douyin")
    assert pdd.shown["SCARF-SILK"] == 12 and douyin.shown["SCARF-SILK"] == 5  # buffer 2; quota 5
    assert check_publications(inv.db, {c: registry.get(c).pushes for c in CHANNELS}) == []
    assert check_invariants(inv.db) == []
    if inv.gate is not None:
        inv.gate.wipe()
