"""Fake 抖店 open API for stock (the calls of :mod:`connectors.douyin_stock`): ``POST
/product/listV2``, ``/sku/list``, ``/sku/syncStock`` with the system parameters in the query
and ``param_json`` as the JSON body.

Checked like Doudian, each failure answered on HTTP 200 as ``{"code", "msg", "sub_code",
"sub_msg", "log_id", "data": null}``: app key (40001 ``isv.app-id-missing``, 40003
``isv.app-id-invalid``), ``method`` equal to the path and ``v=2`` (40003
``isv.parameter-invalid``), timestamp (40003 ``isv.timestamp-invalid``: unix seconds or
``YYYY-MM-DD HH:MM:SS`` GMT+8 within 10 minutes of the fake's clock — the window is the fake's
assumption), signature over the raw body (40001 ``isv.signature-missing``, 40003
``isv.signature-invalid``; ``hmac-sha256`` or ``md5`` of ``secret + app_key… method…
param_json… timestamp… v2 + secret``, written from the documented formula, independently of
the connector), access token (40001 ``isv.access-token-missing``, 40003
``isv.access-token-no-existed``). A body that is not a JSON object is 40003
``isv.parameter-format-invalid``. Business errors: 40004 ``isv.parameter-invalid:…``, 50002
``isv.business-failed:…`` (unknown product or SKU).

Success is ``code`` 10000 with ``data``: ``{data[], total, page, size}`` for product.listV2
(page from 1, size 1–100), a list of SKUs for sku.list, ``{}`` for sku.syncStock
(``incremental=false`` sets ``stock_num``; ``true`` adds it once per ``idempotent_id``).
Accepted updates go to ``messages``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.fakes.base import Received
from connectors.fakes.douyin_orders import ORDER_METHODS, DouyinOrderShop
from connectors.fakes.douyin_protocol import DoudianError, bad_param, business, invalid, missing
from connectors.fakes.platform_stock import CatalogueSku, StockCatalogueFake

SHANGHAI = ZoneInfo("Asia/Shanghai")
SKEW_SECONDS = 600
METHODS = ("product.listV2", "sku.list", "sku.syncStock", *ORDER_METHODS)


class FakeDouyinStock(DouyinOrderShop, StockCatalogueFake):
    """The fake Doudian API: stock (this module), orders and push (:mod:`connectors.fakes.douyin_orders`)."""

    name = "douyin"
    item_id_base = 3_600_000_000_000_000_000
    sku_id_base = 1_750_000_000_000_000_000

    def __init__(self, *, orders_seed: int = 13, orders_rate_per_minute: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.idempotent_ids: set[str] = set()
        self.setup_orders(orders_seed=orders_seed, orders_rate_per_minute=orders_rate_per_minute)
        self.setup_push()

    def answer(self, request: Received) -> tuple[int, Any]:
        log_id = secrets.token_hex(10)
        if request.method != "POST":
            return 404, {"code": 404, "msg": "not found"}
        try:
            params = self.check(request)
            handler = {"product.listV2": self.product_list, "sku.list": self.sku_list,
                       "sku.syncStock": self.sync_stock, "order.searchList": self.search_list,
                       "order.orderDetail": self.order_detail,
                       "order.logisticsAdd": self.logistics_add}[request.query["method"]]
            if request.query["method"] in ORDER_METHODS and not self.order_call_allowed(request.at):
                raise self.throttled()
            data = handler(params)
        except DoudianError as err:
            return 200, {**err.body, "log_id": log_id, "data": None}
        return 200, {"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "log_id": log_id, "data": data}

    def check(self, request: Received) -> dict[str, Any]:
        method = request.path.strip("/").replace("/", ".")
        if method not in METHODS:
            raise DoudianError(70000, "接口服务已下线", "isp.api-service-off", "API不存在或API已下线")
        return self.check_signed(request, method)

    def check_signed(self, request: Received, method: str) -> dict[str, Any]:
        """The gateway's checks of a call to ``method``: app key, method and version, timestamp,
        signature, access token; its ``param_json`` body."""
        q = request.query
        if not q.get("app_key"):
            raise missing("isv.app-id-missing", "认证失败，app_key不存在")
        if q["app_key"] != self.app_key:
            raise invalid("isv.app-id-invalid", "认证失败，app_key不正确")
        if q.get("method") != method or q.get("v") != "2":
            raise invalid("isv.parameter-invalid", "method 与请求路径不一致或 v 不是 2")
        sent = parse_timestamp(q.get("timestamp", ""))
        if sent is None or abs(request.at - sent) > SKEW_SECONDS:
            raise invalid("isv.timestamp-invalid", "时间戳不合法")
        if not q.get("sign"):
            raise missing("isv.signature-missing", "获取签名失败，请根据文档确保参数拼装正确")
        body = request.body.decode("utf-8")
        text = (f"{self.app_secret}app_key{q['app_key']}method{method}param_json{body}"
                f"timestamp{q['timestamp']}v2{self.app_secret}").encode()
        if q.get("sign_method", "md5") == "hmac-sha256":
            expected = hmac.new(self.app_secret.encode(), text, hashlib.sha256).hexdigest()
        else:
            expected = hashlib.md5(text).hexdigest()
        if not hmac.compare_digest(expected, q["sign"]):
            raise invalid("isv.signature-invalid", "签名校验失败")
        if not q.get("access_token"):
            raise missing("isv.access-token-missing", "认证失败，access_token不能为空")
        if q["access_token"] != self.access_token:
            raise invalid("isv.access-token-no-existed", "access_token不存在，请使用最新的access_token访问")
        try:
            params = json.loads(body)
        except ValueError:
            params = None
        if not isinstance(params, dict):
            raise invalid("isv.parameter-format-invalid", "业务参数json解析失败")
        return params

    def product_list(self, params: dict[str, Any]) -> dict[str, Any]:
        page, size = params.get("page", 1), params.get("size", 10)
        if not isinstance(page, int) or not isinstance(size, int) or page < 1 or not 1 <= size <= 100 \
                or page * size > 10000:
            raise bad_param("page 从 1 开始，size 取值 1–100，page*size 不超过 10000")
        products = [{"product_id": product_id, "name": f"商品 {product_id}", "status": 0, "check_status": 3,
                     "outer_product_id": f"P-{product_id}"} for product_id, _ in self.items()]
        return {"data": self.page(products, page, size), "total": len(products), "page": page, "size": size}

    def sku_list(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        skus = self.skus_of(params.get("product_id"))
        if not skus:
            raise business("商品不存在")
        return [{"id": s.sku_id, "product_id": s.item_id, "product_id_str": str(s.item_id), "code": s.code,
                 "out_sku_id": 0, "sku_type": 0, "stock_num": s.quantity, "prehold_stock_num": 0,
                 "spec_detail_name1": s.code} for s in skus]

    def sync_stock(self, params: dict[str, Any]) -> dict[str, Any]:
        stock, incremental = params.get("stock_num"), params.get("incremental", False)
        if not isinstance(stock, int) or not isinstance(incremental, bool) or (not incremental and stock < 0):
            raise bad_param("stock_num 必须是不小于 0 的整数")
        if incremental and not params.get("idempotent_id"):
            raise bad_param("incremental=true 时 idempotent_id 必填")
        sku = self.locate(params)
        if incremental and params["idempotent_id"] in self.idempotent_ids:
            raise invalid("isv.idempotent-id-existed", "幂等ID重复")
        new = sku.quantity + stock if incremental else stock
        if new < 0:
            raise business("库存不足")
        sku.quantity = new
        if incremental:
            self.idempotent_ids.add(params["idempotent_id"])
        self.accept({"method": "sku.syncStock", "code": sku.code, "product_id": sku.item_id,
                     "sku_id": sku.sku_id, "stock_num": stock, "incremental": incremental, "shown": new})
        return {}

    def locate(self, params: dict[str, Any]) -> CatalogueSku:
        if params.get("sku_id"):
            sku = self.find(params.get("product_id"), params["sku_id"]) if params.get("product_id") else \
                next((s for s in self.catalogue.values() if s.sku_id == params["sku_id"]), None)
        elif params.get("code"):
            sku = next((s for s in self.catalogue.values() if s.code == params["code"]
                        and (not params.get("product_id") or s.item_id == params["product_id"])), None)
        else:
            raise bad_param("sku_id、out_sku_id、code 至少填一个")
        if sku is None:
            raise business("sku不存在")
        return sku


def parse_timestamp(value: str) -> float | None:
    if value.isdigit():
        return float(value)
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).timestamp()
    except ValueError:
        return None
