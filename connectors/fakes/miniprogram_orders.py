"""The order side of the fake mini-program shop backend: the scenario rendered as the orders
of the contract in :mod:`connectors.miniprogram_orders` (``GET /orders`` by updated time with
an opaque cursor, ``GET /orders/<out_trade_no>``) and pushed, signed, to OrderPulse. Mixed
into :class:`connectors.fakes.miniprogram_stock.FakeMiniprogramStock`, whose signature checks
run first. Orders from ``MP`` + 10 digits; amounts in fen; times (null when not yet) as
ISO 8601 in Beijing time; the receiver in plain (the merchant's own data). A range wider than
a day is refused (422 ``invalid_range``); over ``order_rate_limit``: 429 ``rate_limited`` with
``retry_after``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

from connectors.fakes.order_scenario import (
    AWAITING_SHIPMENT,
    CANCELLED,
    COMPLETED,
    DELIVERED,
    PENDING_PAYMENT,
    SHIPPED,
    ScenarioOrder,
)
from connectors.fakes.order_shop import OrderShop, PushSender

DAY_MS = 86_400_000
BEIJING = timezone(timedelta(hours=8))
STATUS = {PENDING_PAYMENT: "unpaid", AWAITING_SHIPMENT: "paid", SHIPPED: "shipped", DELIVERED: "received",
          COMPLETED: "completed"}


# WeChat delivery_id of the couriers the shop backend passes on to upload_shipping_info
DELIVERY_IDS = {"SF": "顺丰速运", "ZTO": "中通快递", "YTO": "圆通速递", "YD": "韵达快递", "STO": "申通快递",
                "JTSD": "极兔速递", "JD": "京东物流", "EMS": "EMS", "YZPY": "邮政快递包裹", "DB": "德邦快递",
                "ZJS": "宅急送"}


def out_trade_no_of(order: ScenarioOrder) -> str:
    return f"MP{order.number:010d}"


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(BEIJING).isoformat(timespec="seconds") if at else None


class MiniprogramOrderShop(OrderShop):
    """The order routes and pushes of the fake shop backend (mixed into ``FakeMiniprogramStock``)."""

    app_key: str
    app_secret: str
    _lock: threading.Lock
    now: Callable[[], float]
    page_size: Callable[[int], int]  # the catalogue fake's

    def setup_push(self) -> None:
        self.push = PushSender(self.push_headers)
        self.scenario.on_change(self._announce)

    def push_headers(self, body: bytes) -> dict[str, str]:
        timestamp = str(int(self.now()))
        signature = hmac.new(self.app_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json; charset=utf-8", "X-OrderPulse-Key": self.app_key,
                "X-OrderPulse-Timestamp": timestamp, "X-OrderPulse-Signature": signature}

    def _announce(self, order: ScenarioOrder, event: str) -> None:
        for message in self.push_messages(order, event):
            self.push.send(message)

    def render(self, order: ScenarioOrder) -> dict[str, Any]:
        number = out_trade_no_of(order)
        buyer = order.buyer
        if order.status == CANCELLED:
            status = "refunded" if order.paid_at else "closed"
        else:
            status = STATUS[order.status]
        return {
            "out_trade_no": number, "transaction_id": f"42000{order.number:017d}" if order.paid_at else None,
            "status": status, "created_at": _iso(order.created_at), "paid_at": _iso(order.paid_at),
            "updated_at": _iso(order.updated_at), "promised_ship_at": _iso(order.promised_ship_at),
            "presale": False,
            "member": {"id": f"M{order.number + 10000}", "level": "普通会员", "phone": buyer.phone,
                       "openid": f"o{buyer.open_id[3:]}"},
            "receiver": {"name": buyer.name, "phone": buyer.phone, "province": buyer.province, "city": buyer.city,
                         "district": buyer.district, "detail": buyer.street},
            "amount": {"goods": order.goods_amount, "discount": order.discount, "freight": order.freight,
                       "total": order.goods_amount, "payer_total": order.paid_amount},
            "coupons": [f"立减{order.discount // 100}"] if order.discount else [],
            "items": [{"line_no": str(line.line_no), "sku": line.sku_code, "title": line.title, "qty": line.qty,
                       "unit_price": line.unit_price, "paid_amount": line.paid_amount} for line in order.lines],
            "delivery": {"company": order.courier[1], "tracking_no": order.courier[2]} if order.courier else None,
            "refunds": [{"refund_id": f"RF{r.refund_no:08d}", "line_no": str(r.line_no), "sku": r.sku_code,
                         "amount": r.amount, "reason": r.reason, "status": r.status, "updated_at": _iso(r.updated_at)}
                        for r in order.refunds],
            "buyer_remark": order.buyer_message,
        }

    # --- the routes ----------------------------------------------------------------------------

    def order_route(self, method: str, path: str, query: Mapping[str, str]) -> tuple[int, Any] | None:
        """The answer to an order route, or None when ``path`` is not one."""
        if method != "GET" or not (path == "/orders" or path.startswith("/orders/")):
            return None
        if not self.order_call_allowed(self.now()):
            return 429, {"code": "rate_limited", "message": "too many calls", "retry_after": 1}
        if path == "/orders":
            return self._order_page(query)
        out_trade_no = unquote(path[len("/orders/"):])
        order = None
        if out_trade_no.startswith("MP") and out_trade_no[2:].isdigit():
            order = self.scenario.get(int(out_trade_no[2:]))
        if order is None:
            return 404, {"code": "unknown_order", "message": f"no order {out_trade_no}"}
        return 200, {"code": 0, "order": self.render(order)}

    def ship_route(self, out_trade_no: str, body: Any) -> tuple[int, Any]:
        """``POST /orders/<out_trade_no>/shipments`` ``{"shipment_id", "delivery_id", "tracking_no",
        "lines"?: [{"sku", "qty"}]}``: 200 ``{"code": 0}``; 404 ``unknown_order``; 422
        ``invalid_body`` / ``unknown_courier`` (a delivery_id WeChat does not know); 409
        ``not_shippable`` (the order is not awaiting shipment)."""
        order = None
        if out_trade_no.startswith("MP") and out_trade_no[2:].isdigit():
            order = self.scenario.get(int(out_trade_no[2:]))
        if order is None:
            return 404, {"code": "unknown_order", "message": f"no order {out_trade_no}"}
        if not isinstance(body, dict) or not body.get("tracking_no") or not body.get("delivery_id"):
            return 422, {"code": "invalid_body", "message": "delivery_id and tracking_no are required"}
        if body["delivery_id"] not in DELIVERY_IDS:
            return 422, {"code": "unknown_courier", "message": f"delivery_id {body['delivery_id']} is unknown"}
        if order.status != AWAITING_SHIPMENT:
            return 409, {"code": "not_shippable", "message": f"order {out_trade_no} is {STATUS.get(order.status)}"}
        line_nos = None
        if body.get("lines"):
            by_sku = {line.sku_code: line.line_no for line in order.lines}
            if any(not isinstance(x, dict) or x.get("sku") not in by_sku for x in body["lines"]):
                return 422, {"code": "invalid_body", "message": "a line names a SKU the order does not have"}
            line_nos = [by_sku[x["sku"]] for x in body["lines"]]
        self.scenario.ship_parcel(order.number, body["delivery_id"], DELIVERY_IDS[body["delivery_id"]],
                                  str(body["tracking_no"]), line_nos)
        self.accept({"method": "shipments", "order_id": out_trade_no, "company_code": body["delivery_id"],
                     "tracking_no": body["tracking_no"], "lines": line_nos})
        return 200, {"code": 0}

    def _order_page(self, query: Mapping[str, str]) -> tuple[int, Any]:
        try:
            start, end = int(query["updated_from"]), int(query["updated_to"])
            size = self.page_size(int(query.get("page_size") or 100))
            after = json.loads(base64.urlsafe_b64decode(query["cursor"])) if query.get("cursor") else None
        except (KeyError, ValueError):
            return 422, {"code": "invalid_query", "message": "updated_from, updated_to (ms), page_size, cursor"}
        if end <= start or end - start > DAY_MS:
            return 422, {"code": "invalid_range", "message": "updated_to must be after updated_from, within a day"}
        keyed = sorted((((int(o.updated_at.timestamp() * 1000), out_trade_no_of(o)), o)
                        for o in self.scenario.orders()),
                       key=lambda pair: pair[0])
        rows = [(key, o) for key, o in keyed
                if start <= key[0] < end and (after is None or key > (int(after[0]), str(after[1])))]
        chunk = rows[:size]
        following = None
        if len(rows) > size:
            following = base64.urlsafe_b64encode(json.dumps(chunk[-1][0]).encode()).decode()
        return 200, {"code": 0, "orders": [self.render(o) for _, o in chunk], "next_cursor": following}

    # --- pushes --------------------------------------------------------------------------------

    def push_messages(self, order: ScenarioOrder, event: str) -> list[dict[str, Any]]:
        """The messages the backend posts for a change (the whole order each time)."""
        kind = "order.refund" if event.startswith("refund_") else f"order.{event}"
        return [{"event_id": f"{out_trade_no_of(order)}:{order.version}:{event}", "event": kind,
                 "order": self.render(order)}]
