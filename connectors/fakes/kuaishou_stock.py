"""Fake Kuaishou (快手小店) open platform: a shop's catalogue behind
``open.item.list.get`` (GET, paged), ``open.item.get`` (GET) and
``open.item.sku.stock.update`` (POST form, incremental), as :mod:`connectors.kuaishou_stock`
describes them.

Every call is checked like the platform does: the URL path must be the method with "." → "/",
``appkey`` and ``access_token`` must be the shop's, ``timestamp`` (epoch ms) within 10 minutes
of the fake's clock, ``version`` 1, and ``sign`` must match ``signMethod`` (MD5: lowercase
hex of ``k=v&…&signSecret=S``; HMAC_SHA256: its base64 HMAC keyed with the signSecret). The
check is written from the documented formula, independently of the connector's code.

Answers (HTTP 200): ``{"result": 1, "data": …}``; a refused appkey, token, timestamp or
signature → ``{"result": 50, "error_msg": …}``; an unknown item or SKU → ``result`` 3;
a decrease below the activity reservation (``reserveStock``) → ``result`` 21
``当前库存不足，请减少预留数量``; a malformed update → ``result`` 2. Accepted updates go to
``messages``. ``page_limit`` caps the page size (tests page at 2).

The same gateway serves the shop's orders (``open.order.*``, after the same checks) and
pushes them: see :mod:`connectors.fakes.kuaishou_orders`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, cast

from connectors.fakes.base import Received
from connectors.fakes.kuaishou_orders import DEFAULT_MESSAGE_KEY, KuaishouOrderShop
from connectors.fakes.order_scenario import OrderScenario
from connectors.fakes.platform_stock import CatalogueSku, StockCatalogueFake

GATEWAY_REFUSED = 50
NOT_FOUND = 3
BAD_PARAM = 2
BELOW_RESERVE = 21
WINDOW_MS = 10 * 60 * 1000
SIGNED = ("access_token", "appkey", "method", "param", "signMethod", "timestamp", "version")


@dataclass
class KuaishouSku(CatalogueSku):
    """A SKU with the stock the merchant set aside for activities (``reserveStock``)."""

    reserve: int = 0


class FakeKuaishouStock(KuaishouOrderShop, StockCatalogueFake):
    """One shop of ``app_key`` (signing with ``sign_secret``) authorized by ``access_token``;
    its orders come from ``scenario`` (default: a seeded one on the fake's clock) and its
    pushes are encrypted with ``message_key``."""

    name = "kuaishou"
    item_id_base = 22_000_000_000_000
    sku_id_base = 22_100_000_000_000
    sku_type = KuaishouSku

    def __init__(self, app_key: str, sign_secret: str, access_token: str, *, page_limit: int = 100,
                 scenario: OrderScenario | None = None, orders_seed: int = 17, orders_rate_per_minute: float = 0.0,
                 message_key: str = DEFAULT_MESSAGE_KEY, **kwargs: Any) -> None:
        super().__init__(app_key=app_key, app_secret=sign_secret, access_token=access_token,
                         page_size_cap=page_limit, **kwargs)
        self.message_key = message_key
        self.setup_orders(orders_seed=orders_seed, orders_rate_per_minute=orders_rate_per_minute, scenario=scenario)
        self.setup_push()

    def add_sku(self, code: str, qty: int, *, item: str | None = None, reserve: int = 0) -> KuaishouSku:
        """A SKU with merchant code ``code`` (its ``skuNick``) on item ``item`` (default: its own)."""
        return cast(KuaishouSku, self._add(code, qty, item, with_sku=True, reserve=reserve))

    # --- the platform ------------------------------------------------------------------------

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method == "GET":
            params = dict(request.query)
        else:
            params = request.form
        method = params.get("method", "")
        if request.path != "/" + method.replace(".", "/"):
            return 404, {"result": 404, "error_msg": "api not found"}
        refused = self._refusal(params)
        if refused:
            return 200, {"result": GATEWAY_REFUSED, "error_msg": refused}
        try:
            param = json.loads(params.get("param") or "{}")
        except ValueError:
            return 200, {"result": BAD_PARAM, "error_msg": "param is not JSON"}
        if method.startswith("open.order.") and request.method == "GET":
            return 200, self.order_answer(method, param)
        if method == "open.seller.order.goods.deliver" and request.method == "POST":
            return 200, self.goods_deliver(param)
        if method == "open.item.list.get" and request.method == "GET":
            return 200, self._list(param)
        if method == "open.item.get" and request.method == "GET":
            return 200, self._item(param)
        if method == "open.item.sku.stock.update" and request.method == "POST":
            return 200, self._update(param)
        return 200, {"result": BAD_PARAM, "error_msg": f"{method} does not accept {request.method}"}

    def _refusal(self, params: dict[str, str]) -> str | None:
        if params.get("appkey") != self.app_key:
            return "appkey 不存在"
        if params.get("version") != "1":
            return "version 不正确"
        ts = params.get("timestamp", "")
        if not ts.isdigit() or abs(self.now() * 1000 - int(ts)) > WINDOW_MS:
            return "timestamp 已过期"
        message = "&".join(f"{k}={params[k]}" for k in sorted(SIGNED) if k in params)
        message += "&signSecret=" + self.app_secret
        if params.get("signMethod") == "MD5":
            expected = hashlib.md5(message.encode()).hexdigest()
        elif params.get("signMethod") == "HMAC_SHA256":
            digest = hmac.new(self.app_secret.encode(), message.encode(), hashlib.sha256).digest()
            expected = base64.b64encode(digest).decode()
        else:
            return "signMethod 不支持"
        if not hmac.compare_digest(expected, params.get("sign", "")):
            return "签名验证失败"
        if params.get("access_token") != self.access_token:
            return "鉴权失败：access_token 无效或已过期"
        return None

    @staticmethod
    def _sku_view(sku: KuaishouSku) -> dict[str, Any]:
        return {"kwaiItemId": sku.item_id, "kwaiSkuId": sku.sku_id, "relSkuId": 0, "skuNick": sku.code,
                "skuStock": sku.quantity, "reserveStock": sku.reserve, "isValid": 1}

    def _items_view(self) -> list[dict[str, Any]]:
        return [{"kwaiItemId": item_id, "relItemId": 0,
                 "skuList": [self._sku_view(cast(KuaishouSku, sku)) for sku in skus]} for item_id, skus in self.items()]

    def _list(self, param: dict[str, Any]) -> dict[str, Any]:
        items = self._items_view()
        size = self.page_size(int(param.get("pageSize") or 20))
        page = max(1, int(param.get("pageNumber") or 1))
        chunk = self.page(items, page, size)
        return {"result": 1, "data": {"items": chunk, "currentPageNumber": page,
                                      "currentPageItemCount": len(chunk), "totalItemCount": len(items),
                                      "totalPage": (len(items) + size - 1) // size}}

    def _item(self, param: dict[str, Any]) -> dict[str, Any]:
        for item in self._items_view():
            if item["kwaiItemId"] == param.get("kwaiItemId"):
                return {"result": 1, "data": {"itemId": item["kwaiItemId"], "skuInfos": item["skuList"]}}
        return {"result": NOT_FOUND, "error_msg": "商品不存在"}

    def _update(self, param: dict[str, Any]) -> dict[str, Any]:
        change, kind = param.get("skuChangeStock"), param.get("changeType")
        if not isinstance(change, int) or isinstance(change, bool) or change <= 0 or kind not in (1, 2):
            return {"result": BAD_PARAM, "error_msg": "skuChangeStock 须为正整数，changeType 须为 1 或 2"}
        found = [s for s in self.catalogue.values()
                 if s.item_id == param.get("kwaiItemId") and s.sku_id == param.get("skuId")]
        if not found:
            return {"result": NOT_FOUND, "error_msg": "商品或规格不存在"}
        sku = found[0]
        after = sku.quantity + change if kind == 1 else sku.quantity - change
        if after < sku.reserve:
            return {"result": BELOW_RESERVE, "error_msg": "当前库存不足，请减少预留数量"}
        sku.quantity = after
        self.accept({"code": sku.code, "kwaiItemId": sku.item_id, "skuId": sku.sku_id, "changeType": kind,
                     "skuChangeStock": change, "stock": after})
        return {"result": 1, "data": {}}
