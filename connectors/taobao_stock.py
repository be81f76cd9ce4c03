"""天猫/淘宝 stock over the TOP router: shows our figure on the shop's SKUs and reads what the
shop shows. Owns TOP request signing and the TOP shapes of the three calls below; the code →
ids map lives in :mod:`connectors.platform_stock`.

Calls (form POST to ``https://eco.taobao.com/router/rest``, ``format=json``, ``v=2.0``, the
shop's authorisation in ``session``):

- list: ``taobao.items.onsale.get`` (``fields=num_iid,outer_id,num``, ``page_no`` from 1,
  ``page_size`` ≤ 200; ``items.item[]`` and ``total_results``), then ``taobao.item.seller.get``
  per item (``fields=num_iid,outer_id,num,sku``; ``item.skus.sku[]`` with ``sku_id``,
  ``outer_id`` = merchant code, ``quantity``). An item without SKUs is addressed by the item's
  own ``outer_id`` and shows ``num``.
- update: ``taobao.item.quantity.update`` with ``num_iid``, ``sku_id`` (left out for an item
  without SKUs), ``quantity`` and ``type=1`` — a full overwrite, so a retry is harmless.

Signing (``sign_method=md5``): every parameter except ``sign``, empty values dropped, keys in
ASCII order, concatenated ``k1v1k2v2…``; ``sign = UPPER(hex(MD5(secret + that + secret)))``.
``timestamp`` is ``yyyy-MM-dd HH:mm:ss`` in GMT+8; TOP allows 10 minutes of skew.

Errors: ``{"error_response": {"code", "msg", "sub_code", "sub_msg"}}`` becomes a
:class:`ConnectorError` with the code (``sub_code`` in the message). Retryable: code 7 (flow
control), 10 (service unavailable) and any ``isp.*`` sub code (platform-side failure); every
other code (signature 25, app key 29, session 27, timestamp 31, arguments 40/41, ``isv.*``
business refusals) is permanent until someone fixes it.

Assumed, not confirmed against live TOP: the whole request goes in the form body (the Go SDK
does this; the official Python SDK puts system parameters in the query string — both are
signed the same); the listing covers items on sale only (``items.onsale.get``), so SKUs of
items in the warehouse are unknown codes; JSON arrays arrive wrapped (``items.item``,
``skus.sku``) because ``simplify`` is not sent.

Credentials for :func:`build`: ``app_key``, ``app_secret``, ``access_token`` (the shop's TOP
session), all required; ``shop`` is not used. ``ORDERPULSE_TAOBAO_BASE_URL`` or ``base_url``
redirects the router (tests, demo).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.outbound import DEFAULT_TIMEOUT, ConnectorError
from connectors.platform_stock import ListedSku, ListedStockConnector, credential, paged

PLATFORM = "Taobao"
CHANNEL = "taobao"
DEFAULT_BASE_URL = "https://eco.taobao.com"
BASE_URL_ENV = "ORDERPULSE_TAOBAO_BASE_URL"
ROUTER_PATH = "/router/rest"
PAGE_SIZE = 200
SHANGHAI = ZoneInfo("Asia/Shanghai")
RETRYABLE_CODES = {7, 10}


def sign(params: Mapping[str, Any], secret: str, sign_method: str = "md5") -> str:
    """TOP's signature of ``params`` (everything but ``sign``; empty values are left out)."""
    text = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign" and params[k] not in (None, ""))
    if sign_method == "md5":
        digest = hashlib.md5((secret + text + secret).encode("utf-8")).hexdigest()
    elif sign_method == "hmac":
        digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.md5).hexdigest()
    elif sign_method == "hmac-sha256":
        digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()
    else:
        raise ValueError(f"unknown TOP sign_method {sign_method!r}")
    return digest.upper()


def top_timestamp(now: float) -> str:
    return datetime.fromtimestamp(now, SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def response_key(method: str) -> str:
    """``taobao.item.quantity.update`` → ``item_quantity_update_response``."""
    return method.removeprefix("taobao.").replace(".", "_") + "_response"


class TaobaoStockConnector(ListedStockConnector):
    """Implements :class:`engine.inventory.channels.StockConnector` for a 天猫/淘宝 shop."""

    platform = PLATFORM

    def __init__(self, channel: str = CHANNEL, *, app_key: str, app_secret: str, access_token: str | None = None,
                 shop: str | None = None, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 page_size: int = PAGE_SIZE) -> None:
        super().__init__(channel, [app_secret, access_token])
        if not access_token:
            raise ConnectorError(PLATFORM, "access_token (the shop's TOP session) is required", permanent=True)
        self.app_key = app_key
        self.app_secret = app_secret
        self.access_token = access_token
        self.shop = shop
        self.url = (base_url or DEFAULT_BASE_URL).rstrip("/") + ROUTER_PATH
        self.timeout = timeout
        self.page_size = page_size

    # --- one call ----------------------------------------------------------------------------

    def call(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        """One signed TOP call; returns the object under ``<method>_response``."""
        params: dict[str, str] = {
            "method": method, "app_key": self.app_key, "session": self.access_token,
            "timestamp": top_timestamp(time.time()), "format": "json", "v": "2.0", "sign_method": "md5",
            **{k: str(v) for k, v in business.items() if v is not None},
        }
        params["sign"] = sign(params, self.app_secret)
        answer = self.post(self.url, data=params, timeout=self.timeout,
                           headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})
        error = answer.get("error_response")
        if isinstance(error, dict):
            raise self.error(method, error)
        body = answer.get(response_key(method))
        if not isinstance(body, dict):
            raise ConnectorError(PLATFORM, f"{method}: answer without {response_key(method)}")
        return body

    def error(self, method: str, error: Mapping[str, Any]) -> ConnectorError:
        code, sub_code = error.get("code"), str(error.get("sub_code") or "")
        text = f"{method}: code {code}: {error.get('msg', '')}"
        if sub_code or error.get("sub_msg"):
            text += f" ({sub_code}: {error.get('sub_msg', '')})"
        retryable = code in RETRYABLE_CODES or sub_code.startswith("isp.")
        return ConnectorError(PLATFORM, self.redact(text), code=code, permanent=not retryable)

    # --- listing and update ------------------------------------------------------------------

    def list_skus(self) -> Iterable[ListedSku]:
        def page_of_items(page_no: int) -> tuple[list[Any], int]:
            body = self.call("taobao.items.onsale.get", {"fields": "num_iid,outer_id,num", "page_no": page_no,
                                                         "page_size": self.page_size})
            items = (body.get("items") or {}).get("item") or []
            return list(items), int(body.get("total_results") or 0)

        for items, _total in paged(page_of_items, what="taobao.items.onsale.get", platform=PLATFORM):
            for listed in items:
                yield from self.item_skus(listed["num_iid"])

    def item_skus(self, num_iid: Any) -> Iterable[ListedSku]:
        body = self.call("taobao.item.seller.get", {"fields": "num_iid,outer_id,num,sku", "num_iid": num_iid})
        item = body.get("item") or {}
        skus = (item.get("skus") or {}).get("sku") or []
        if not skus:
            yield ListedSku(str(item.get("outer_id") or ""), int(item.get("num") or 0), {"num_iid": num_iid})
            return
        for sku in skus:
            if sku.get("status", "normal") != "normal":
                continue
            yield ListedSku(str(sku.get("outer_id") or ""), int(sku.get("quantity") or 0),
                            {"num_iid": num_iid, "sku_id": sku["sku_id"]})

    def update_quantity(self, ids: Mapping[str, Any], code: str, quantity: int) -> None:
        self.call("taobao.item.quantity.update", {"num_iid": ids["num_iid"], "sku_id": ids.get("sku_id"),
                                                  "quantity": quantity, "type": 1})


def build(channel: str, credentials: Mapping[str, str], base_url: str | None) -> TaobaoStockConnector:
    """The connector from ``credentials`` (``app_key``, ``app_secret``, ``access_token``)."""
    return TaobaoStockConnector(
        channel, app_key=credential(PLATFORM, credentials, "app_key"),
        app_secret=credential(PLATFORM, credentials, "app_secret"),
        access_token=credential(PLATFORM, credentials, "access_token"), shop=credentials.get("shop"),
        base_url=base_url or os.environ.get(BASE_URL_ENV))
