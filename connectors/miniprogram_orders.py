"""The merchant's own mini-program shop (小程序商城) as a source of orders: the order part of
the small HTTP contract its backend implements (the stock part is in
:mod:`connectors.miniprogram_stock`), and the client that speaks it. Implements
:class:`engine.orders.ports.PlatformOrderClient`; it maps nothing (the ``miniprogram``
mapping does) and stores nothing.

The contract, signed both ways like the stock contract: ``X-OrderPulse-Key: <app_key>``,
``X-OrderPulse-Timestamp: <unix seconds>``, ``X-OrderPulse-Signature: hex(HMAC-SHA256(
key=app_secret, msg=timestamp + "." + body))`` over the exact body bytes (empty for a GET);
a timestamp more than 5 minutes from the receiver's clock is refused.

- ``GET <base>/orders?updated_from=<ms>&updated_to=<ms>&page_size=<≤ 100>[&cursor=<c>]`` →
  ``200 {"code": 0, "orders": [order…], "next_cursor": "<opaque>" | null}``: the orders whose
  ``updated_at`` is in ``[updated_from, updated_to)`` (epoch ms in the query), by
  ``(updated_at, out_trade_no)`` ascending; ``next_cursor`` null ends the listing. The range
  may span at most one day (``422 {"code": "invalid_range"}``).
- ``GET <base>/orders/<out_trade_no, percent-encoded>`` → ``200 {"code": 0, "order": order}``,
  ``404 {"code": "unknown_order"}``.
- An order (the shape the ``miniprogram`` mapping of the templates reads): ``{"out_trade_no",
  "transaction_id"`` (WeChat Pay's, null before payment), ``"status"`` (unpaid, paid,
  partially_shipped, shipped, received, completed, closed — cancelled before payment —,
  refunded — cancelled after it), ``"created_at", "paid_at", "updated_at",
  "promised_ship_at"`` (ISO 8601 with ``+08:00``, whole seconds; ``updated_at`` is the order's
  version), ``"presale", "member": {"id", "level", "phone", "openid"}, "receiver": {"name",
  "phone", "province", "city", "district", "detail"}`` (plain: the merchant's own data, over
  TLS), ``"amount": {"goods", "discount", "freight", "total"`` (= goods), ``"payer_total"}``
  (fen; payer_total = goods − discount + freight, what WeChat Pay collected), ``"coupons",
  "items": [{"line_no", "sku"`` (our SKU id), ``"title", "qty", "unit_price",
  "paid_amount"}]`` (fen), ``"delivery": {"company", "tracking_no"} | null, "refunds":
  [{"refund_id", "line_no", "sku", "amount", "reason", "status", "updated_at"}],
  "buyer_remark"}``.
- Ship (our write-back): ``POST <base>/orders/<out_trade_no, percent-encoded>/shipments`` with
  ``{"shipment_id", "delivery_id"`` (WeChat's courier id, which the backend passes on to
  ``upload_shipping_info``), ``"tracking_no", "lines": [{"sku", "qty"}]`` (only for a partial
  shipment)``}`` → ``200 {"code": 0}``; ``409 {"code": "not_shippable"}`` for an order not
  awaiting shipment, ``422 {"code": "unknown_courier" | "invalid_body"}``. The order then shows
  ``delivery.tracking_no``.
- Push: the backend POSTs ``{"event_id", "event"`` (order.created, order.paid, order.shipped,
  order.delivered, order.completed, order.cancelled, order.refund), ``"order": order}`` to
  OrderPulse's push URL with the same three headers, and expects ``200 {"code": 0}``
  (:data:`PUSH_ACK`). The order travels whole, so no detail is fetched; ``event_id`` makes a
  repeated delivery a no-op.
- Errors as in the stock contract (401 ``unknown_key`` / ``bad_signature`` /
  ``stale_timestamp``, 422, 429 ``rate_limited`` with ``retry_after``).

Credentials for :func:`build`: those of :func:`connectors.miniprogram_stock.build`
(``app_key``, ``app_secret``; the backend's address in ``ORDERPULSE_MINIPROGRAM_BASE_URL``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from connectors import miniprogram_stock
from connectors.outbound import ConnectorError
from connectors.platform_orders import (
    ShipsOrders,
    epoch_ms,
    header,
    json_body,
    refuse_oversized,
    require_fresh,
    require_signature,
)
from connectors.platform_stock import MAX_LISTING_PAGES
from engine.orders.ports import OrderPage, PushEvent, PushRefused, ShipmentWriteBack

CHANNEL = miniprogram_stock.CHANNEL
PLATFORM = miniprogram_stock.PLATFORM
MAX_WINDOW = timedelta(days=1)
PAGE_SIZE = 100
PUSH_WINDOW = 300.0
PUSH_ACK: dict[str, Any] = {"code": 0}


class MiniprogramOrderClient(ShipsOrders):
    """Implements :class:`engine.orders.ports.PlatformOrderClient` for the merchant's shop."""

    platform = CHANNEL
    max_window = MAX_WINDOW
    push_ack = PUSH_ACK

    def __init__(self, gateway: miniprogram_stock.MiniprogramStockConnector, *,
                 clock: Callable[[], float] = time.time, page_size: int = PAGE_SIZE) -> None:
        self.gateway = gateway
        self.clock = clock
        self.page_size = max(1, min(page_size, PAGE_SIZE))

    def pages(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        if end - start > MAX_WINDOW:
            raise ConnectorError(PLATFORM, f"orders: window {start} – {end} is wider than one day", permanent=True)
        query = {"updated_from": epoch_ms(start), "updated_to": epoch_ms(end), "page_size": self.page_size}
        cursor: str | None = None
        for page_no in range(1, MAX_LISTING_PAGES + 1):
            path = "/orders?" + urlencode({**query, **({"cursor": cursor} if cursor else {})})
            status, answer = self.gateway.call("GET", path)
            self.gateway.expect_ok(status, answer, "orders")
            orders = [o for o in answer.get("orders") or [] if isinstance(o, dict)]
            if orders:
                yield OrderPage(orders=orders, page_no=page_no)
            following = answer.get("next_cursor")
            if not following or not orders or following == cursor:
                return
            cursor = str(following)
        raise ConnectorError(PLATFORM, f"orders: more than {MAX_LISTING_PAGES} pages; listing stopped")

    def order_detail(self, order_id: str) -> dict[str, Any]:
        status, answer = self.gateway.call("GET", "/orders/" + quote(order_id, safe=""))
        if status == 404 and answer.get("code") == "unknown_order":
            raise ConnectorError(PLATFORM, f"order {order_id}: the shop has no such order", code="unknown_order",
                                 permanent=True)
        self.gateway.expect_ok(status, answer, f"order {order_id}")
        order = answer.get("order")
        if not isinstance(order, dict):
            raise ConnectorError(PLATFORM, f"order {order_id}: answer without an order")
        return order

    def send_shipment(self, shipment: ShipmentWriteBack) -> dict[str, Any]:
        body: dict[str, Any] = {"shipment_id": shipment.shipment_id, "delivery_id": str(shipment.carrier_code),
                                "tracking_no": shipment.tracking_no}
        if shipment.partial:
            body["lines"] = [{"sku": ln.sku_id, "qty": ln.qty} for ln in shipment.lines]
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        status, answer = self.gateway.call("POST", f"/orders/{quote(shipment.order_id, safe='')}/shipments", raw)
        self.gateway.expect_ok(status, answer, f"shipment of {shipment.order_id}")
        return answer

    def shown_tracking_numbers(self, detail: Mapping[str, Any]) -> set[str]:
        shown = str((detail.get("delivery") or {}).get("tracking_no") or "")
        return {shown} if shown else set()

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> list[PushEvent]:
        refuse_oversized(body)
        if header(headers, miniprogram_stock.KEY_HEADER) != self.gateway.app_key:
            raise PushRefused("push key is not the one this source knows")
        timestamp = header(headers, miniprogram_stock.TIMESTAMP_HEADER)
        require_fresh(timestamp, self.clock(), PUSH_WINDOW)
        require_signature(miniprogram_stock.sign(timestamp, body, self.gateway.app_secret),
                          header(headers, miniprogram_stock.SIGNATURE_HEADER))
        message = json_body(body)
        if not isinstance(message, dict):
            raise PushRefused("push body is not a JSON object", status=400)
        order, event_id = message.get("order"), message.get("event_id")
        if not isinstance(order, dict) or not order.get("out_trade_no") or not event_id:
            raise PushRefused("push needs event_id and an order with out_trade_no", status=400)
        return [PushEvent(message_id=str(event_id), order_id=str(order["out_trade_no"]),
                          event=str(message.get("event") or "order.updated"), order=order, raw=message)]


def build(channel: str, credentials: Mapping[str, str],
          clock: Callable[[], float] = time.time) -> MiniprogramOrderClient:
    """An order client from ``credentials`` (keys in the module docstring), signing with ``clock``;
    the backend's address is ``ORDERPULSE_MINIPROGRAM_BASE_URL``."""
    given = {k: str(v) for k, v in credentials.items() if v}
    gateway = miniprogram_stock.MiniprogramStockConnector.from_credentials(channel, given, None, clock=clock)
    return MiniprogramOrderClient(gateway, clock=clock)
