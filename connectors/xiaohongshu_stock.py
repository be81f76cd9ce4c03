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

Assumed, not confirmed in the sources read: the codes of gateway refusals (a bad appId,
signature, timestamp or token are taken as ``error_code`` -1, a configuration error); the
timestamp window (10 minutes in the fake). ``syncSkuStock`` only serves SKUs without
multi-warehouse regional stock; the platform refuses the others (``syncSkuStockV2``).

Credentials for :func:`build`: ``app_key`` (appId), ``app_secret`` (appSecret),
``access_token`` (the shop's accessToken; required). ``shop`` is not used.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.outbound import ConnectorError, MissingSetting, post_json, redact
from engine.logs import get_logger

PLATFORM = "Xiaohongshu"
CHANNEL = "xiaohongshu"
DEFAULT_BASE_URL = "https://ark.xiaohongshu.com"
API_PATH = "/ark/open_api/v3/common_controller"
VERSION = "2.0"
LIST_METHOD = "product.getDetailSkuList"
READ_METHOD = "inventory.getSkuStock"
SYNC_METHOD = "inventory.syncSkuStock"
MAX_PAGE_SIZE = 100
MAX_PAGES = 1000
CONFIG_CODES = {-1}

log = get_logger(__name__)


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


class XiaohongshuStockConnector:
    """Implements :class:`engine.inventory.channels.StockConnector` for Xiaohongshu."""

    def __init__(self, channel: str = CHANNEL, *, app_key: str, app_secret: str, access_token: str | None = None,
                 shop: str | None = None, base_url: str | None = None, timeout: float = 5.0,
                 page_size: int = MAX_PAGE_SIZE, clock: Callable[[], float] = time.time) -> None:
        if not access_token:
            raise MissingSetting(PLATFORM, "an access_token (the shop's accessToken) is required")
        self.channel = channel
        self.app_key, self._secret, self._token = app_key, app_secret, access_token
        self.shop = shop
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._clock = clock
        self._ids: dict[str, str] = {}

    # --- the protocol ------------------------------------------------------------------------

    def fetch_stock(self) -> dict[str, int]:
        return {code: self._read(sku).shown for code, sku in self._list().items()}

    def push_stock(self, sku_id: str, available: int, version: int) -> None:
        if available < 0:
            raise ConnectorError(PLATFORM, f"{sku_id}: cannot show a negative figure ({available})", permanent=True)
        platform_sku = self._ids.get(sku_id) or self._list().get(sku_id)
        if platform_sku is None:
            raise ConnectorError(PLATFORM, f"{sku_id}: unknown merchant code (no SKU of the shop has this erpCode)",
                                 permanent=True)
        try:
            stock = self._read(platform_sku)
            qty = stock.qty_for(available)
            if qty != stock.total:
                self.call(SYNC_METHOD, {"skuId": platform_sku, "qty": qty})
        except ConnectorError:
            self._ids.pop(sku_id, None)  # a retry lists afresh (the SKU may have been re-created)
            raise
        log.info("xiaohongshu stock shown", sku_id=sku_id, available=available, version=version, was=stock.shown,
                 qty=qty)

    # --- platform calls ----------------------------------------------------------------------

    def _list(self) -> dict[str, str]:
        """Every SKU of the shop, merchant code → platform skuId (all pages); remembered."""
        found: dict[str, str] = {}
        page, seen = 1, 0
        while True:
            data = self.call(LIST_METHOD, {"pageNo": page, "pageSize": self.page_size}) or {}
            products = data.get("data") or []
            for product in products:
                sku = product.get("sku") or {}
                code = str(sku.get("erpCode") or sku.get("erpcode") or "").strip()
                if code and sku.get("id") and code not in found:
                    found[code] = str(sku["id"])
            seen += len(products)
            if not products or seen >= int(data.get("total") or 0):
                break
            if page >= MAX_PAGES:
                raise ConnectorError(PLATFORM, f"{LIST_METHOD}: more than {MAX_PAGES} pages; listing abandoned")
            page += 1
        self._ids = found
        return found

    def _read(self, platform_sku: str) -> SkuStock:
        data = self.call(READ_METHOD, {"skuId": platform_sku}) or {}
        raw = data.get("skuStock")
        if not isinstance(raw, Mapping):
            raise ConnectorError(PLATFORM, f"{READ_METHOD}: no skuStock for SKU {platform_sku}")
        return SkuStock.parse(raw)

    def signed_body(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        timestamp = str(int(self._clock()))
        return {**params, "appId": self.app_key, "timestamp": timestamp, "version": VERSION, "method": method,
                "sign": sign(method, self.app_key, timestamp, self._secret), "accessToken": self._token}

    def call(self, method: str, params: Mapping[str, Any]) -> Any:
        """One signed call; the answer's ``data``, or :class:`ConnectorError`."""
        body = self.signed_body(method, params)
        secrets = [self._secret, self._token, body["sign"]]
        _, answer = post_json(PLATFORM, self.base_url + API_PATH, body, secrets=secrets, timeout=self.timeout)
        if not isinstance(answer, dict):
            raise ConnectorError(PLATFORM, f"{method}: answer is not a JSON object")
        code = answer.get("error_code")
        if answer.get("success") is not True or code not in (0, None):
            message = answer.get("error_msg") or answer.get("message") or ""
            raise ConnectorError(PLATFORM, redact(f"{method}: error_code {code}: {message}", secrets), code=code,
                                 permanent=code in CONFIG_CODES)
        return answer.get("data")


def build(channel: str, credentials: Mapping[str, str], base_url: str | None = None) -> XiaohongshuStockConnector:
    """A connector from ``credentials`` (keys in the module docstring)."""
    for key in ("app_key", "app_secret", "access_token"):
        if not credentials.get(key):
            raise MissingSetting(PLATFORM, f"credential {key!r} is missing")
    return XiaohongshuStockConnector(channel, app_key=credentials["app_key"], app_secret=credentials["app_secret"],
                                     access_token=credentials["access_token"], shop=credentials.get("shop"),
                                     base_url=base_url)
