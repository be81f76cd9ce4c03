"""Xiaohongshu (小红书 Ark) order client: the shop's orders modified in a window, one order's
detail with its receiver, and the platform's push messages verified and read. Implements
:class:`engine.orders.ports.PlatformOrderClient`; it maps nothing (the ``xiaohongshu``
mapping does) and stores nothing.

Calls go through :class:`connectors.xiaohongshu_stock.XiaohongshuStockConnector` (the
platform's signing, transport and error codes live there, once):
- ``order.getOrderList`` ``{"startTime", "endTime"`` (unix seconds), ``"timeType": 2`` (by
  update time: the span may not exceed 30 minutes, and the platform says to page from the
  last page to the first), ``"orderStatus": 0`` (all), ``"pageNo"`` (≤ 100), ``"pageSize"``
  (≤ 100)} → ``data{total, pageNo, pageSize, maxPageNo, orderList[{orderId, …}]}``. Page 1
  tells the total; the pages are then read from the last down to 1, the details of a page
  fetched a few at a time (:func:`connectors.platform_orders.order_pages`).
- ``order.getOrderDetail`` ``{"orderId"}`` → the order with ``skuList`` (``skuId``,
  ``erpcode`` = the merchant code, ``skuQuantity``, ``totalPaidAmount`` …), amounts in fen,
  times in ms, the receiver's province/city/district names and ``openAddressId``; the detail
  carries no receiver name, phone or street (``receiverName`` etc. are null).
- ``order.getOrderReceiverInfo`` ``{"receiverQueries": [{"orderId", "openAddressId"}],
  "isReturn": false}`` → ``receiverInfos[{orderId, matched, receiverName, receiverPhone,
  receiverAddress (ciphertext), receiverProvinceName, …}]``, one call per page.
- ``data.batchDesensitise`` ``{"baseInfos": [{"dataTag": orderId, "encryptedData"}] (≤ 100),
  "actionType": "1", "appUserId"}`` → ``desensitiseInfoList[{encryptedData,
  desensitisedData}]``: the masked forms.
The payload handed to the mapping is the detail with ``receiverInfo`` (the matched
``receiverInfos`` element: ciphertext, kept for decryption at waybill time) and the detail's
own ``receiverName`` / ``receiverPhone`` / ``receiverAddress`` filled with the masked forms.
An order whose receiver the platform does not give (unpaid, or ``matched`` false) keeps
them null. So a page of n orders costs n + 1 + ⌈3n / 100⌉ calls.

Push (the platform's "041 应用消息推送"): POST of a JSON array ``[{"msgTag", "sellerId",
"data": "<JSON string>"}]`` with headers ``app-key``, ``timestamp`` (unix s) and ``sign =
md5_hex(path + "?" + k=v&… + appSecret)`` where the parameters are ``app-key``, ``timestamp``
and the push URL's own query parameters, sorted by name, values as they are; the body is not
signed. The path is the one the platform posts to — the push URL registered in the console,
``push_url`` in the credentials (default ``/api/v1/sources/<source>/push``). A timestamp more
than :data:`PUSH_WINDOW` from our clock is refused. The console's probe ``{"test": true}``
(unsigned) is acknowledged with no event. Order messages (``msg_fulfillment_*``,
``msg_after_sale_*`` with an ``orderId``) become :class:`~engine.orders.ports.PushEvent` s
keyed by a digest of the element (the platform gives no message id), without the order (its
detail is fetched). The platform expects :data:`PUSH_ACK`.

Ship: ``order.orderDeliver`` (``orderId``, ``expressNo``, ``expressCompanyCode`` from the carrier
table, ``expressCompanyName``, ``deliveringTime`` ms; a partial shipment adds ``unpack`` and
``skuIdList`` = the shipped lines' platform SKU ids). The detail then shows
``expressTrackingNo``.

Not confirmed in the sources read: the timestamp window of pushes (none is documented; 10
minutes here), ``data.batchDesensitise``'s ``actionType`` and ``appUserId`` values (the
``shop`` credential, else the app id, is sent), the rate-limit refusal's code.

Credentials for :func:`build`: those of :func:`connectors.xiaohongshu_stock.build`
(``app_key`` = appId, ``app_secret``, ``access_token``, ``shop``) plus optional ``push_url``
and ``source``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectors import xiaohongshu_stock
from connectors.outbound import ConnectorError
from connectors.platform_orders import (
    ShipsOrders,
    digest,
    header,
    json_body,
    order_pages,
    refuse_oversized,
    require_fresh,
    require_signature,
)
from engine.orders.ports import OrderPage, PushEvent, PushRefused, ShipmentWriteBack

CHANNEL = xiaohongshu_stock.CHANNEL
PLATFORM = xiaohongshu_stock.PLATFORM
SHIP_METHOD = "order.orderDeliver"
LIST_METHOD = "order.getOrderList"
DETAIL_METHOD = "order.getOrderDetail"
RECEIVER_METHOD = "order.getOrderReceiverInfo"
DESENSITISE_METHOD = "data.batchDesensitise"
MAX_WINDOW = timedelta(minutes=30)
BY_UPDATE_TIME = 2
PAGE_SIZE = 100
MAX_PAGE_NO = 100
BATCH = 100
RECEIVER_FIELDS = ("receiverName", "receiverPhone", "receiverAddress")
ORDER_TAGS = ("msg_fulfillment_", "msg_after_sale_")
PUSH_WINDOW = 600.0
PUSH_ACK: dict[str, Any] = {"success": True, "error_code": 0, "error_msg": ""}


def push_sign(path: str, params: Mapping[str, str], app_secret: str) -> str:
    """``md5_hex(path + "?" + "&".join(sorted k=v) + app_secret)`` (values as they are)."""
    joined = "&".join(f"{k}={params[k]}" for k in sorted(params))
    return hashlib.md5(f"{path}?{joined}{app_secret}".encode()).hexdigest()


class XiaohongshuOrderClient(ShipsOrders):
    """Implements :class:`engine.orders.ports.PlatformOrderClient` for Xiaohongshu."""

    platform = CHANNEL
    max_window = MAX_WINDOW
    push_ack = PUSH_ACK

    def __init__(self, gateway: xiaohongshu_stock.XiaohongshuStockConnector, *, push_url: str,
                 clock: Callable[[], float] = time.time, page_size: int = PAGE_SIZE) -> None:
        self.gateway = gateway
        parts = urlsplit(push_url)
        self.push_path = parts.path or "/"
        self.push_query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.clock = clock
        self.page_size = max(1, min(page_size, PAGE_SIZE))
        self.app_user_id = gateway.shop or gateway.app_key

    # --- pulling -------------------------------------------------------------------------------

    def pages(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        if end - start > MAX_WINDOW:
            raise ConnectorError(PLATFORM, f"{LIST_METHOD}: window {start} – {end} is wider than 30 minutes",
                                 permanent=True)
        def fetch(page_no: int) -> tuple[list[Any], int]:
            if page_no > MAX_PAGE_NO:
                raise ConnectorError(PLATFORM, f"{LIST_METHOD}: more than {MAX_PAGE_NO} pages of orders in "
                                     f"{start} – {end}; the window must be narrower")
            data = self._list(start, end, page_no)
            rows = [o for o in data.get("orderList") or [] if isinstance(o, dict) and o.get("orderId")]
            return rows, int(data.get("total") or 0)

        for page in order_pages(fetch, lambda row: self._detail(str(row["orderId"])), first=1,
                                page_size=self.page_size, platform=PLATFORM, what=LIST_METHOD):
            yield OrderPage(orders=self._with_receivers(page.orders), page_no=page.page_no, total=page.total)

    def order_detail(self, order_id: str) -> dict[str, Any]:
        return self._with_receivers([self._detail(order_id)])[0]

    def send_shipment(self, shipment: ShipmentWriteBack) -> dict[str, Any]:
        params: dict[str, Any] = {"orderId": shipment.order_id, "expressNo": shipment.tracking_no,
                                  "expressCompanyCode": str(shipment.carrier_code),
                                  "expressCompanyName": shipment.carrier_name,
                                  "deliveringTime": int(self.gateway.clock() * 1000)}
        skus = [ln.platform_sku_id for ln in shipment.lines if ln.platform_sku_id]
        if shipment.partial and skus:
            params.update(unpack=True, skuIdList=skus)
        self.gateway.call(SHIP_METHOD, params)
        return {"success": True}

    def shown_tracking_numbers(self, detail: Mapping[str, Any]) -> set[str]:
        shown = str(detail.get("expressTrackingNo") or "")
        return {shown} if shown else set()

    def _list(self, start: datetime, end: datetime, page_no: int) -> dict[str, Any]:
        data = self.gateway.call(LIST_METHOD, {
            "startTime": int(start.timestamp()), "endTime": int(end.timestamp()), "timeType": BY_UPDATE_TIME,
            "orderStatus": 0, "pageNo": page_no, "pageSize": self.page_size})
        return data if isinstance(data, dict) else {}

    def _detail(self, order_id: str) -> dict[str, Any]:
        data = self.gateway.call(DETAIL_METHOD, {"orderId": order_id})
        if not isinstance(data, dict) or not data.get("orderId"):
            raise ConnectorError(PLATFORM, f"{DETAIL_METHOD}: answer for {order_id} without orderId")
        return data

    def _with_receivers(self, details: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The details with their receivers' ciphertext and masked forms (see the docstring)."""
        queries = [{"orderId": d["orderId"], "openAddressId": d["openAddressId"]}
                   for d in details if d.get("openAddressId")]
        receivers: dict[str, dict[str, Any]] = {}
        if queries:
            data = self.gateway.call(RECEIVER_METHOD, {"receiverQueries": queries, "isReturn": False}) or {}
            for info in data.get("receiverInfos") or []:
                if isinstance(info, dict) and info.get("matched") is not False and info.get("orderId"):
                    receivers[str(info["orderId"])] = info
        masked = self._desensitised([(oid, str(info[f])) for oid, info in receivers.items()
                                     for f in RECEIVER_FIELDS if info.get(f)])
        out = []
        for detail in details:
            info = receivers.get(str(detail["orderId"]))
            if info is None:
                out.append(detail)
                continue
            out.append({**detail, "receiverInfo": info,
                        **{f: masked.get(str(info[f])) for f in RECEIVER_FIELDS if info.get(f)}})
        return out

    def _desensitised(self, ciphers: list[tuple[str, str]]) -> dict[str, str]:
        """``{ciphertext: masked form}`` for ``(order id, ciphertext)`` pairs, 100 a call."""
        out: dict[str, str] = {}
        for i in range(0, len(ciphers), BATCH):
            chunk = ciphers[i:i + BATCH]
            data = self.gateway.call(DESENSITISE_METHOD, {
                "baseInfos": [{"dataTag": tag, "encryptedData": cipher} for tag, cipher in chunk],
                "actionType": "1", "appUserId": self.app_user_id}) or {}
            for item in data.get("desensitiseInfoList") or []:
                if isinstance(item, dict) and item.get("encryptedData") and item.get("desensitisedData") is not None:
                    out[str(item["encryptedData"])] = str(item["desensitisedData"])
        return out

    # --- push ----------------------------------------------------------------------------------

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> list[PushEvent]:
        refuse_oversized(body)
        given = header(headers, "sign")
        if not given:
            if json_body(body) == {"test": True}:
                return []  # the console's unsigned probe of the address
            raise PushRefused("push without a sign header")
        if header(headers, "app-key") != self.gateway.app_key:
            raise PushRefused("push app-key is not our appId")
        timestamp = header(headers, "timestamp")
        require_fresh(timestamp, self.clock(), PUSH_WINDOW)
        params = {**self.push_query, "app-key": self.gateway.app_key, "timestamp": timestamp}
        require_signature(push_sign(self.push_path, params, self.gateway.app_secret), given)
        messages = json_body(body)
        if isinstance(messages, dict) and messages.get("test") is True:
            return []
        if not isinstance(messages, list):
            raise PushRefused("push body is not a JSON array of messages", status=400)
        events: list[PushEvent] = []
        for message in messages:
            if not isinstance(message, dict):
                raise PushRefused("push message is not a JSON object", status=400)
            tag = str(message.get("msgTag") or "")
            if not tag.startswith(ORDER_TAGS):
                continue  # item messages: not about an order
            data = message.get("data")
            data = json_body(data, f"{tag} data") if isinstance(data, str) else data
            order_id = data.get("orderId") if isinstance(data, dict) else None
            if order_id:
                events.append(PushEvent(message_id=digest(message), order_id=str(order_id), event=tag, order=None,
                                        raw={**message, "data": data}))
        return events


def build(channel: str, credentials: Mapping[str, str],
          clock: Callable[[], float] = time.time) -> XiaohongshuOrderClient:
    """An order client from ``credentials`` (keys in the module docstring), signing with ``clock``;
    ``ORDERPULSE_XIAOHONGSHU_BASE_URL`` redirects the gateway."""
    given = {k: str(v) for k, v in credentials.items() if v}
    gateway = xiaohongshu_stock.XiaohongshuStockConnector.from_credentials(channel, given, None, clock=clock)
    push_url = given.get("push_url") or f"/api/v1/sources/{given.get('source') or CHANNEL}/push"
    return XiaohongshuOrderClient(gateway, push_url=push_url, clock=clock)
