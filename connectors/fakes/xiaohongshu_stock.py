"""Fake Xiaohongshu (小红书 Ark) open platform, stock side: one shop's SKUs behind
``product.getDetailSkuList`` (paged), ``inventory.getSkuStock`` and ``inventory.syncSkuStock``
on ``POST /ark/open_api/v3/common_controller``, as :mod:`connectors.xiaohongshu_stock`
describes them.

Every call is checked like the platform does: ``appId`` must be the app's, ``version`` 2.0,
``timestamp`` (unix seconds) within 10 minutes of the fake's clock, ``sign`` =
``md5_hex(method?appId=…&timestamp=…&version=…` + appSecret)`` (the access token and business
fields are not signed; the check is written from the documented formula, independently of the
connector), and ``accessToken`` the shop's.

Each SKU keeps the platform's split: ``available``, ``occupied`` (unpaid orders),
``channel`` / ``activity`` (sellable through channel products and activities) and their
occupied parts; ``total`` is their sum. ``syncSkuStock`` moves ``qty - total`` onto
``available`` (refused when that would go below 0).

Answers (HTTP 200) ``{"success", "error_code", "error_msg", "data"}``: a refused appId,
signature, timestamp or token → ``error_code`` -1; an unknown skuId → 1; a bad ``qty`` or a
sync below the held and channel stock → 2 (the fake's own codes). Accepted syncs go to
``messages``; ``page_limit`` caps the page size (tests page at 2).

The same gateway serves the shop's orders (after the same checks) and pushes them: see
:mod:`connectors.fakes.xiaohongshu_orders`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, cast

from connectors.fakes.base import Received
from connectors.fakes.order_scenario import OrderScenario
from connectors.fakes.platform_stock import CatalogueSku, StockCatalogueFake
from connectors.fakes.xiaohongshu_orders import XiaohongshuOrderShop

API_PATH = "/ark/open_api/v3/common_controller"
REFUSED, UNKNOWN_SKU, BAD_QTY = -1, 1, 2
WINDOW_S = 600


@dataclass
class XhsSku(CatalogueSku):
    """A SKU with the platform's split. ``quantity`` is ``available`` (sellable on the SKU
    itself): a buyer's purchase (``sell``) and the merchant's edit (``show``) act on it."""

    occupied: int = 0
    channel: int = 0
    channel_occupied: int = 0
    activity: int = 0
    activity_occupied: int = 0

    @property
    def available(self) -> int:
        return self.quantity

    @available.setter
    def available(self, value: int) -> None:
        self.quantity = value

    @property
    def shown(self) -> int:
        """Units buyers can take: on the SKU itself plus through channels and activities."""
        return self.available + self.channel + self.activity

    @property
    def total(self) -> int:
        return (self.available + self.occupied + self.channel + self.channel_occupied + self.activity
                + self.activity_occupied)

    def view(self) -> dict[str, int]:
        return {"available": self.available, "total": self.total, "occupiedQuantity": self.occupied,
                "productChannelQuantity": self.channel, "productChannelOccupiedQuantity": self.channel_occupied,
                "activityChannelQuantity": self.activity, "activityChannelOccupiedQuantity": self.activity_occupied,
                "reserved": 0, "standalone": 0}


def _fail(code: int, message: str) -> dict[str, Any]:
    return {"success": False, "error_code": code, "error_msg": message, "data": None}


def _ok(data: Any) -> dict[str, Any]:
    return {"success": True, "error_code": 0, "error_msg": "", "data": data}


class FakeXiaohongshuStock(XiaohongshuOrderShop, StockCatalogueFake):
    """One shop of app ``app_id`` (kept as ``app_key``; secret ``app_secret``) authorized by
    ``access_token``; its orders come from ``scenario`` (default: a seeded one on the fake's
    clock)."""

    name = "xiaohongshu"
    sku_type = XhsSku

    def __init__(self, app_id: str, app_secret: str, access_token: str, *, page_limit: int = 100,
                 scenario: OrderScenario | None = None, orders_seed: int = 19, orders_rate_per_minute: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(app_key=app_id, app_secret=app_secret, access_token=access_token,
                         page_size_cap=page_limit, **kwargs)
        self.setup_orders(orders_seed=orders_seed, orders_rate_per_minute=orders_rate_per_minute, scenario=scenario)
        self.setup_push()

    def new_item_id(self, n: int) -> str:
        return f"66ee733f265f5900{n:08x}"  # the platform's ids are 24 hex digits

    def new_sku_id(self, n: int) -> str:
        return f"66ee733f265f5a00{n:08x}"

    # --- test helpers ------------------------------------------------------------------------

    def add_sku(self, code: str, qty: int, *, item: str | None = None, occupied: int = 0, channel: int = 0,
                activity: int = 0) -> XhsSku:
        """A SKU with ``erpCode`` ``code`` and ``qty`` sellable on the SKU itself."""
        return cast(XhsSku, self._add(code, qty, item, with_sku=True, occupied=occupied, channel=channel,
                                      activity=activity))

    def hold_unpaid(self, code: str, qty: int) -> None:
        """A buyer places an order and has not paid yet: ``qty`` moves to ``occupied``."""
        with self._lock:
            sku = self.catalogue[code]
            sku.available -= qty
            sku.occupied += qty

    # --- the platform ------------------------------------------------------------------------

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != API_PATH:
            return 404, {"success": False, "error_code": 404, "error_msg": "not found"}
        body = request.json
        if not isinstance(body, dict):
            return 200, _fail(REFUSED, "请求体不是JSON")
        refused = self._refusal(body)
        if refused:
            return 200, _fail(REFUSED, refused)
        method = body.get("method")
        ordered = self.order_answer(str(method), body)
        if ordered is not None:
            return ordered
        if method == "product.getDetailSkuList":
            return 200, self._list(body)
        if method in ("inventory.getSkuStock", "inventory.syncSkuStock"):
            found = [s for s in self.catalogue.values() if s.sku_id == body.get("skuId")]
            if not found:
                return 200, _fail(UNKNOWN_SKU, "规格不存在")
            if method == "inventory.getSkuStock":
                return 200, _ok(self._stock(found[0]))
            return 200, self._sync(found[0], body.get("qty"))
        return 200, _fail(REFUSED, f"method {method} 不存在")

    def _refusal(self, body: dict[str, Any]) -> str | None:
        if body.get("appId") != self.app_key:
            return "appId 不存在"
        if body.get("version") != "2.0":
            return "version 不正确"
        ts = str(body.get("timestamp", ""))
        if not ts.isdigit() or abs(self.now() - int(ts)) > WINDOW_S:
            return "timestamp 已过期"
        text = f"{body.get('method')}?appId={body['appId']}&timestamp={ts}&version={body['version']}"
        expected = hashlib.md5((text + self.app_secret).encode()).hexdigest()
        if not hmac.compare_digest(expected, str(body.get("sign", ""))):
            return "签名校验失败"
        if body.get("accessToken") != self.access_token:
            return "accessToken 无效或已过期"
        return None

    def _stock(self, sku: XhsSku) -> dict[str, Any]:
        return {"skuId": sku.sku_id, "apiVersion": "V1", "skuStock": sku.view(),
                "skuStockInfoWithWhcode": [{"skuId": sku.sku_id, "whcode": "CPartner", "skuStock": sku.view()}]}

    def _list(self, body: dict[str, Any]) -> dict[str, Any]:
        size = self.page_size(int(body.get("pageSize") or 50))
        page = max(1, int(body.get("pageNo") or 1))
        rows = list(self.catalogue.values())
        data = [{"item": {"id": sku.item_id, "name": sku.code},
                 "sku": {"id": sku.sku_id, "itemId": sku.item_id, "erpCode": sku.code, "stock": sku.available,
                         "buyable": True}} for sku in self.page(rows, page, size)]
        return _ok({"data": data, "pageNO": page, "pageSize": size, "total": len(rows)})

    def _sync(self, sku: XhsSku, qty: Any) -> dict[str, Any]:
        if not isinstance(qty, int) or isinstance(qty, bool) or qty < 0:
            return _fail(BAD_QTY, "qty 须为非负整数")
        after = sku.available + qty - sku.total
        if after < 0:
            return _fail(BAD_QTY, "同步库存小于占用及渠道库存")
        sku.available = after
        self.accept({"code": sku.code, "skuId": sku.sku_id, "qty": qty, "available": after})
        return _ok(self._stock(sku))
