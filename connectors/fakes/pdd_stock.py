"""Fake 拼多多 POP router for stock (the calls of :mod:`connectors.pdd_stock`):
``POST /api/router`` with the parameters as a form.

Checked like PDD, in this order, each failure answered on HTTP 200 as
``{"error_response": {"error_code", "error_msg", "sub_code", "sub_msg", "request_id"}}``:
``type`` (10001 公共参数错误:type when missing, 10017 type不正确 when unknown), ``client_id``
(10016 client下线或者clientId不正确), ``timestamp`` (10001 公共参数错误:timestamp unless unix
seconds within 10 minutes of the fake's clock — the code for a stale timestamp is the fake's
assumption), ``sign`` (20004 签名sign校验失败; ``UPPER(MD5(secret + sorted k+v + secret))``
over every parameter but ``sign``, written from the documented formula, independently of the
connector), ``access_token`` (20032 access_token或client_id错误). Business errors: 21002
请求参数不能为空, 10000 参数错误, 50001 业务服务错误 (unknown goods or SKU).

Answers ``goods_list_get_response{goods_list[], total_count}`` (page from 1, page_size ≤ 100,
default 100) and ``goods_quantity_update_response{is_success}`` (``update_type`` 1 sets, 2
adds; ``sku_id`` wins over ``outer_id``). Accepted updates go to ``messages``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from connectors.fakes.base import Received
from connectors.fakes.pdd_orders import RESPONSE_KEYS, PddOrderShop
from connectors.fakes.pdd_protocol import PddError, number
from connectors.fakes.platform_stock import StockCatalogueFake

ROUTER_PATH = "/api/router"
SKEW_SECONDS = 600
TYPES = ("pdd.goods.list.get", "pdd.goods.quantity.update", *RESPONSE_KEYS)


class FakePddStock(PddOrderShop, StockCatalogueFake):
    """The fake POP router: stock (this module) and orders (:mod:`connectors.fakes.pdd_orders`)."""

    name = "pdd"
    item_id_base = 300_000_000_000
    sku_id_base = 1_200_000_000_000

    def __init__(self, *, orders_seed: int = 12, orders_rate_per_minute: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.setup_orders(orders_seed=orders_seed, orders_rate_per_minute=orders_rate_per_minute)

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != ROUTER_PATH:
            return 404, {"error": "not found"}
        params = request.form
        try:
            self.check(params, request.at)
            handler = {"pdd.goods.list.get": self.goods_list, "pdd.goods.quantity.update": self.quantity_update,
                       "pdd.order.number.list.increment.get": self.increment_get,
                       "pdd.order.information.get": self.information_get,
                       "pdd.logistics.online.send": self.online_send,
                       "pdd.refund.list.increment.get": self.refund_increment_get}[params["type"]]
            if params["type"] in RESPONSE_KEYS and not self.order_call_allowed(request.at):
                raise self.throttled()
            body = handler(params)
        except PddError as err:
            return 200, {"error_response": {**err.body, "request_id": secrets.token_hex(8)}}
        key = RESPONSE_KEYS.get(params["type"]) or params["type"].removeprefix("pdd.").replace(".", "_") + "_response"
        return 200, {key: body}

    def check(self, params: dict[str, str], now: float) -> None:
        if not params.get("type"):
            raise PddError(10001, "公共参数错误:type")
        if params["type"] not in TYPES:
            raise PddError(10017, "type不正确")
        self.check_signed(params, now)

    def check_signed(self, params: dict[str, str], now: float) -> None:
        """The router's checks of the caller: client id, timestamp, signature, access token."""
        if params.get("client_id") != self.app_key:
            raise PddError(10016, "client下线或者clientId不正确")
        ts = params.get("timestamp", "")
        if not ts.isdigit() or abs(now - int(ts)) > SKEW_SECONDS:
            raise PddError(10001, "公共参数错误:timestamp")
        text = "".join(k + params[k] for k in sorted(params) if k != "sign")
        expected = hashlib.md5((self.app_secret + text + self.app_secret).encode()).hexdigest().upper()
        if not hmac.compare_digest(expected, params.get("sign", "")):
            raise PddError(20004, "签名sign校验失败")
        if params.get("access_token") != self.access_token:
            raise PddError(20032, "access_token或client_id错误")

    def goods_list(self, params: dict[str, str]) -> dict[str, Any]:
        page, page_size = number(params, "page", 1), number(params, "page_size", 100)
        if page < 1 or not 1 <= page_size <= 100:
            raise PddError(10000, "参数错误", "page_size 取值 1–100")
        goods = []
        for goods_id, skus in self.items():
            sku_list = [{"sku_id": s.sku_id, "outer_id": s.code, "outer_goods_id": f"G-{goods_id}",
                         "sku_quantity": s.quantity, "reserve_quantity": 0, "is_sku_onsale": 1,
                         "spec": s.code} for s in skus]
            goods.append({"goods_id": goods_id, "goods_name": f"商品 {goods_id}", "is_onsale": 1,
                          "is_more_sku": int(len(skus) > 1), "goods_quantity": sum(s.quantity for s in skus),
                          "goods_reserve_quantity": 0, "sku_list": sku_list})
        return {"goods_list": self.page(goods, page, page_size), "total_count": len(goods)}

    def quantity_update(self, params: dict[str, str]) -> dict[str, Any]:
        for key in ("goods_id", "quantity"):
            if not params.get(key):
                raise PddError(21002, "请求参数不能为空", f"{key} 不能为空")
        if not params.get("sku_id") and not params.get("outer_id"):
            raise PddError(21002, "请求参数不能为空", "sku_id和outer_id必填一个")
        goods_id, quantity, kind = number(params, "goods_id", 0), number(params, "quantity", 0), \
            number(params, "update_type", 1)
        if kind not in (1, 2) or (kind == 1 and quantity < 0):
            raise PddError(10000, "参数错误", "quantity 或 update_type 不合法")
        skus = self.skus_of(goods_id)
        if not skus:
            raise PddError(50001, "业务服务错误", "商品不存在")
        if params.get("sku_id"):
            sku = self.find(goods_id, params["sku_id"])
        else:
            sku = next((s for s in skus if s.code == params["outer_id"]), None)
        if sku is None:
            raise PddError(50001, "业务服务错误", "sku不存在")
        new = quantity if kind == 1 else sku.quantity + quantity
        if new < 0:
            raise PddError(50001, "业务服务错误", "库存不足")
        sku.quantity = new
        self.accept({"type": "pdd.goods.quantity.update", "code": sku.code, "goods_id": sku.item_id,
                     "sku_id": sku.sku_id, "quantity": quantity, "update_type": kind, "shown": new})
        return {"is_success": True}
