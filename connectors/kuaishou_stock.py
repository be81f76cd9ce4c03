"""Kuaishou (快手小店) stock connector: shows our figure for a SKU on the Kuaishou open
platform and reads back what the shop shows. Implements
:class:`engine.inventory.channels.StockConnector`; it owns the platform's signing, its
calls and its id mapping, and decides nothing about stock itself.

Requests: ``https://openapi.kwaixiaodian.com/<method with "." → "/">`` with the parameters
``appkey``, ``method``, ``version=1``, ``param`` (the business JSON), ``access_token``,
``timestamp`` (epoch **milliseconds**), ``signMethod`` and ``sign``. GET calls carry them in
the query, POST calls as an ``application/x-www-form-urlencoded`` body. The sign input is
those seven parameters sorted by name, joined as ``k=v&k=v``, followed by
``&signSecret=<signSecret>``; ``MD5`` gives lowercase hex, ``HMAC_SHA256`` (the default, as
the platform recommends) gives ``base64(HMAC-SHA256(key=signSecret, input))``. Success is
``result == 1``; otherwise ``{"result": <code>, "error_msg": …}``.

Calls (method names and fields from the platform's API pages as copied in the public SDKs):
- list: ``open.item.list.get`` (GET) ``{"pageNumber", "pageSize" ≤ 100}`` →
  ``data{items[{kwaiItemId, skuList[{kwaiSkuId, relSkuId, skuNick, skuStock}]}],
  currentPageNumber, totalPage, totalItemCount}``;
- read one item: ``open.item.get`` (GET) ``{"kwaiItemId"}`` → ``data.skuInfos[…]``;
- update: ``open.item.sku.stock.update`` (POST) ``{"kwaiItemId", "skuId", "skuChangeStock",
  "changeType"}``.

Our ``sku_id`` is the SKU's merchant code: ``skuNick`` (商家编码), or ``relSkuId`` when the
SKU has no ``skuNick`` (the id an ERP gave it at publication). ``skuStock`` is the SKU's
sellable stock as buyers see it (it includes stock the merchant set aside for activities,
``reserveStock``, which the platform will not let an update go below).

Full overwrite on an incremental API: the platform documents ``open.item.sku.stock.update``
as incremental only (``changeType`` 1 adds ``skuChangeStock``, 2 takes it away;
``skuChangeStock`` > 0). So a push reads the SKU's current ``skuStock`` with
``open.item.get`` and sends the difference to our figure (nothing when they agree). A retry
reads again, so a push whose answer was lost is not applied twice. A buyer who takes stock
between the read and the update leaves the shop showing less than our figure, never more,
and our figure catches up when that order reaches us.

Rate limits (the platform's page "API调用触发限流告警"): the gateway refuses with a message
``Exceed qps limit, KEY [...]`` (too many calls a second: retryable after a second) or
``Exceed quota limit, KEY [...]`` / ``[1017] exceed quota limit`` (the app's or a user's daily
quota: retryable at the next midnight, Beijing time); both raise
:class:`~connectors.platform_stock.RateLimited` with that ``retry_after``, whatever ``result``
code carries them (not documented).

Assumed, not confirmed in the sources read: the platform's code for a refused signature,
appkey or token (taken as ``result`` 50, the gateway's answer to a bad signature seen in
public reports; treated as a configuration error); that ``skuId`` in the update is the
``kwaiSkuId`` of the listing. Business refusals seen in the platform's support pages:
``result`` 21 ``当前库存不足，请减少预留数量`` (our figure is below the activity reservation).

Credentials for :func:`build`: ``app_key`` (appkey), ``app_secret`` (the **signSecret** from
the app console, not the OAuth appSecret), ``access_token`` (the shop's token; required);
optional ``sign_method`` (``HMAC_SHA256`` or ``MD5``). ``shop`` is not used.
``ORDERPULSE_KUAISHOU_BASE_URL`` or ``base_url`` redirects the gateway (tests, demo). The code →
ids map, the relisting for an unknown code and the transport live in
:mod:`connectors.platform_stock`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from connectors.outbound import ConnectorError, MissingSetting
from connectors.platform_stock import ListedSku, ListedStockConnector, RateLimited, paged, sdk_json

PLATFORM = "Kuaishou"
CHANNEL = "kuaishou"
DEFAULT_BASE_URL = "https://openapi.kwaixiaodian.com"
LIST_METHOD = "open.item.list.get"
ITEM_METHOD = "open.item.get"
UPDATE_METHOD = "open.item.sku.stock.update"
SIGN_METHODS = ("HMAC_SHA256", "MD5")
SIGNED_PARAMS = ("access_token", "appkey", "method", "param", "signMethod", "timestamp", "version")
MAX_PAGE_SIZE = 100
INCREASE, DECREASE = 1, 2
CONFIG_RESULTS = {50}
BUSINESS_RESULTS = range(300_000, 301_000)  # 3000xx: the request itself is wrong (e.g. a range over 7 days)
QPS_LIMITED = "exceed qps limit"
QUOTA_LIMITED = "exceed quota limit"
BEIJING = timezone(timedelta(hours=8))


def sign(params: Mapping[str, str], sign_secret: str, sign_method: str = "HMAC_SHA256") -> str:
    """The ``sign`` of a request: MD5 → lowercase hex; HMAC_SHA256 → base64."""
    joined = "&".join(f"{k}={params[k]}" for k in sorted(SIGNED_PARAMS) if params.get(k) is not None)
    message = f"{joined}&signSecret={sign_secret}".encode()
    if sign_method == "MD5":
        return hashlib.md5(message).hexdigest()
    if sign_method == "HMAC_SHA256":
        return base64.b64encode(hmac.new(sign_secret.encode(), message, hashlib.sha256).digest()).decode("ascii")
    raise ValueError(f"unknown signMethod {sign_method!r}; one of {', '.join(SIGN_METHODS)}")


def limit_wait(message: str, now: float) -> float | None:
    """Seconds to wait before calling again when ``message`` is a rate-limit refusal (a QPS
    limit: 1 s; a daily quota: until the next midnight in Beijing), else None."""
    text = message.lower()
    if QPS_LIMITED in text:
        return 1.0
    if QUOTA_LIMITED in text:
        today = datetime.fromtimestamp(now, BEIJING).date()
        midnight = datetime(today.year, today.month, today.day, tzinfo=BEIJING) + timedelta(days=1)
        return max(1.0, midnight.timestamp() - now)
    return None


def merchant_code(sku: Mapping[str, Any]) -> str | None:
    """Our id for a listed SKU: ``skuNick``, else a non-zero ``relSkuId``."""
    nick = str(sku.get("skuNick") or "").strip()
    if nick:
        return nick
    rel = sku.get("relSkuId")
    return str(rel) if rel not in (None, "", 0, "0") else None


class KuaishouStockConnector(ListedStockConnector):
    """Implements :class:`engine.inventory.channels.StockConnector` for Kuaishou."""

    platform = PLATFORM
    default_channel = CHANNEL
    default_base_url = DEFAULT_BASE_URL
    max_page_size = MAX_PAGE_SIZE
    permanent_http_statuses = frozenset({401, 403, 404})

    def __init__(self, channel: str | None = None, *, sign_method: str = "HMAC_SHA256", **settings: Any) -> None:
        if sign_method not in SIGN_METHODS:
            raise MissingSetting(PLATFORM, f"sign_method must be one of {', '.join(SIGN_METHODS)}")
        super().__init__(channel, **settings)
        self.sign_method = sign_method

    # --- listing and update ------------------------------------------------------------------

    def list_skus(self) -> Iterable[ListedSku]:
        def page_of_items(page: int) -> tuple[list[Any], int]:
            data = self.call(LIST_METHOD, {"pageNumber": page, "pageSize": self.page_size}) or {}
            return list(data.get("items") or []), int(data.get("totalPage") or 0)

        for items, _pages in paged(page_of_items, what=LIST_METHOD, platform=PLATFORM, total_counts_pages=True):
            for item in items:
                for sku in item.get("skuList") or []:
                    code = merchant_code(sku)
                    if code is not None:
                        yield ListedSku(code, int(sku.get("skuStock") or 0),
                                        {"kwaiItemId": int(sku.get("kwaiItemId") or item["kwaiItemId"]),
                                         "kwaiSkuId": int(sku["kwaiSkuId"])})

    def update_quantity(self, ids: Mapping[str, Any], code: str, quantity: int) -> Mapping[str, Any]:
        """Read what the SKU shows and send the difference (the API only takes increments)."""
        current = self.current_stock(code, ids)
        change = quantity - current
        if change:
            self.call(UPDATE_METHOD, {"kwaiItemId": ids["kwaiItemId"], "skuId": ids["kwaiSkuId"],
                                      "skuChangeStock": abs(change),
                                      "changeType": INCREASE if change > 0 else DECREASE}, http_method="POST")
        return {"was": current}

    def current_stock(self, code: str, ids: Mapping[str, Any]) -> int:
        data = self.call(ITEM_METHOD, {"kwaiItemId": ids["kwaiItemId"]}) or {}
        for sku in data.get("skuInfos") or []:
            if int(sku.get("kwaiSkuId") or 0) == ids["kwaiSkuId"]:
                return int(sku.get("skuStock") or 0)
        raise ConnectorError(PLATFORM, f"{code}: SKU {ids['kwaiSkuId']} is no longer on item {ids['kwaiItemId']} "
                             "(the listing will be read again)")

    # --- one call ----------------------------------------------------------------------------

    def signed_params(self, method: str, param: Mapping[str, Any]) -> dict[str, str]:
        params = {"appkey": self.app_key, "method": method, "version": "1", "access_token": str(self.access_token),
                  "param": sdk_json(param),
                  "timestamp": str(int(self.clock() * 1000)), "signMethod": self.sign_method}
        params["sign"] = sign(params, self.app_secret, self.sign_method)
        return params

    def call(self, method: str, param: Mapping[str, Any], *, http_method: str = "GET") -> Any:
        """One signed call (GET: parameters in the query; POST: as a form); the answer's
        ``data``, or :class:`ConnectorError`."""
        url = f"{self.base_url}/{method.replace('.', '/')}"
        params = self.signed_params(method, param)
        if http_method == "POST":
            _, answer = self.request("POST", url, data=params, what=method, redacting=[params["sign"]])
        else:
            _, answer = self.request("GET", url, params=params, what=method, redacting=[params["sign"]])
        if answer.get("result") != 1:
            raise self.refused(method, answer)
        return answer.get("data")

    def refused(self, method: str, answer: Mapping[str, Any]) -> ConnectorError:
        """The error for an answer whose ``result`` is not 1: a rate limit is
        :class:`RateLimited`; the gateway's refusal of our credentials is permanent."""
        result = answer.get("result")
        message = answer.get("error_msg") or answer.get("msg")
        wait = limit_wait(str(message or ""), self.clock())
        if wait is not None:
            return RateLimited(PLATFORM, self.redact(f"{method}: result {result}: {message}"), retry_after=wait,
                               code=result)
        return self.refusal(method, result, message, permanent=result in CONFIG_RESULTS or result in BUSINESS_RESULTS,
                            code_name="result")


def build(channel: str, credentials: Mapping[str, str], base_url: str | None = None) -> KuaishouStockConnector:
    """A connector from ``credentials`` (keys in the module docstring)."""
    return KuaishouStockConnector.from_credentials(channel, credentials, base_url,
                                                   sign_method=credentials.get("sign_method") or "HMAC_SHA256")
