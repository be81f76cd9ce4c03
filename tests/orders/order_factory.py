"""Normalized orders for the store's tests: the own channel's JSON form and the Python form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

T0 = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)


def order_json(order_id: str = "MP1001", *, minutes: int = 0, status: str = "awaiting_shipment",
               **extra: Any) -> dict[str, Any]:
    """A mini-program order as ``POST /orders`` takes it; ``minutes`` moves its version."""
    body: dict[str, Any] = {
        "order_id": order_id,
        "status": status,
        "shop": "自有小程序商城",
        "created_at": "2026-11-11T10:00:00+08:00",
        "paid_at": "2026-11-11T10:01:00+08:00",
        "updated_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "buyer_phone": "13812345678",
        "receiver": {"name": "王小明", "phone": "13812345678", "province": "重庆市", "city": "重庆市",
                     "district": "璧山区", "adcode": "500120", "address": "重庆市重庆市璧山区璧泉街道双星大道8号"},
        "lines": [{"line_id": "L1", "sku_id": "TS-WHITE-M", "title": "白色T恤 M", "qty": 2, "unit_price": 9900,
                   "amount": 19800},
                  {"line_id": "L2", "sku_id": "SCARF-01", "title": "丝巾", "qty": 1, "unit_price": 11900,
                   "amount": 11900}],
        "freight": 0,
        "payment": {"method": "wechat", "paid_amount": 31700},
    }
    body.update(extra)
    return body


def order_py(order_id: str = "A1", *, channel: str = "douyin", minutes: int = 0, status: str = "awaiting_shipment",
             **extra: Any) -> dict[str, Any]:
    """A normalized order in Python form (aware UTC datetimes)."""
    body: dict[str, Any] = {
        "order_id": order_id, "channel": channel, "shop": "抖店", "status": status,
        "created_at": T0, "paid_at": T0 + timedelta(minutes=1), "updated_at": T0 + timedelta(minutes=minutes),
        "buyer_phone": "13912340000",
        "receiver": {"name": "李四", "phone": "13912340000", "province": "浙江省", "city": "杭州市",
                     "district": "西湖区", "address": "浙江省杭州市西湖区文三路90号"},
        "lines": [{"line_id": "1", "sku_id": "SKU-1", "platform_sku_id": "P-1", "title": "帽子", "qty": 1,
                   "unit_price": 5000, "amount": 5000}],
        "freight": 600,
    }
    body.update(extra)
    return body
