"""抖店 (Doudian) stock over the open API: shows our figure on the shop's SKUs and reads what the
shop shows. Owns Doudian request signing and the Doudian shapes of the three calls below; the
code → ids map lives in :mod:`connectors.platform_stock`.

Calls (``POST https://openapi-fxg.jinritemai.com/<method with . → />``; query ``app_key``,
``method``, ``access_token``, ``timestamp``, ``v=2``, ``sign_method=hmac-sha256``, ``sign``;
body = ``param_json``; header ``x-open-no-old-err-code: 1`` as the official SDK sends):

- list: ``product.listV2`` (``page`` from 1, ``size`` ≤ 100; ``data{data[]{product_id},
  total}``), then ``sku.list`` per product (``product_id``; ``data[]{id (sku id), code
  (merchant code), out_sku_id, stock_num}``). A SKU without ``code`` but with a non-zero
  ``out_sku_id`` is known by that number.
- update: ``sku.syncStock`` with ``product_id``, ``sku_id``, ``stock_num`` and
  ``incremental=false`` — a full overwrite, so a retry is harmless (``idempotent_id`` is only
  for incremental updates).

Signing: ``param_json`` is the business parameters as compact JSON with keys sorted at every
level and no ASCII or HTML escaping, sent byte for byte as the body; ``S = secret + "app_key"
+ app_key + "method" + method + "param_json" + param_json + "timestamp" + timestamp + "v2" +
secret``; ``sign = hex(HMAC-SHA256(key=secret, S))`` lowercase. ``access_token`` is not
signed. ``timestamp`` is unix seconds (as the official Go SDK sends it).

Errors: success is ``code == 10000``; otherwise ``{code, msg, sub_code, sub_msg, log_id}``
becomes a :class:`ConnectorError` with the code. Retryable: 20000/20001 (service errors),
60000 (throttled), 10001 (partly failed) and a 50002 whose message says to try again
(``重试``); permanent: 30001 (permission, authorisation), 40001/40003 (missing or invalid
parameters, signature, app key, token), 40004 (business parameters), 50001, 70000 and other
50002 business refusals.

Assumed, not confirmed against live Doudian: the listing without ``status`` returns on- and
off-line products; ``stock_num`` of ``sku.list`` is the figure ``sku.syncStock`` overwrites
(ordinary stock, ``sku_type`` 0; regional stock is not handled); the clock skew the gateway
allows is not documented in the sources read (the fake allows 10 minutes).

Credentials for :func:`build`: ``app_key``, ``app_secret``, ``access_token`` (from
``token.create``/``token.refresh``, kept fresh elsewhere), all required; ``shop`` (the
shop id) is not used. ``ORDERPULSE_DOUYIN_BASE_URL`` or ``base_url`` redirects the gateway.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.outbound import ConnectorError
from connectors.platform_stock import ListedSku, ListedStockConnector, paged, sdk_json

PLATFORM = "Doudian"
CHANNEL = "douyin"
DEFAULT_BASE_URL = "https://openapi-fxg.jinritemai.com"
PAGE_SIZE = 100
SUCCESS = 10000
RETRYABLE_CODES = {10001, 20000, 20001, 60000}


def param_json(params: Mapping[str, Any]) -> str:
    """The business parameters exactly as signed and sent (keys sorted, whole floats as ``12``)."""
    return sdk_json(params, sort_keys=True)


def sign(app_key: str, app_secret: str, method: str, params_json: str, timestamp: str | int,
         sign_method: str = "hmac-sha256") -> str:
    text = (f"{app_secret}app_key{app_key}method{method}param_json{params_json}"
            f"timestamp{timestamp}v2{app_secret}").encode()
    if sign_method == "hmac-sha256":
        return hmac.new(app_secret.encode("utf-8"), text, hashlib.sha256).hexdigest()
    if sign_method == "md5":
        return hashlib.md5(text).hexdigest()
    raise ValueError(f"unknown Doudian sign_method {sign_method!r}")


class DouyinStockConnector(ListedStockConnector):
    """Implements :class:`engine.inventory.channels.StockConnector` for a 抖店 shop."""

    platform = PLATFORM
    default_channel = CHANNEL
    default_base_url = DEFAULT_BASE_URL
    max_page_size = PAGE_SIZE

    def call(self, method: str, business: Mapping[str, Any]) -> Any:
        """One signed call; returns ``data`` of a ``code == 10000`` answer."""
        body = param_json(business)
        timestamp = str(int(self.clock()))
        query = {"app_key": self.app_key, "method": method, "access_token": str(self.access_token),
                 "timestamp": timestamp, "v": "2", "sign_method": "hmac-sha256",
                 "sign": sign(self.app_key, self.app_secret, method, body, timestamp)}
        answer = self.post(f"{self.base_url}/{method.replace('.', '/')}", params=query, data=body.encode("utf-8"),
                           headers={"Content-Type": "application/json", "x-open-no-old-err-code": "1"})
        if answer.get("code") != SUCCESS:
            raise self.error(method, answer)
        return answer.get("data")

    def error(self, method: str, answer: Mapping[str, Any]) -> ConnectorError:
        code = answer.get("code")
        retry_hint = "重试" in f"{answer.get('msg', '')}{answer.get('sub_msg', '')}"
        retryable = code in RETRYABLE_CODES or (code == 50002 and retry_hint)
        return self.refusal(method, code, answer.get("msg"), answer.get("sub_code"), answer.get("sub_msg"),
                            permanent=not retryable)

    def list_skus(self) -> Iterable[ListedSku]:
        def page_of_products(page: int) -> tuple[list[Any], int]:
            data = self.call("product.listV2", {"page": page, "size": self.page_size}) or {}
            return list(data.get("data") or []), int(data.get("total") or 0)

        for products, _total in paged(page_of_products, what="product.listV2", platform=PLATFORM):
            for product in products:
                yield from self.product_skus(product["product_id"])

    def product_skus(self, product_id: int) -> Iterable[ListedSku]:
        for sku in self.call("sku.list", {"product_id": product_id}) or []:
            code = str(sku.get("code") or "") or (str(sku["out_sku_id"]) if sku.get("out_sku_id") else "")
            yield ListedSku(code, int(sku.get("stock_num") or 0), {"product_id": product_id, "sku_id": sku["id"]})

    def update_quantity(self, ids: Mapping[str, Any], code: str, quantity: int) -> None:
        self.call("sku.syncStock", {"product_id": ids["product_id"], "sku_id": ids["sku_id"],
                                    "stock_num": quantity, "incremental": False})


def build(channel: str, credentials: Mapping[str, str], base_url: str | None) -> DouyinStockConnector:
    """The connector from ``credentials`` (``app_key``, ``app_secret``, ``access_token``)."""
    return DouyinStockConnector.from_credentials(channel, credentials, base_url)
