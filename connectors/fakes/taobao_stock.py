"""Fake 天猫/淘宝 TOP router for stock (the calls of :mod:`connectors.taobao_stock`):
``POST /router/rest`` with parameters in the form body and/or the query string.

Checked like TOP, in this order, each failure answered on HTTP 200 as
``{"error_response": {"code", "msg", "sub_code"?, "sub_msg"?, "request_id"}}``: method (21
missing, 22 unknown), app key (28 missing, 29 ``Invalid app Key``), timestamp (30 missing, 31
``Invalid timestamp``: ``yyyy-MM-dd HH:mm:ss`` GMT+8 or epoch ms, within 10 minutes of the
fake's clock), signature (24 missing, 25 ``Invalid signature``; ``md5``, ``hmac``,
``hmac-sha256`` over every parameter but ``sign``, empty values dropped, keys sorted, hex
upper — written from the documented formula, independently of the connector), session (26
missing, 27 ``Invalid session``), arguments (40 missing, 41 invalid). Business refusals are
code 15 ``Remote service error`` with the fake's own sub codes ``isv.item-not-exist`` and
``isv.sku-not-exist``.

Answers ``items_onsale_get_response{items{item[]}, total_results}`` (page_no from 1,
page_size ≤ 200, default 40), ``item_seller_get_response{item{…, skus{sku[]}}}`` and
``item_quantity_update_response{item{num_iid, num, modified, skus}}`` (``type`` 1 sets, 2
adds). Accepted updates go to ``messages``. ``add_item(code, qty)`` adds an item without SKUs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.fakes.base import Received
from connectors.fakes.platform_stock import (
    CatalogueSku,
    PlatformId,
    StockCatalogueFake,
)
from connectors.fakes.taobao_orders import TaobaoOrderShop
from connectors.fakes.taobao_protocol import TopError, parse_timestamp, required, whole

ROUTER_PATH = "/router/rest"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SKEW_SECONDS = 600
ITEM_FIELDS = ("num_iid", "outer_id", "num", "title")
DIGESTS = {"hmac": hashlib.md5, "hmac-sha256": hashlib.sha256}


class FakeTaobaoStock(TaobaoOrderShop, StockCatalogueFake):
    """The fake TOP router: stock (this module) and orders (:mod:`connectors.fakes.taobao_orders`)."""

    name = "taobao"
    item_id_base = 600_000_000_000
    sku_id_base = 4_000_000_000_000
    order_methods = ("taobao.trades.sold.increment.get", "taobao.trade.fullinfo.get", "taobao.refund.get",
                     "taobao.logistics.offline.send")

    def __init__(self, *, orders_seed: int = 11, orders_rate_per_minute: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.setup_orders(orders_seed=orders_seed, orders_rate_per_minute=orders_rate_per_minute)

    def add_item(self, code: str, qty: int) -> CatalogueSku:
        """An item without SKUs whose own merchant code (``outer_id``) is ``code``."""
        return self._add(code, qty, None, with_sku=False)

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != ROUTER_PATH:
            return 404, {"error": "not found"}
        params = {**request.query, **request.form}
        request_id = secrets.token_hex(6)
        try:
            self.check(params, request.at)
            handler = {"taobao.items.onsale.get": self.onsale_get, "taobao.item.seller.get": self.seller_get,
                       "taobao.item.quantity.update": self.quantity_update,
                       "taobao.trades.sold.increment.get": self.increment_get,
                       "taobao.trade.fullinfo.get": self.fullinfo_get,
                       "taobao.refund.get": self.refund_get,
                       "taobao.logistics.offline.send": self.offline_send}[params["method"]]
            if params["method"] in self.order_methods and not self.order_call_allowed(request.at):
                raise self.throttled()
            body = handler(params)
        except TopError as err:
            return 200, {"error_response": {**err.body, "request_id": request_id}}
        key = params["method"].removeprefix("taobao.").replace(".", "_") + "_response"
        return 200, {key: {**body, "request_id": request_id}}

    # --- the gateway's checks ----------------------------------------------------------------

    def check(self, params: dict[str, str], now: float) -> None:
        if not params.get("method"):
            raise TopError(21, "Missing method")
        if params["method"] not in ("taobao.items.onsale.get", "taobao.item.seller.get",
                                     "taobao.item.quantity.update", *self.order_methods):
            raise TopError(22, "Invalid method")
        if not params.get("app_key"):
            raise TopError(28, "Missing app key")
        if params["app_key"] != self.app_key:
            raise TopError(29, "Invalid app Key")
        if not params.get("timestamp"):
            raise TopError(30, "Missing timestamp")
        sent = parse_timestamp(params["timestamp"])
        if sent is None or abs(now - sent) > SKEW_SECONDS:
            raise TopError(31, "Invalid timestamp")
        if not params.get("sign"):
            raise TopError(24, "Missing signature")
        if not hmac.compare_digest(expected_sign(params, self.app_secret), params["sign"]):
            raise TopError(25, "Invalid signature")
        if not params.get("session"):
            raise TopError(26, "Missing session")
        if params["session"] != self.access_token:
            raise TopError(27, "Invalid session")

    # --- the three calls ---------------------------------------------------------------------

    def onsale_get(self, params: dict[str, str]) -> dict[str, Any]:
        fields = required(params, "fields").split(",")
        page_no, page_size = whole(params, "page_no", 1), whole(params, "page_size", 40)
        if page_no < 1 or not 1 <= page_size <= 200:
            raise TopError(41, "Invalid arguments:page_size")
        items = [self.item_view(item_id, skus) for item_id, skus in self.items()]
        rows = [{k: v for k, v in item.items() if k in fields} for item in self.page(items, page_no, page_size)]
        body: dict[str, Any] = {"total_results": len(items)}
        if rows:
            body["items"] = {"item": rows}
        return body

    def seller_get(self, params: dict[str, str]) -> dict[str, Any]:
        required(params, "fields")
        skus = self.skus_of(whole(params, "num_iid", 0))
        if not skus:
            raise TopError(15, "Remote service error", "isv.item-not-exist", "商品不存在")
        item = self.item_view(skus[0].item_id, skus)
        if skus[0].sku_id is not None:
            item["skus"] = {"sku": [{"sku_id": s.sku_id, "num_iid": s.item_id, "outer_id": s.code,
                                     "quantity": s.quantity, "status": "normal"} for s in skus]}
        return {"item": item}

    def quantity_update(self, params: dict[str, str]) -> dict[str, Any]:
        num_iid, quantity = whole(params, "num_iid", None), whole(params, "quantity", None)
        kind = whole(params, "type", 1)
        if num_iid is None:
            raise TopError(40, "Missing required arguments:num_iid")
        if quantity is None:
            raise TopError(40, "Missing required arguments:quantity")
        if kind not in (1, 2) or (kind == 1 and quantity < 0):
            raise TopError(41, "Invalid arguments:quantity" if kind in (1, 2) else "Invalid arguments:type")
        skus = self.skus_of(num_iid)
        if not skus:
            raise TopError(15, "Remote service error", "isv.item-not-exist", "商品不存在")
        if params.get("sku_id"):
            sku = self.find(num_iid, params["sku_id"])
        elif params.get("outer_id"):
            sku = next((s for s in skus if s.code == params["outer_id"] and s.sku_id is not None), None)
        else:
            sku = self.find(num_iid, None)
        if sku is None:
            raise TopError(15, "Remote service error", "isv.sku-not-exist", "SKU不存在")
        new = quantity if kind == 1 else sku.quantity + quantity
        if new < 0:
            raise TopError(15, "Remote service error", "isv.item-quantity-not-enough", "库存不足")
        sku.quantity = new
        self.accept({"method": "taobao.item.quantity.update", "code": sku.code, "num_iid": sku.item_id,
                     "sku_id": sku.sku_id, "quantity": quantity, "type": kind, "shown": new})
        item = self.item_view(num_iid, skus)
        modified = datetime.fromtimestamp(self.now(), SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        item["modified"] = modified
        if sku.sku_id is not None:
            item["skus"] = {"sku": [{"sku_id": sku.sku_id, "quantity": sku.quantity, "modified": modified}]}
        return {"item": {k: item[k] for k in ("num_iid", "num", "modified", "skus") if k in item}}

    @staticmethod
    def item_view(item_id: PlatformId, skus: list[CatalogueSku]) -> dict[str, Any]:
        outer_id = skus[0].code if skus[0].sku_id is None else f"ITEM-{item_id}"
        return {"num_iid": item_id, "outer_id": outer_id, "num": sum(s.quantity for s in skus),
                "title": f"商品 {item_id}"}


def expected_sign(params: dict[str, str], secret: str) -> str:
    text = "".join(k + params[k] for k in sorted(params) if k != "sign" and params[k] != "")
    method = params.get("sign_method", "md5")
    if method in DIGESTS:
        return hmac.new(secret.encode(), text.encode(), DIGESTS[method]).hexdigest().upper()
    return hashlib.md5((secret + text + secret).encode()).hexdigest().upper()
