"""天猫/淘宝 orders over the TOP router: implements
:class:`engine.orders.ports.PlatformOrderClient` on :class:`connectors.taobao_stock.
TaobaoStockConnector` (its signing, request and error rules; this module adds the order calls).

- window: ``taobao.trades.sold.increment.get`` with ``fields=tid,tid_str,modified``,
  ``start_modified``/``end_modified`` (``yyyy-MM-dd HH:mm:ss`` GMT+8), ``page_size`` 100,
  ``use_has_next=false`` so the answer carries ``total_results``; read from the last page
  backwards as TOP advises. :attr:`max_window` is 30 minutes (TOP allows a day and
  recommends at most 30 minutes).
- detail: ``taobao.trade.fullinfo.get`` per trade (``format=json``, not simplified) → the
  ``trade`` object the ``taobao`` mapping takes; a sub-order under refund (``refund_id``) gets
  its refund from ``taobao.refund.get`` as ``refund`` (the amount and the buyer's reason are
  only there).
- ship: ``taobao.logistics.offline.send`` (``tid``, ``out_sid`` = tracking number,
  ``company_code`` from the carrier table; a partial shipment adds ``is_split=1`` and
  ``sub_tid`` = the shipped lines' ``oid`` s); success is ``shipping.is_success``. The trade's
  sub-orders show the tracking number as ``invoice_no``.

Flow control (code 7) is retryable and its ``sub_msg`` "This ban will last for N more
seconds" becomes ``retry_after = N + 1``. Push: TOP pushes through TMC (a WebSocket), not an
HTTP POST to us, so :meth:`parse_push` refuses; the puller is the path.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors.outbound import ConnectorError
from connectors.platform_orders import NoHttpPush, ShipsOrders, order_pages
from connectors.taobao_stock import TaobaoStockConnector, top_timestamp
from engine.orders.ports import OrderPage, ShipmentWriteBack

TRADE_FIELDS = ("tid,tid_str,status,type,created,pay_time,modified,consign_time,end_time,delivery_time,est_con_time,"
                "payment,total_fee,post_fee,discount_fee,adjust_fee,received_payment,buyer_nick,buyer_open_uid,"
                "buyer_message,seller_memo,seller_flag,shipping_type,step_trade_status,receiver_name,receiver_mobile,"
                "receiver_phone,receiver_state,receiver_city,receiver_district,receiver_town,receiver_address,"
                "receiver_zip,oaid,orders")
REFUND_FIELDS = "refund_id,tid,oid,refund_fee,reason,status,created,modified"
BAN = re.compile(r"ban will last for (\d+) more seconds", re.IGNORECASE)
PAGE_SIZE = 100


class TaobaoOrderClient(NoHttpPush, ShipsOrders, TaobaoStockConnector):
    """A 天猫/淘宝 shop's orders (see the module docstring)."""

    max_window = timedelta(minutes=30)

    def error(self, method: str, error: Mapping[str, Any]) -> ConnectorError:
        refused = super().error(method, error)
        ban = BAN.search(str(error.get("sub_msg") or ""))
        if error.get("code") == 7 and ban:
            refused.retry_after = int(ban.group(1)) + 1
        return refused

    def pages(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        def fetch(page_no: int) -> tuple[list[Any], int]:
            body = self.call("taobao.trades.sold.increment.get", {
                "fields": "tid,tid_str,modified", "start_modified": top_timestamp(start.timestamp()),
                "end_modified": top_timestamp(end.timestamp()), "page_no": page_no, "page_size": PAGE_SIZE,
                "use_has_next": "false"})
            return list((body.get("trades") or {}).get("trade") or []), int(body.get("total_results") or 0)

        return order_pages(fetch, lambda row: self.order_detail(str(row.get("tid_str") or row["tid"])), first=1,
                           page_size=PAGE_SIZE, platform=self.platform, what="taobao.trades.sold.increment.get")

    def order_detail(self, order_id: str) -> dict[str, Any]:
        body = self.call("taobao.trade.fullinfo.get", {"fields": TRADE_FIELDS, "tid": order_id})
        trade = body.get("trade")
        if not isinstance(trade, dict):
            raise ConnectorError(self.platform, f"taobao.trade.fullinfo.get: no trade for tid {order_id}")
        for sub in (trade.get("orders") or {}).get("order") or []:
            if isinstance(sub, dict) and sub.get("refund_id"):
                refund = self.call("taobao.refund.get", {"fields": REFUND_FIELDS, "refund_id": sub["refund_id"]})
                sub["refund"] = refund.get("refund")
        return trade

    def send_shipment(self, shipment: ShipmentWriteBack) -> dict[str, Any]:
        params: dict[str, Any] = {"tid": shipment.order_id, "out_sid": shipment.tracking_no,
                                  "company_code": str(shipment.carrier_code)}
        if shipment.partial:
            params.update(is_split=1, sub_tid=",".join(str(ln.line_id) for ln in shipment.lines if ln.line_id))
        body = self.call("taobao.logistics.offline.send", params)
        if (body.get("shipping") or {}).get("is_success") is not True:
            raise ConnectorError(self.platform, f"taobao.logistics.offline.send: not done for tid {shipment.order_id}")
        return body

    def shown_tracking_numbers(self, detail: Mapping[str, Any]) -> set[str]:
        return {str(o.get("invoice_no")) for o in ((detail.get("orders") or {}).get("order") or [])
                if o.get("invoice_no")}


def build(channel: str, credentials: Mapping[str, str], clock: Callable[[], float] = time.time) -> TaobaoOrderClient:
    """The client from ``credentials`` (``app_key``, ``app_secret``, ``access_token`` = session)."""
    return TaobaoOrderClient.from_credentials(channel, credentials, None, clock=clock)
