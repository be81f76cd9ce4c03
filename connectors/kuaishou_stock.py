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

Assumed, not confirmed in the sources read: the platform's code for a refused signature,
appkey or token (taken as ``result`` 50, the gateway's answer to a bad signature seen in
public reports; treated as a configuration error); that ``skuId`` in the update is the
``kwaiSkuId`` of the listing. Business refusals seen in the platform's support pages:
``result`` 21 ``当前库存不足，请减少预留数量`` (our figure is below the activity reservation).

Credentials for :func:`build`: ``app_key`` (appkey), ``app_secret`` (the **signSecret** from
the app console, not the OAuth appSecret), ``access_token`` (the shop's token; required);
optional ``sign_method`` (``HMAC_SHA256`` or ``MD5``). ``shop`` is not used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from connectors.outbound import MAX_ANSWER_CHARS, ConnectorError, MissingSetting, redact
from engine.logs import get_logger

PLATFORM = "Kuaishou"
CHANNEL = "kuaishou"
DEFAULT_BASE_URL = "https://openapi.kwaixiaodian.com"
LIST_METHOD = "open.item.list.get"
ITEM_METHOD = "open.item.get"
UPDATE_METHOD = "open.item.sku.stock.update"
SIGN_METHODS = ("HMAC_SHA256", "MD5")
SIGNED_PARAMS = ("access_token", "appkey", "method", "param", "signMethod", "timestamp", "version")
MAX_PAGE_SIZE = 100
MAX_PAGES = 1000
INCREASE, DECREASE = 1, 2
CONFIG_RESULTS = {50}

log = get_logger(__name__)


def sign(params: Mapping[str, str], sign_secret: str, sign_method: str = "HMAC_SHA256") -> str:
    """The ``sign`` of a request: MD5 → lowercase hex; HMAC_SHA256 → base64."""
    joined = "&".join(f"{k}={params[k]}" for k in sorted(SIGNED_PARAMS) if params.get(k) is not None)
    message = f"{joined}&signSecret={sign_secret}".encode()
    if sign_method == "MD5":
        return hashlib.md5(message).hexdigest()
    if sign_method == "HMAC_SHA256":
        return base64.b64encode(hmac.new(sign_secret.encode(), message, hashlib.sha256).digest()).decode("ascii")
    raise ValueError(f"unknown signMethod {sign_method!r}; one of {', '.join(SIGN_METHODS)}")


@dataclass(frozen=True)
class ListedSku:
    """One SKU of the shop's listing: its platform ids and what it shows."""

    item_id: int
    sku_id: int
    stock: int


def merchant_code(sku: Mapping[str, Any]) -> str | None:
    """Our id for a listed SKU: ``skuNick``, else a non-zero ``relSkuId``."""
    nick = str(sku.get("skuNick") or "").strip()
    if nick:
        return nick
    rel = sku.get("relSkuId")
    return str(rel) if rel not in (None, "", 0, "0") else None


class KuaishouStockConnector:
    """Implements :class:`engine.inventory.channels.StockConnector` for Kuaishou."""

    def __init__(self, channel: str = CHANNEL, *, app_key: str, app_secret: str, access_token: str | None = None,
                 shop: str | None = None, base_url: str | None = None, timeout: float = 5.0,
                 sign_method: str = "HMAC_SHA256", page_size: int = MAX_PAGE_SIZE,
                 clock: Callable[[], float] = time.time) -> None:
        if not access_token:
            raise MissingSetting(PLATFORM, "an access_token (the shop's authorization) is required")
        if sign_method not in SIGN_METHODS:
            raise MissingSetting(PLATFORM, f"sign_method must be one of {', '.join(SIGN_METHODS)}")
        self.channel = channel
        self.app_key, self._secret, self._token = app_key, app_secret, access_token
        self.shop = shop
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = timeout
        self.sign_method = sign_method
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._clock = clock
        self._ids: dict[str, ListedSku] = {}

    # --- the protocol ------------------------------------------------------------------------

    def fetch_stock(self) -> dict[str, int]:
        return {code: sku.stock for code, sku in self._list().items()}

    def push_stock(self, sku_id: str, available: int, version: int) -> None:
        if available < 0:
            raise ConnectorError(PLATFORM, f"{sku_id}: cannot show a negative figure ({available})", permanent=True)
        listed = self._ids.get(sku_id) or self._list().get(sku_id)
        if listed is None:
            raise ConnectorError(PLATFORM, f"{sku_id}: unknown merchant code (no SKU of the shop has this "
                                 "skuNick or relSkuId)", permanent=True)
        try:
            current = self._current_stock(sku_id, listed)
            change = available - current
            if change:
                self.call(UPDATE_METHOD, {"kwaiItemId": listed.item_id, "skuId": listed.sku_id,
                                          "skuChangeStock": abs(change),
                                          "changeType": INCREASE if change > 0 else DECREASE}, http_method="POST")
        except ConnectorError:
            self._ids.pop(sku_id, None)  # a retry lists afresh (the SKU may have been re-created)
            raise
        log.info("kuaishou stock shown", sku_id=sku_id, available=available, version=version, was=current)

    # --- platform calls ----------------------------------------------------------------------

    def _list(self) -> dict[str, ListedSku]:
        """Every SKU of the shop, by merchant code (all pages); remembered for pushes."""
        found: dict[str, ListedSku] = {}
        page = 1
        while True:
            data = self.call(LIST_METHOD, {"pageNumber": page, "pageSize": self.page_size}) or {}
            items = data.get("items") or []
            for item in items:
                for sku in item.get("skuList") or []:
                    code = merchant_code(sku)
                    if code is not None and code not in found:
                        found[code] = ListedSku(int(sku.get("kwaiItemId") or item["kwaiItemId"]),
                                                int(sku["kwaiSkuId"]), int(sku.get("skuStock") or 0))
            total_pages = int(data.get("totalPage") or 0)
            if not items or page >= total_pages:
                break
            if page >= MAX_PAGES:
                raise ConnectorError(PLATFORM, f"{LIST_METHOD}: more than {MAX_PAGES} pages; listing abandoned")
            page += 1
        self._ids = found
        return found

    def _current_stock(self, code: str, listed: ListedSku) -> int:
        data = self.call(ITEM_METHOD, {"kwaiItemId": listed.item_id}) or {}
        for sku in data.get("skuInfos") or []:
            if int(sku.get("kwaiSkuId") or 0) == listed.sku_id:
                return int(sku.get("skuStock") or 0)
        raise ConnectorError(PLATFORM, f"{code}: SKU {listed.sku_id} is no longer on item {listed.item_id} "
                             "(the listing will be read again)")

    def signed_params(self, method: str, param: Mapping[str, Any]) -> dict[str, str]:
        params = {"appkey": self.app_key, "method": method, "version": "1", "access_token": self._token,
                  "param": json.dumps(param, ensure_ascii=False, separators=(",", ":")),
                  "timestamp": str(int(self._clock() * 1000)), "signMethod": self.sign_method}
        params["sign"] = sign(params, self._secret, self.sign_method)
        return params

    def call(self, method: str, param: Mapping[str, Any], *, http_method: str = "GET") -> Any:
        """One signed call; the answer's ``data``, or :class:`ConnectorError`."""
        url = f"{self.base_url}/{method.replace('.', '/')}"
        params = self.signed_params(method, param)
        secrets = [self._secret, self._token, params["sign"]]
        try:
            if http_method == "POST":
                resp = requests.post(url, data=params, timeout=self.timeout)
            else:
                resp = requests.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ConnectorError(PLATFORM, redact(f"{method}: request failed: {type(exc).__name__}: {exc}",
                                                  secrets)) from None
        snippet = redact(resp.text[:MAX_ANSWER_CHARS], secrets)
        if resp.status_code >= 400:
            raise ConnectorError(PLATFORM, f"{method}: HTTP {resp.status_code}: {snippet}", code=resp.status_code,
                                 permanent=resp.status_code in (401, 403, 404))
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ConnectorError(PLATFORM, f"{method}: answer is not a JSON object: {snippet!r}",
                                 code=resp.status_code)
        result = answer.get("result")
        if result != 1:
            message = answer.get("error_msg") or answer.get("msg") or ""
            raise ConnectorError(PLATFORM, redact(f"{method}: result {result}: {message}", secrets), code=result,
                                 permanent=result in CONFIG_RESULTS)
        return answer.get("data")


def build(channel: str, credentials: Mapping[str, str], base_url: str | None = None) -> KuaishouStockConnector:
    """A connector from ``credentials`` (keys in the module docstring)."""
    for key in ("app_key", "app_secret", "access_token"):
        if not credentials.get(key):
            raise MissingSetting(PLATFORM, f"credential {key!r} is missing")
    return KuaishouStockConnector(channel, app_key=credentials["app_key"], app_secret=credentials["app_secret"],
                                  access_token=credentials["access_token"], shop=credentials.get("shop"),
                                  base_url=base_url, sign_method=credentials.get("sign_method") or "HMAC_SHA256")
