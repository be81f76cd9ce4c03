"""The order side of the fake mini-program shop backend: the scenario rendered as the orders
of the contract in :mod:`connectors.miniprogram_orders` (``GET /orders`` by updated time with
an opaque cursor, ``GET /orders/<out_trade_no>``) and pushed, signed, to OrderPulse. Mixed
into :class:`connectors.fakes.miniprogram_stock.FakeMiniprogramStock`, whose signature checks
run first. Orders from ``MP`` + 10 digits; amounts in fen; times in epoch ms (null when not
yet); the receiver in plain (the merchant's own data). A range wider than a day is refused
(422 ``invalid_range``); over ``order_rate_limit``: 429 ``rate_limited`` with ``retry_after``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from connectors.fakes.order_scenario import ScenarioOrder
from connectors.fakes.platform_orders import OrderDesk, PushRequest

DAY_MS = 86_400_000


def out_trade_no_of(order: ScenarioOrder) -> str:
    return f"MP{order.number:010d}"


def _ms(at: datetime | None) -> int | None:
    return int(at.timestamp() * 1000) if at else None


class MiniprogramOrders(OrderDesk):
    """The order routes and pushes of the fake shop backend."""

    app_key: str
    app_secret: str
    _lock: threading.Lock
    now: Callable[[], float]
    page_size: Callable[[int], int]  # the catalogue fake's

    def render(self, order: ScenarioOrder) -> dict[str, Any]:
        number = out_trade_no_of(order)
        buyer = order.buyer
        return {
            "out_trade_no": number, "transaction_id": f"42000{order.number:017d}" if order.paid_at else None,
            "status": order.status, "create_time": _ms(order.created_at), "pay_time": _ms(order.paid_at),
            "ship_by_time": _ms(order.promised_ship_at), "update_time": _ms(order.updated_at),
            "payer": {"openid": f"o{buyer.open_id[3:]}"},
            "amount": {"goods": order.goods_amount, "discount": order.discount, "freight": order.freight,
                       "total": order.paid_amount},
            "items": [{"line_id": f"{number}-{line.line_no}", "sku_code": line.sku_code, "title": line.title,
                       "quantity": line.qty, "unit_price": line.unit_price, "paid_amount": line.paid_amount}
                      for line in order.lines],
            "receiver": {"name": buyer.name, "phone": buyer.phone, "province": buyer.province, "city": buyer.city,
                         "district": buyer.district, "address": buyer.street},
            "delivery": {"company": order.courier[1], "tracking_no": order.courier[2]} if order.courier else None,
            "refunds": [{"refund_id": f"RF{r.refund_no:08d}", "line_id": f"{number}-{r.line_no}",
                         "sku_code": r.sku_code, "amount": r.amount, "reason": r.reason, "status": r.status,
                         "update_time": _ms(r.updated_at)} for r in order.refunds],
            "buyer_remark": order.buyer_message,
        }

    # --- the routes ----------------------------------------------------------------------------

    def order_route(self, method: str, path: str, query: Mapping[str, str]) -> tuple[int, Any] | None:
        """The answer to an order route, or None when ``path`` is not one."""
        if method != "GET" or not (path == "/orders" or path.startswith("/orders/")):
            return None
        if not self.order_call_allowed():
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

    def _order_page(self, query: Mapping[str, str]) -> tuple[int, Any]:
        try:
            start, end = int(query["updated_from"]), int(query["updated_to"])
            size = self.page_size(int(query.get("page_size") or 100))
            after = json.loads(base64.urlsafe_b64decode(query["cursor"])) if query.get("cursor") else None
        except (KeyError, ValueError):
            return 422, {"code": "invalid_query", "message": "updated_from, updated_to (ms), page_size, cursor"}
        if end <= start or end - start > DAY_MS:
            return 422, {"code": "invalid_range", "message": "updated_to must be after updated_from, within a day"}
        rows = sorted((self.render(o) for o in self.scenario.orders()),
                      key=lambda r: (r["update_time"], r["out_trade_no"]))
        rows = [r for r in rows if start <= r["update_time"] < end
                and (after is None or [r["update_time"], r["out_trade_no"]] > after)]
        chunk = rows[:size]
        following = None
        if len(rows) > size:
            last = [chunk[-1]["update_time"], chunk[-1]["out_trade_no"]]
            following = base64.urlsafe_b64encode(json.dumps(last).encode()).decode()
        return 200, {"code": 0, "orders": chunk, "next_cursor": following}

    # --- pushes --------------------------------------------------------------------------------

    def push_messages(self, order: ScenarioOrder, event: str) -> list[PushRequest]:
        kind = "order.refund" if event.startswith("refund_") else f"order.{event}"
        body = json.dumps({"event_id": f"{out_trade_no_of(order)}:{order.version}:{event}", "event": kind,
                           "order": self.render(order)}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = str(int(self.now()))
        signature = hmac.new(self.app_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return [PushRequest({"Content-Type": "application/json; charset=utf-8", "X-OrderPulse-Key": self.app_key,
                             "X-OrderPulse-Timestamp": timestamp, "X-OrderPulse-Signature": signature}, body)]
