"""抖店 (Doudian) orders over the open API and its HTTP push: implements
:class:`engine.orders.ports.PlatformOrderClient` on :class:`connectors.douyin_stock.
DouyinStockConnector` (its signing, request and error rules).

- window: ``order.searchList`` with ``update_time_start``/``update_time_end`` (unix seconds),
  ``order_by=update_time``, ``order_asc=true``, ``size`` 100, ``page`` from 0, read from the
  last page backwards (safe whatever rows leave the window meanwhile). The listed shop orders
  are the detail shape the ``douyin`` mapping takes, so no second call is made.
  :attr:`max_window` is one day (Doudian documents no limit in the sources read).
- detail: ``order.orderDetail`` with ``shop_order_id`` → ``data.shop_order_detail``.
- ship: ``order.logisticsAdd`` (``order_id``, ``company_code`` from the carrier table,
  ``logistics_code`` = tracking number); success is ``code == 10000``; the order then shows
  ``logistics_info[].tracking_no``. A pending refund makes Doudian refuse (50002) unless
  ``is_refund_reject`` is sent: we never send it (rejecting a buyer's refund is a person's
  decision), so such a write-back fails until the refund is settled. Split packages
  (``order.logisticsAddMultiPack``) are not used: a partial shipment is sent the same way.
- push: ``POST`` with a JSON array body ``[{"tag", "msg_id", "data": "<json>"}]``, headers
  ``app-id`` and ``event-sign = hex(MD5(app_key + raw body + app_secret))``; the signature is
  checked on the raw bytes before anything is parsed. Order tags (100–126) and after-sale tags
  (200–227) become events carrying ``p_id`` (the shop order id) only: the order is fetched.
  The answer Doudian expects is :attr:`push_ack`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from connectors.douyin_stock import DouyinStockConnector
from connectors.outbound import ConnectorError
from connectors.platform_orders import ShipsOrders, order_pages
from engine.orders.ports import OrderPage, PushEvent, PushRefused, ShipmentWriteBack

PAGE_SIZE = 100
ORDER_TAGS = range(100, 300)


def event_sign(app_key: str, body: bytes, app_secret: str) -> str:
    """Doudian's push signature of a raw body."""
    return hashlib.md5(app_key.encode("utf-8") + body + app_secret.encode("utf-8")).hexdigest()


class DouyinOrderClient(ShipsOrders, DouyinStockConnector):
    """A 抖店 shop's orders (see the module docstring)."""

    max_window = timedelta(days=1)
    push_ack: ClassVar[dict[str, Any]] = {"code": 0, "msg": "success"}

    def pages(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        def fetch(page: int) -> tuple[list[Any], int]:
            data = self.call("order.searchList", {
                "update_time_start": int(start.timestamp()), "update_time_end": int(end.timestamp()),
                "order_by": "update_time", "order_asc": True, "page": page, "size": PAGE_SIZE}) or {}
            return list(data.get("shop_order_list") or []), int(data.get("total") or 0)

        return order_pages(fetch, dict, first=0, page_size=PAGE_SIZE, platform=self.platform,
                           what="order.searchList")

    def order_detail(self, order_id: str) -> dict[str, Any]:
        data = self.call("order.orderDetail", {"shop_order_id": order_id}) or {}
        detail = data.get("shop_order_detail")
        if not isinstance(detail, dict):
            raise ConnectorError(self.platform, f"order.orderDetail: no shop_order_detail for {order_id}")
        return detail

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> list[PushEvent]:
        lower = {k.lower(): v for k, v in headers.items()}
        sent = lower.get("event-sign", "")
        if not sent:
            raise PushRefused("event-sign header missing")
        if lower.get("app-id", self.app_key) != self.app_key:
            raise PushRefused("app-id is not this shop's app")
        if not hmac.compare_digest(event_sign(self.app_key, body, self.app_secret), sent.lower()):
            raise PushRefused("event-sign does not match the body")
        try:
            messages = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise PushRefused("body is not JSON", status=400) from None
        if not isinstance(messages, list):
            raise PushRefused("body is not a JSON array of messages", status=400)
        events = []
        for message in messages:
            if not isinstance(message, dict) or not str(message.get("tag", "")).isdigit():
                raise PushRefused("a message without a numeric tag", status=400)
            if int(message["tag"]) not in ORDER_TAGS:
                continue
            try:
                data = json.loads(message.get("data") or "{}")
            except (TypeError, ValueError):
                raise PushRefused("a message whose data is not JSON", status=400) from None
            if not isinstance(data, dict) or not data.get("p_id") or not message.get("msg_id"):
                raise PushRefused("an order message without msg_id or p_id", status=400)
            events.append(PushEvent(message_id=str(message["msg_id"]), order_id=str(data["p_id"]),
                                    event=str(message["tag"]), order=None, raw=message))
        return events

    def send_shipment(self, shipment: ShipmentWriteBack) -> dict[str, Any]:
        self.call("order.logisticsAdd", {"order_id": shipment.order_id, "company_code": str(shipment.carrier_code),
                                         "logistics_code": shipment.tracking_no})
        return {"code": 10000}

    def shown_tracking_numbers(self, detail: Mapping[str, Any]) -> set[str]:
        return {str(x.get("tracking_no")) for x in detail.get("logistics_info") or [] if x.get("tracking_no")}


def build(channel: str, credentials: Mapping[str, str], clock: Callable[[], float] = time.time) -> DouyinOrderClient:
    """The client from ``credentials`` (``app_key``, ``app_secret``, ``access_token``)."""
    return DouyinOrderClient.from_credentials(channel, credentials, None, clock=clock)
