"""A small shop's day for the board tests: the six channels' sources, the standard risk rules,
the order lifecycle and the standard after-sales machine published; stock for two SKUs; orders
stored through the real intake and moved by the real pipeline (the fifth order of one phone to
three cities in an hour is held as 疑似黄牛); after-sales tickets opened at known times so their
deadlines fall where the tests say.

Times: the clock starts at :data:`T0`; the tickets are opened at T0, T0+10h, T0+20h and the
world ends at :data:`NOW` = T0+30h, so the 待审核 ticket opened at T0 is 6 hours overdue.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from engine.orders.intake import intake_normalized_order
from engine.orders.pipeline import Pipeline
from engine.workflow import service as workflow

T0 = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=30)

ADDRESSES = {
    "杭州": "浙江省杭州市西湖区文三路90号",
    "南京": "江苏省南京市玄武区中山路1号",
    "上海": "上海市浦东新区世纪大道100号",
}


@dataclass
class World:
    orders: dict[str, int] = field(default_factory=dict)  # order id → order pk
    tickets: dict[str, int] = field(default_factory=dict)  # name → ticket id
    dead_letter: int = 0  # the outbox id of order DY1000's dead write-back


def publish(services: Any, *names: str) -> None:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction(immediate=True) as s:
        for name in names:
            import_template(s, name, actor="admin", now=services.clock.now())
            rulesets.publish(s, name, actor="admin", now=services.clock.now(), note="boards")


def order(order_id: str, *, at: datetime, city: str = "杭州", phone: str = "13812345678", sku: str = "TEA-COLD",
          qty: int = 1, channel: str = "douyin") -> dict[str, Any]:
    return {
        "order_id": order_id, "channel": channel, "shop": "旗舰店", "status": "awaiting_shipment",
        "created_at": at, "paid_at": at + timedelta(seconds=30), "updated_at": at + timedelta(minutes=1),
        "buyer_phone": phone, "customer": {"id": f"C-{order_id}"},
        "receiver": {"name": "王小明", "phone": phone, "address": ADDRESSES[city]},
        "lines": [{"line_id": "1", "sku_id": sku, "title": "冷泡茶包", "qty": qty, "unit_price": 3900,
                   "amount": 3900 * qty}],
        "freight": 0, "payment": {"method": "alipay", "paid_amount": 3900 * qty},
    }


def take_in(services: Any, body: dict[str, Any]) -> int:
    outcome = intake_normalized_order(services, body, via="api", actor="test")
    assert outcome.order_pk is not None, outcome
    Pipeline(services).run_order(outcome.order_pk, services.clock.now())
    return outcome.order_pk


def open_ticket(services: Any, order_id: str, phone: str) -> int:
    created = workflow.create_instance(services, "aftersales",
                                       {"order_id": order_id, "consumer_id": f"C-{order_id}",
                                        "consumer_phone": phone}, actor="user:zhao_kf", role="cs")
    return int(created["id"])


def build(services: Any) -> World:
    """The world above, with the clock left at :data:`NOW`."""
    services.clock.set(T0)
    publish(services, "sources_six_channels", "risk_standard", "order_lifecycle", "aftersales_standard")
    services.inventory.adjust("TEA-COLD", 100, "入库", actor="li_wh")
    services.inventory.adjust("MUG-BLUE", 3, "入库", actor="li_wh")
    world = World()
    for i, city in enumerate(["杭州", "南京", "杭州", "上海", "杭州"]):
        services.clock.set(T0 + timedelta(minutes=10 * i))
        oid = f"DY{1000 + i}"
        world.orders[oid] = take_in(services, order(oid, at=T0 + timedelta(minutes=10 * i), city=city))
    services.clock.set(T0 + timedelta(minutes=60))
    world.orders["DY2000"] = take_in(services, order("DY2000", at=T0 + timedelta(minutes=60), phone="13955556666",
                                                     sku="MUG-BLUE", qty=5))
    services.clock.set(T0)
    world.tickets["A"] = open_ticket(services, "DY1000", "13812345678")
    services.clock.set(T0 + timedelta(hours=10))
    world.tickets["B"] = open_ticket(services, "DY1001", "13812345678")
    services.clock.set(T0 + timedelta(hours=20))
    world.tickets["C"] = open_ticket(services, "DY2000", "13955556666")
    # one ticket already at 待质检 (owner 仓储): 审核通过, then the consumer's return tracking number
    world.tickets["Q"] = open_ticket(services, "DY1002", "13812345678")
    workflow.fire_action(services, world.tickets["Q"], "审核通过", {}, actor="user:zhao_kf", role="cs")
    workflow.fire_action(services, world.tickets["Q"], "登记退货物流", {"return_tracking_no": "SF1234567890"},
                         actor="webhook", role=None, via="user")
    world.dead_letter = dead_letter(services, "douyin/DY1000")
    services.clock.set(NOW)
    return world


def dead_letter(services: Any, order_ref: str) -> int:
    """A write-back the platform kept refusing (all four attempts spent)."""
    from engine.storage.models import OutboxMessage

    now = services.clock.now()
    with services.db.transaction() as s:
        row = OutboxMessage(delivery_id=str(uuid.uuid4()), topic="orders.writeback", status="dead", attempts=4,
                            max_attempts=4, retry_schedule=[30, 120, 300], next_attempt_at=now, source="douyin",
                            payload={"order_id": order_ref.split("/")[1], "tracking_no": "SF0000000001"},
                            last_error="平台拒绝：运单号不存在", created_at=now, order_ref=order_ref)
        s.add(row)
        s.flush()
        return int(row.id)
