"""Shared pieces of the risk tests: publishing templates and rules, orders through the real
intake, and the risk stage run the way the pipeline runs it (one transaction per order)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.orders.intake import intake_normalized_order
from engine.orders.stages import StageNote, load_ref, record
from engine.risk.stage import risk_stage

T0 = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)

ADDRESSES = {
    "杭州": "浙江省杭州市西湖区文三路90号",
    "南京": "江苏省南京市玄武区中山路1号",
    "上海": "上海市浦东新区世纪大道100号",
    "广州": "广东省广州市天河区天河路1号",
    "北京": "北京市朝阳区建国路1号",
    "成都": "四川省成都市武侯区人民南路4段1号",
}


def publish(services: Any, name: str, content: str | None = None) -> None:
    """Import a library template (or create ``name`` with ``content``) and publish it."""
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction(immediate=True) as s:
        if content is None:
            import_template(s, name, actor="admin", now=services.clock.now())
        else:
            known = {r.name for r in rulesets.list_rulesets(s)}
            if name not in known:
                rulesets.create_ruleset(s, name, content, fmt="dsl", actor="admin", now=services.clock.now())
            else:
                rulesets.put_draft(s, name, content=content, actor="admin", now=services.clock.now())
        rulesets.publish(s, name, actor="admin", now=services.clock.now(), note="test")


def order(order_id: str, *, at: datetime, city: str = "杭州", phone: str | None = "13812345678",
          device: str | None = None, method: str = "alipay", channel: str = "douyin", **extra: Any) -> dict[str, Any]:
    """A normalized order (Python form) placed at ``at`` to an address in ``city``."""
    customer: dict[str, Any] = {"id": f"C-{order_id}"}
    if device is not None:
        customer["device_id"] = device
    body: dict[str, Any] = {
        "order_id": order_id, "channel": channel, "shop": "旗舰店", "status": "awaiting_shipment",
        "created_at": at, "paid_at": at + timedelta(seconds=30), "updated_at": at + timedelta(minutes=1),
        "buyer_phone": phone, "customer": customer,
        "receiver": {"name": "王小明", "phone": phone or "13900000000", "address": ADDRESSES[city]},
        "lines": [{"line_id": "1", "sku_id": "TEA-COLD", "title": "冷泡茶包", "qty": 1, "unit_price": 3900,
                   "amount": 3900}],
        "freight": 0, "payment": {"method": method, "paid_amount": 3900},
    }
    if phone is None:
        del body["buyer_phone"]
    body.update(extra)
    return body


def take_in(services: Any, body: dict[str, Any]) -> int:
    """Store an order through the real intake (cleaning included); its primary key."""
    outcome = intake_normalized_order(services, body, via="api", actor="test")
    assert outcome.order_pk is not None, outcome
    return outcome.order_pk


def run_stage(services: Any, pk: int) -> list[StageNote]:
    """The risk stage on order ``pk`` as the pipeline runs it: in one transaction, its notes
    recorded on the timeline."""
    with services.db.transaction(immediate=True) as s:
        ref = load_ref(s, pk)
        assert ref is not None
        now = services.clock.now()
        notes = risk_stage(s, services, ref, now)
        record(s, ref, notes, actor="pipeline", now=now)
    return notes


def place(services: Any, body: dict[str, Any]) -> tuple[int, list[StageNote]]:
    pk = take_in(services, body)
    return pk, run_stage(services, pk)
