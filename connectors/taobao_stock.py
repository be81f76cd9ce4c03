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
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.outbound import ConnectorError
from connectors.platform_stock import (
    FORM_HEADERS,
    ListedSku,
    ListedStockConnector,
    paged,
    sdk_value,
)

PLATFORM = "Taobao"
CHANNEL = "taobao"
DEFAULT_BASE_URL = "https://eco.taobao.com"
ROUTER_PATH = "/router/rest"
PAGE_SIZE = 200
SHANGHAI = ZoneInfo("Asia/Shanghai")
RETRYABLE_CODES = {7, 10}


def sign(params: Mapping[str, Any], secret: str, sign_method: str = "md5") -> str:
    """TOP's signature of ``params`` (everything but ``sign``; empty and whitespace-only values
    are left out, as the Java TOP SDK leaves them out of the request)."""
    text = "".join(f"{k}{params[k]}" for k in sorted(params)
                   if k != "sign" and params[k] is not None and str(params[k]).strip())
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


class TaobaoStockConnector(ListedStockConnector):
    """Implements :class:`engine.inventory.channels.StockConnector` for a 天猫/淘宝 shop."""

    platform = PLATFORM
    default_channel = CHANNEL
    default_base_url = DEFAULT_BASE_URL
    max_page_size = PAGE_SIZE

    def call(self, method: str, business: Mapping[str, Any]) -> dict[str, Any]:
        """One signed TOP call; returns the object under ``<method>_response``."""
        params: dict[str, str] = {
            "method": method, "app_key": self.app_key, "session": str(self.access_token),
            "timestamp": top_timestamp(self.clock()), "format": "json", "v": "2.0", "sign_method": "md5",
            **{k: text for k, v in business.items() if (text := sdk_value(v, drop_blank=True)) is not None},
        }
        params["sign"] = sign(params, self.app_secret)
        answer = self.post(self.base_url + ROUTER_PATH, data=params, headers=FORM_HEADERS)
        return self.router_answer(method, answer, namespace="taobao.", error=self.error)

    def error(self, method: str, error: Mapping[str, Any]) -> ConnectorError:
        code, sub_code = error.get("code"), str(error.get("sub_code") or "")
        retryable = code in RETRYABLE_CODES or sub_code.startswith("isp.")
        return self.refusal(method, code, error.get("msg"), sub_code, error.get("sub_msg"), permanent=not retryable)

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
    return TaobaoStockConnector.from_credentials(channel, credentials, base_url)
