"""Kuaishou (快手小店) order client: the shop's orders modified in a window, one order's
detail, and the platform's push messages verified and read. Implements
:class:`engine.orders.ports.PlatformOrderClient`; it maps nothing (the ``kuaishou`` mapping
does) and stores nothing.

Calls go through :class:`connectors.kuaishou_stock.KuaishouStockConnector` (the platform's
signing, transport and error codes live there, once):
- ``open.order.cursor.list`` (GET) ``{"beginTime", "endTime"`` (epoch ms), ``"queryType": 2``
  (by modified time), ``"orderViewStatus": 1`` (all), ``"sort": 1``, ``"cpsType": 0``,
  ``"pageSize" ≤ 100, "cursor"}`` (empty first) → ``data{cursor, orderList[]}``; the cursor
  ``"nomore"`` ends the listing. The range may not exceed 7 days (``result`` 300004) nor reach
  back more than 90 days (300005): both are permanent errors.
- ``open.order.detail`` (GET) ``{"oid"}`` → ``data``.
Each ``orderList`` element has the shape of the detail (``orderBaseInfo{oid, status,
createTime, payTime, updateTime, totalFee, expressFee, discountFee …}``, ``orderItemInfo``
(one item per order), ``orderAddress{encryptedConsignee, desensitiseConsignee, encryptedMobile,
desensitiseMobile, encryptedAddress, desensitiseAddress, province, city, district, …}``,
``orderRefundList``), so a page is yielded as listed: no detail call per order.

Push (the platform's "消息服务说明"): a POST whose body is base64 of AES/CBC/PKCS5Padding
ciphertext, key = base64-decoded message key from the app console, IV = 16 zero bytes. The
plain text is one JSON message ``{eventId, bizId, userId, openId, appKey, event, info (a JSON
string, for order events {oid, sellerId, status, updateTime}), createTime (ms), test}``.
Verification is the decryption itself (only the holder of the key can produce a body that
decrypts with valid padding to JSON) plus ``appKey`` equal to ours; a ``createTime`` more than
:data:`PUSH_MAX_AGE` old is refused (the platform's own retries end 2 h 5 min after the first
attempt; the periodic pull covers anything older). The heartbeat ``{"test": true}`` is
acknowledged with no event. Order events (``kwaishop_order_*``) and after-sales events
(``kwaishop_aftersales_*``, when ``info`` names the ``oid``) become one
:class:`~engine.orders.ports.PushEvent` keyed by ``eventId``, without the order (its detail
is fetched). The platform expects the answer :data:`PUSH_ACK` within 3 s.

Ship: ``open.seller.order.goods.deliver`` (POST, ``orderId`` = the one-item order, ``expressNo``
= tracking number, ``expressCode`` = the int of the platform's 物流公司编号 page, via the carrier
table); a Kuaishou order carries one item, so each shipment of our order is that order's whole
shipment. The detail then shows ``orderLogisticsInfo[].expressNo``.

Not confirmed in the sources read: the values of ``queryType``, ``sort`` and
``orderViewStatus`` (taken from a third-party mirror of the API); the status codes (10 待付款,
30 已付款, 40 已发货, 50 已签收, 70 订单成功, 80 订单失败) come from third-party code.

Credentials for :func:`build`: those of :func:`connectors.kuaishou_stock.build` (``app_key``,
``app_secret`` = the signSecret, ``access_token``, optional ``sign_method``) plus
``message_key`` (the console's message-decryption key; without it, else
``KUAISHOU_MESSAGE_KEY`` in the environment, pushes are refused and only pulling works).
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from connectors import kuaishou_stock
from connectors.outbound import ConnectorError
from connectors.platform_orders import ShipsOrders, digest, epoch_ms, json_body, refuse_oversized
from connectors.platform_stock import MAX_LISTING_PAGES
from engine.orders.ports import OrderPage, PushEvent, PushRefused, ShipmentWriteBack

CHANNEL = kuaishou_stock.CHANNEL
PLATFORM = kuaishou_stock.PLATFORM
LIST_METHOD = "open.order.cursor.list"
SHIP_METHOD = "open.seller.order.goods.deliver"
DETAIL_METHOD = "open.order.detail"
MAX_WINDOW = timedelta(days=7)
PAGE_SIZE = 100
NO_MORE = "nomore"
QUERY_BY_MODIFIED, VIEW_ALL, SORT_DESCENDING = 2, 1, 1
ORDER_EVENT, AFTERSALES_EVENT = "kwaishop_order_", "kwaishop_aftersales_"
PUSH_MAX_AGE = 6 * 3600.0
PUSH_ACK: dict[str, Any] = {"result": 1}
MESSAGE_KEY_VARIABLE = "KUAISHOU_MESSAGE_KEY"


def decrypt_message(body: bytes | str, message_key: str) -> bytes:
    """The plain text of a push body: base64 → AES/CBC (key = base64 ``message_key``, zero
    IV) → PKCS#5 unpadded. Anything that does not decrypt raises :class:`PushRefused`."""
    try:
        key = base64.b64decode(message_key, validate=True)
        cipher_text = base64.b64decode(body.strip() if isinstance(body, bytes) else body.strip().encode(),
                                       validate=True)
    except (binascii.Error, ValueError):
        raise PushRefused("push body is not base64 ciphertext") from None
    if len(key) not in (16, 24, 32):
        raise PushRefused("the configured message key is not an AES key", status=503)  # our set-up, not the caller
    if not cipher_text or len(cipher_text) % 16:
        raise PushRefused("push body is not AES ciphertext")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).decryptor()
    padded = decryptor.update(cipher_text) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise PushRefused("push body does not decrypt with our message key") from None


class KuaishouOrderClient(ShipsOrders):
    """Implements :class:`engine.orders.ports.PlatformOrderClient` for Kuaishou."""

    platform = CHANNEL
    max_window = MAX_WINDOW
    push_ack = PUSH_ACK

    def __init__(self, gateway: kuaishou_stock.KuaishouStockConnector, *, message_key: str | None = None,
                 clock: Callable[[], float] = time.time, page_size: int = PAGE_SIZE) -> None:
        self.gateway = gateway
        self.message_key = message_key
        self.clock = clock
        self.page_size = max(1, min(page_size, PAGE_SIZE))

    # --- pulling -------------------------------------------------------------------------------

    def pages(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        if end - start > MAX_WINDOW:
            raise ConnectorError(PLATFORM, f"{LIST_METHOD}: window {start} – {end} is wider than 7 days",
                                 permanent=True)
        cursor = ""
        for page_no in range(1, MAX_LISTING_PAGES + 1):
            data = self.gateway.call(LIST_METHOD, {
                "beginTime": epoch_ms(start), "endTime": epoch_ms(end), "queryType": QUERY_BY_MODIFIED,
                "orderViewStatus": VIEW_ALL, "sort": SORT_DESCENDING, "cpsType": 0, "pageSize": self.page_size,
                "cursor": cursor}) or {}
            orders = [o for o in data.get("orderList") or [] if isinstance(o, dict)]
            next_cursor = str(data.get("cursor") or NO_MORE)
            if orders:
                yield OrderPage(orders=orders, page_no=page_no)
            if next_cursor == NO_MORE or not orders or next_cursor == cursor:
                return
            cursor = next_cursor
        raise ConnectorError(PLATFORM, f"{LIST_METHOD}: more than {MAX_LISTING_PAGES} pages; listing stopped")

    def order_detail(self, order_id: str) -> dict[str, Any]:
        if not order_id.isdigit():
            raise ConnectorError(PLATFORM, f"{DETAIL_METHOD}: order id {order_id!r} is not a Kuaishou oid",
                                 permanent=True)
        data = self.gateway.call(DETAIL_METHOD, {"oid": int(order_id)})
        if not isinstance(data, dict) or not isinstance(data.get("orderBaseInfo"), dict):
            raise ConnectorError(PLATFORM, f"{DETAIL_METHOD}: answer for {order_id} without orderBaseInfo")
        return data

    # --- ship ----------------------------------------------------------------------------------

    def send_shipment(self, shipment: ShipmentWriteBack) -> dict[str, Any]:
        if not shipment.order_id.isdigit():
            raise ConnectorError(PLATFORM, f"{SHIP_METHOD}: order id {shipment.order_id!r} is not a Kuaishou oid",
                                 permanent=True)
        self.gateway.call(SHIP_METHOD, {"orderId": int(shipment.order_id), "expressNo": shipment.tracking_no,
                                        "expressCode": int(shipment.carrier_code)}, http_method="POST")
        return {"result": 1}

    def shown_tracking_numbers(self, detail: Mapping[str, Any]) -> set[str]:
        return {str(x.get("expressNo")) for x in detail.get("orderLogisticsInfo") or [] if x.get("expressNo")}

    # --- push ----------------------------------------------------------------------------------

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> list[PushEvent]:
        refuse_oversized(body)
        if not self.message_key:
            raise PushRefused("Kuaishou push is not set up for this source (no message key)", status=404)
        message = json_body(decrypt_message(body, self.message_key), "decrypted push")
        if not isinstance(message, dict):
            raise PushRefused("decrypted push is not a JSON object", status=400)
        if message.get("test") is True:
            return []  # the platform's heartbeat: acknowledged, nothing to do
        if str(message.get("appKey") or "") != self.gateway.app_key:
            raise PushRefused(f"push for app {message.get('appKey')!r}, not ours", status=403)
        created = message.get("createTime")
        if isinstance(created, int) and self.clock() - created / 1000 > PUSH_MAX_AGE:
            raise PushRefused(f"push created at {created} is older than {int(PUSH_MAX_AGE)} s")
        event = str(message.get("event") or "")
        info = message.get("info")
        if isinstance(info, str):
            info = json_body(info, "push info")
        info = info if isinstance(info, dict) else {}
        if event.startswith(ORDER_EVENT):
            order_id = info.get("oid") or message.get("bizId")
        elif event.startswith(AFTERSALES_EVENT):
            order_id = info.get("oid")
        else:
            return []  # item and other messages: not about an order
        if not order_id:
            return []
        message_id = str(message.get("eventId") or digest(message))
        return [PushEvent(message_id=message_id, order_id=str(order_id), event=event, order=None,
                          raw={**message, "info": info})]


def build(channel: str, credentials: Mapping[str, str], clock: Callable[[], float] = time.time) -> KuaishouOrderClient:
    """An order client from ``credentials`` (keys in the module docstring), signing with ``clock``;
    ``ORDERPULSE_KUAISHOU_BASE_URL`` redirects the gateway."""
    given = {k: str(v) for k, v in credentials.items() if v}
    gateway = kuaishou_stock.KuaishouStockConnector.from_credentials(
        channel, given, None, sign_method=given.get("sign_method") or "HMAC_SHA256", clock=clock)
    return KuaishouOrderClient(gateway, message_key=given.get("message_key") or os.environ.get(MESSAGE_KEY_VARIABLE),
                               clock=clock)

