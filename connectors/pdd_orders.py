"""拼多多 orders over the POP router: implements :class:`engine.orders.ports.PlatformOrderClient`
on :class:`connectors.pdd_stock.PddStockConnector` (its signing, request and error rules).

- window: ``pdd.order.number.list.increment.get`` with ``start_updated_at``/``end_updated_at``
  (unix seconds), ``order_status=5`` and ``refund_status=5`` (all), ``is_lucky_flag=0`` (all),
  ``page_size`` 100, read from the last page backwards as PDD advises (answer root
  ``order_sn_increment_get_response{total_count, order_sn_list[]}``). :attr:`max_window` is
  30 minutes (PDD's span limit for the increment API — from its documentation as quoted by
  SDKs, not confirmed live).
- detail: ``pdd.order.information.get`` per ``order_sn`` → ``order_info_get_response.
  order_info``, what the ``pdd`` mapping takes.
- after-sales (the same way as Taobao's refunds, fetched with the order): when the order's
  ``after_sales_status`` is not 0, ``pdd.refund.list.increment.get`` with its ``order_sn`` (PDD
  then answers every after-sales of the order and ignores the other conditions, which it still
  requires: ``after_sales_status=1`` and ``after_sales_type=1``, all, and a 30-minute window
  ending now) → ``refund_increment_get_response.refund_list``, put on the order as
  ``refund_list``: the ``pdd`` mapping takes each row's ``id``, line (``goods_id``-``sku_id``),
  ``refund_amount`` (yuan), ``after_sale_reason`` and ``after_sales_status``. A later status
  of an after-sales changes the order's ``after_sales_status`` and ``updated_at``, so the
  order window brings the order (and its refunds) again.
- ship: ``pdd.logistics.online.send`` (``order_sn``, ``logistics_id`` from the carrier table,
  ``tracking_number``) → ``logistics_online_send_response.is_success``; the order then shows
  ``tracking_number``. PDD ships the whole order with one waybill in this call: a partial
  shipment is sent the same way (the platform shows the order shipped).

Rate limits (52101 throttled, 52102/52103 unavailable, 70031 too frequent) are retryable, as
are HTTP 5xx and transport failures. Push: PDD pushes over its message WebSocket, not an HTTP
POST to us, so :meth:`parse_push` refuses; the puller is the path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors.outbound import ConnectorError
from connectors.pdd_stock import PddStockConnector
from connectors.platform_orders import NoHttpPush, ShipsOrders, order_pages
from engine.orders.ports import OrderPage, ShipmentWriteBack

PAGE_SIZE = 100
INCREMENT = "pdd.order.number.list.increment.get"
DETAIL = "pdd.order.information.get"
SHIP = "pdd.logistics.online.send"
REFUNDS = "pdd.refund.list.increment.get"
REFUND_WINDOW = 1800  # seconds: PDD's span limit, required even when asking by order_sn


class PddOrderClient(NoHttpPush, ShipsOrders, PddStockConnector):
    """A 拼多多 shop's orders (see the module docstring)."""

    max_window = timedelta(minutes=30)

    def pages(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        def fetch(page: int) -> tuple[list[Any], int]:
            body = self.call(INCREMENT, {"start_updated_at": int(start.timestamp()),
                                         "end_updated_at": int(end.timestamp()), "order_status": 5,
                                         "refund_status": 5, "is_lucky_flag": 0, "page": page,
                                         "page_size": PAGE_SIZE, "use_has_next": "false"},
                             response_key="order_sn_increment_get_response")
            return list(body.get("order_sn_list") or []), int(body.get("total_count") or 0)

        return order_pages(fetch, lambda row: self.order_detail(str(row["order_sn"])), first=1, page_size=PAGE_SIZE,
                           platform=self.platform, what=INCREMENT)

    def order_detail(self, order_id: str) -> dict[str, Any]:
        body = self.call(DETAIL, {"order_sn": order_id}, response_key="order_info_get_response")
        info = body.get("order_info")
        if not isinstance(info, dict):
            raise ConnectorError(self.platform, f"{DETAIL}: no order_info for {order_id}")
        if str(info.get("after_sales_status") or "0") != "0":
            info["refund_list"] = self.order_refunds(order_id)
        return info

    def order_refunds(self, order_id: str) -> list[dict[str, Any]]:
        """Every after-sales of the order (``refund_list`` rows, see the module docstring)."""
        end = int(self.clock())
        body = self.call(REFUNDS, {"order_sn": order_id, "after_sales_status": 1, "after_sales_type": 1,
                                   "start_updated_at": end - REFUND_WINDOW, "end_updated_at": end,
                                   "page": 1, "page_size": PAGE_SIZE}, response_key="refund_increment_get_response")
        return [r for r in body.get("refund_list") or () if isinstance(r, dict)]

    def send_shipment(self, shipment: ShipmentWriteBack) -> dict[str, Any]:
        body = self.call(SHIP, {"order_sn": shipment.order_id, "logistics_id": int(shipment.carrier_code),
                                "tracking_number": shipment.tracking_no})
        if body.get("is_success") is not True:
            raise ConnectorError(self.platform, f"{SHIP}: not done for {shipment.order_id}")
        return body

    def shown_tracking_numbers(self, detail: Mapping[str, Any]) -> set[str]:
        shown = str(detail.get("tracking_number") or "")
        return {shown} if shown else set()


def build(channel: str, credentials: Mapping[str, str], clock: Callable[[], float] = time.time) -> PddOrderClient:
    """The client from ``credentials`` (``app_key`` = client_id, ``app_secret``, ``access_token``)."""
    return PddOrderClient.from_credentials(channel, credentials, None, clock=clock)
