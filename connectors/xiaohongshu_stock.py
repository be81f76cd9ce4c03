"""Xiaohongshu (小红书 Ark open platform) stock connector: shows our figure for a SKU and reads
back what buyers can take. Implements :class:`engine.inventory.channels.StockConnector`; it
owns the platform's signing, calls and id mapping, and decides nothing about stock itself.

Requests: ``POST https://ark.xiaohongshu.com/ark/open_api/v3/common_controller``, JSON body
``{"appId", "timestamp" (unix seconds), "version": "2.0", "method", "sign", "accessToken",
<business fields at the top level>}``. ``sign = md5_hex(method + "?appId=" + appId +
"&timestamp=" + timestamp + "&version=" + version + appSecret)``, lowercase; the access token
and business fields are not signed. Answer ``{"success", "error_code", "error_msg", "data"}``;
success is ``success == true and error_code == 0``.

Calls (from the platform's API pages as copied in public SDK repositories):
- list: ``product.getDetailSkuList`` ``{"pageNo", "pageSize" ≤ 100}`` →
  ``data{data[{item, sku{id, itemId, erpCode, …}}], pageNO, pageSize, total}``;
- read: ``inventory.getSkuStock`` ``{"skuId"}`` → ``data.skuStock{available, total,
  occupiedQuantity, productChannelQuantity, productChannelOccupiedQuantity,
  activityChannelQuantity, activityChannelOccupiedQuantity}``;
- update: ``inventory.syncSkuStock`` ``{"skuId", "qty"}``.
Our ``sku_id`` is the SKU's merchant code ``erpCode`` (``erpcode`` in order payloads); the
platform's ``skuId`` comes from the listing.

How our figure maps onto ``qty``. The platform splits a SKU's **total** into: ``available``
(sellable on the SKU itself), ``occupiedQuantity`` (held by unpaid orders),
``productChannelQuantity`` / ``activityChannelQuantity`` (sellable through channel products
and activities, each with its own ``…OccupiedQuantity``). ``syncSkuStock``'s ``qty`` is the new
total, and the platform moves the difference ``qty - total`` onto ``available``. Our figure is
how many more units buyers may take on Xiaohongshu, through any door; so:
- shown (``fetch_stock``) = ``available + productChannelQuantity + activityChannelQuantity``;
- a push of ``n`` reads the SKU, aims ``available`` at ``max(0, n - productChannelQuantity -
  activityChannelQuantity)`` and sends ``qty = total - available + that``; unpaid holds and
  channel allocations are left as they are (unpaid orders reach us when paid). Nothing is sent
  when the SKU already shows ``n``. Channel and activity allocations larger than ``n`` are the
  merchant's: we set ``available`` to 0 and the shop still shows the allocations.
A retry reads again, so a push whose answer was lost is not applied twice; an order taken
between the read and the sync leaves the shop showing less than our figure, never more.

Rate limits (the platform's page 292: 100 calls a second per new app, 200 per method): the
code of the refusal is not documented; HTTP 429, or an answer whose message speaks of
限流 / 频繁 / limit, raises :class:`~connectors.platform_stock.RateLimited` (retry after 1 s).

Assumed, not confirmed in the sources read: the codes of gateway refusals (a bad appId,
signature, timestamp or token are taken as ``error_code`` -1, a configuration error); the
timestamp window (10 minutes in the fake). ``syncSkuStock`` only serves SKUs without
multi-warehouse regional stock; the platform refuses the others (``syncSkuStockV2``).

Credentials for :func:`build`: ``app_key`` (appId), ``app_secret`` (appSecret),
``access_token`` (the shop's accessToken; required). ``shop`` is not used.
``ORDERPULSE_XIAOHONGSHU_BASE_URL`` or ``base_url`` redirects the gateway (tests, demo). The
code → ids map, the relisting for an unknown code and the transport live in
:mod:`connectors.platform_stock`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.outbound import ConnectorError
from connectors.platform_stock import (
    JSON_HEADERS,
    ListedSku,
    ListedStockConnector,
    RateLimited,
    paged,
)

PLATFORM = "Xiaohongshu"
CHANNEL = "xiaohongshu"
DEFAULT_BASE_URL = "https://ark.xiaohongshu.com"
API_PATH = "/ark/open_api/v3/common_controller"
VERSION = "2.0"
LIST_METHOD = "product.getDetailSkuList"
READ_METHOD = "inventory.getSkuStock"
SYNC_METHOD = "inventory.syncSkuStock"
MAX_PAGE_SIZE = 100
CONFIG_CODES = {-1}
RATE_LIMIT_WORDS = ("限流", "频繁", "limit")
RATE_LIMIT_WAIT = 1.0


def sign(method: str, app_id: str, timestamp: int | str, app_secret: str, version: str = VERSION) -> str:
    """``md5_hex(f"{method}?appId={app_id}&timestamp={timestamp}&version={version}{app_secret}")``."""
    return hashlib.md5(f"{method}?appId={app_id}&timestamp={timestamp}&version={version}{app_secret}".encode()
                       ).hexdigest()


@dataclass(frozen=True)
class SkuStock:
    """The platform's split of one SKU's stock (``inventory.getSkuStock``'s ``skuStock``)."""

    available: int
    total: int
    channel: int  # productChannelQuantity + activityChannelQuantity: sellable elsewhere

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> SkuStock:
        def n(key: str) -> int:
            return int(raw.get(key) or 0)

        return cls(n("available"), n("total"), n("productChannelQuantity") + n("activityChannelQuantity"))

    @property
    def shown(self) -> int:
        """Units buyers can still take, through the SKU itself or its channels."""
        return self.available + self.channel

    def qty_for(self, figure: int) -> int:
        """The total to sync so that buyers can take ``figure`` units."""
        return self.total - self.available + max(0, figure - self.channel)


class XiaohongshuStockConnector(ListedStockConnector):
    """Implements :class:`engine.inventory.channels.StockConnector` for Xiaohongshu."""

    platform = PLATFORM
    default_channel = CHANNEL
    default_base_url = DEFAULT_BASE_URL
    max_page_size = MAX_PAGE_SIZE
    permanent_http_statuses = frozenset({401, 403, 404})

    # --- listing and update ------------------------------------------------------------------

    def list_skus(self) -> Iterable[ListedSku]:
        """The listing carries no stock split, so ``quantity`` is None (see :meth:`shown`)."""
        def page_of_products(page: int) -> tuple[list[Any], int]:
            data = self.call(LIST_METHOD, {"pageNo": page, "pageSize": self.page_size}) or {}
            return list(data.get("data") or []), int(data.get("total") or 0)

        for products, _total in paged(page_of_products, what=LIST_METHOD, platform=PLATFORM):
            for product in products:
                sku = product.get("sku") or {}
                code = str(sku.get("erpCode") or sku.get("erpcode") or "").strip()
                if code and sku.get("id"):
                    yield ListedSku(code, None, {"skuId": str(sku["id"])})

    def shown(self, sku: ListedSku) -> int:
        return self.read(sku.ids["skuId"]).shown

    def update_quantity(self, ids: Mapping[str, Any], code: str, quantity: int) -> Mapping[str, Any]:
        """Read the SKU's split and sync the total that makes buyers able to take ``quantity``."""
        stock = self.read(ids["skuId"])
        qty = stock.qty_for(quantity)
        if qty != stock.total:
            self.call(SYNC_METHOD, {"skuId": ids["skuId"], "qty": qty})
        return {"was": stock.shown, "qty": qty}

    def read(self, platform_sku: str) -> SkuStock:
        data = self.call(READ_METHOD, {"skuId": platform_sku}) or {}
        raw = data.get("skuStock")
        if not isinstance(raw, Mapping):
            raise ConnectorError(PLATFORM, f"{READ_METHOD}: no skuStock for SKU {platform_sku}")
        return SkuStock.parse(raw)

    # --- one call ----------------------------------------------------------------------------

    def signed_body(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        timestamp = str(int(self.clock()))
        return {**params, "appId": self.app_key, "timestamp": timestamp, "version": VERSION, "method": method,
                "sign": sign(method, self.app_key, timestamp, self.app_secret), "accessToken": self.access_token}

    def call(self, method: str, params: Mapping[str, Any]) -> Any:
        """One signed call; the answer's ``data``, or :class:`ConnectorError`."""
        body = self.signed_body(method, params)
        try:
            _, answer = self.request("POST", self.base_url + API_PATH, headers=JSON_HEADERS, what=method,
                                     data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                     redacting=[body["sign"]])
        except ConnectorError as exc:
            if exc.code == 429:
                raise RateLimited(PLATFORM, str(exc).removeprefix(f"{PLATFORM}: "), retry_after=RATE_LIMIT_WAIT,
                                  code=429) from None
            raise
        code = answer.get("error_code")
        if answer.get("success") is not True or code not in (0, None):
            message = answer.get("error_msg") or answer.get("message")
            if any(word in str(message or "").lower() for word in RATE_LIMIT_WORDS):
                raise RateLimited(PLATFORM, self.redact(f"{method}: error_code {code}: {message}"),
                                  retry_after=RATE_LIMIT_WAIT, code=code)
            raise self.refusal(method, code, message, permanent=code in CONFIG_CODES, code_name="error_code")
        return answer.get("data")


def build(channel: str, credentials: Mapping[str, str], base_url: str | None = None) -> XiaohongshuStockConnector:
    """A connector from ``credentials`` (keys in the module docstring)."""
    return XiaohongshuStockConnector.from_credentials(channel, credentials, base_url)
