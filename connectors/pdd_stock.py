"""拼多多 stock over the POP router: shows our figure on the shop's SKUs and reads what the shop
shows. Owns PDD request signing and the PDD shapes of the two calls below; the code → ids map
lives in :mod:`connectors.platform_stock`.

Calls (form POST to ``https://gw-api.pinduoduo.com/api/router``, ``data_type=JSON``,
``version=V1``, the shop's ``access_token``):

- list: ``pdd.goods.list.get`` (``page`` from 1, ``page_size`` ≤ 100; answer
  ``goods_list_get_response{goods_list[], total_count}``, each goods with ``goods_id`` and
  ``sku_list[]{sku_id, outer_id (merchant code), sku_quantity}``). No filter is sent, so goods
  on and off the shelf are both listed.
- update: ``pdd.goods.quantity.update`` with ``goods_id``, ``sku_id``, ``quantity`` and
  ``update_type=1`` — a full overwrite, so a retry is harmless; success is
  ``goods_quantity_update_response.is_success``.

Signing: every parameter except ``sign`` (object values JSON-encoded), keys in ASCII order,
concatenated ``k1v1k2v2…``; ``sign = UPPER(hex(MD5(client_secret + that + client_secret)))``.
``timestamp`` is unix seconds; PDD allows 10 minutes of skew.

Errors: ``{"error_response": {"error_code", "error_msg", "sub_code", "sub_msg"}}`` becomes a
:class:`ConnectorError` with the code. As in the PDD SDKs, 10000–39999 (parameters, client id
10016, token 10019/20032, signature 20004, permissions) and 50000–52003 (business refusals)
are permanent; everything else (52101/52102/52103 throttled or degraded, 70031 too frequent …)
is retried.

Assumed, not confirmed against live PDD: ``sku_quantity`` of the listing is the sellable
figure that ``quantity`` overwrites (the reserved ``reserve_quantity`` is apart); an empty
page or ``total_count`` goods seen ends the listing.

Credentials for :func:`build`: ``app_key`` (the client_id), ``app_secret`` (client_secret) and
``access_token``, all required; ``shop`` is not used. ``ORDERPULSE_PDD_BASE_URL`` or
``base_url`` redirects the router (tests, demo).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.outbound import ConnectorError
from connectors.platform_stock import (
    FORM_HEADERS,
    ListedSku,
    ListedStockConnector,
    paged,
)

PLATFORM = "PDD"
CHANNEL = "pdd"
DEFAULT_BASE_URL = "https://gw-api.pinduoduo.com"
ROUTER_PATH = "/api/router"
PAGE_SIZE = 100
PERMANENT_RANGES = ((10000, 39999), (50000, 52003))


def sign(params: Mapping[str, Any], client_secret: str) -> str:
    """PDD's signature of ``params`` (everything but ``sign``)."""
    text = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign")
    return hashlib.md5((client_secret + text + client_secret).encode("utf-8")).hexdigest().upper()


def form_value(value: Any) -> str:
    """Objects and lists travel JSON-encoded (and are signed that way)."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


class PddStockConnector(ListedStockConnector):
    """Implements :class:`engine.inventory.channels.StockConnector` for a 拼多多 shop."""

    platform = PLATFORM
    default_channel = CHANNEL
    default_base_url = DEFAULT_BASE_URL
    max_page_size = PAGE_SIZE

    def call(self, api_type: str, business: Mapping[str, Any], *, response_key: str | None = None) -> dict[str, Any]:
        """One signed call; returns the object under ``<type>_response`` (or ``response_key``)."""
        params: dict[str, str] = {
            "type": api_type, "client_id": self.app_key, "access_token": str(self.access_token),
            "timestamp": str(int(self.clock())), "data_type": "JSON", "version": "V1",
            **{k: form_value(v) for k, v in business.items() if v is not None},
        }
        params["sign"] = sign(params, self.app_secret)
        answer = self.post(self.base_url + ROUTER_PATH, data=params, headers=FORM_HEADERS)
        return self.router_answer(api_type, answer, namespace="pdd.", error=self.error, key=response_key)

    def error(self, api_type: str, error: Mapping[str, Any]) -> ConnectorError:
        code = error.get("error_code")
        permanent = isinstance(code, int) and any(low <= code <= high for low, high in PERMANENT_RANGES)
        return self.refusal(api_type, code, error.get("error_msg"), error.get("sub_code"), error.get("sub_msg"),
                            permanent=permanent)

    def list_skus(self) -> Iterable[ListedSku]:
        def page_of_goods(page: int) -> tuple[list[Any], int]:
            body = self.call("pdd.goods.list.get", {"page": page, "page_size": self.page_size})
            return list(body.get("goods_list") or []), int(body.get("total_count") or 0)

        for goods_list, _total in paged(page_of_goods, what="pdd.goods.list.get", platform=PLATFORM):
            for goods in goods_list:
                for sku in goods.get("sku_list") or []:
                    yield ListedSku(str(sku.get("outer_id") or ""), int(sku.get("sku_quantity") or 0),
                                    {"goods_id": goods["goods_id"], "sku_id": sku["sku_id"]})

    def update_quantity(self, ids: Mapping[str, Any], code: str, quantity: int) -> None:
        body = self.call("pdd.goods.quantity.update", {"goods_id": ids["goods_id"], "sku_id": ids["sku_id"],
                                                       "quantity": quantity, "update_type": 1})
        if body.get("is_success") is not True:
            raise ConnectorError(PLATFORM, f"pdd.goods.quantity.update: not done for {code!r} (is_success "
                                           f"{body.get('is_success')!r})")


def build(channel: str, credentials: Mapping[str, str], base_url: str | None) -> PddStockConnector:
    """The connector from ``credentials`` (``app_key`` = client_id, ``app_secret``, ``access_token``)."""
    return PddStockConnector.from_credentials(channel, credentials, base_url)
