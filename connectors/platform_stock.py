"""What the platform stock connectors (天猫/淘宝, 拼多多, 抖店, 快手, 小红书, the merchant's own
mini-program shop) share: construction from ``credentials`` with the base-URL override read
from ``ORDERPULSE_<PLATFORM>_BASE_URL``, one HTTP request with a timeout whose transport
failures become retryable :class:`~connectors.outbound.ConnectorError` s with every secret
blanked out, the guard on listings that never end, and the merchant-code → platform-ids map
kept from the shop's last listing.

Our ``sku_id`` is the merchant's code on the platform. A platform's update API wants its own
ids (num_iid + sku_id, goods_id + sku_id, product_id + sku_id …), so
:class:`ListedStockConnector` lists the shop in :meth:`~ListedStockConnector.fetch_stock` and
remembers which ids carry each code; a push of a code the map does not know lists once more,
and a code still unknown is a permanent error (someone must set the code on the platform). A
failed update forgets the code's ids, so a retry lists afresh and follows a SKU the merchant
re-created in the meantime. A counterpart that takes our code itself (the mini-program shop)
uses :class:`PlatformStockConnector` alone.

This module knows no platform's signing, paths or JSON shapes: those live in
``connectors/<platform>_stock.py``, which subclass these classes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import requests

from connectors import http
from connectors.outbound import (
    DEFAULT_TIMEOUT,
    MAX_ANSWER_CHARS,
    ConnectorError,
    MissingSetting,
    redact,
)
from engine.logs import get_logger

log = get_logger(__name__)

MAX_LISTING_PAGES = 1000
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def sdk_normal(value: Any) -> Any:
    """``value`` with whole floats as integers (``12.0`` → ``12``), at any depth: the platforms'
    SDKs write them without decimals and the platforms refuse extra ones."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, Mapping):
        return {k: sdk_normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sdk_normal(v) for v in value]
    return value


def sdk_json(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON as the official SDKs write it (``true``, ``12`` for 12.0, UTF-8 text)."""
    return json.dumps(sdk_normal(value), ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)


def sdk_value(value: Any, *, drop_blank: bool = False) -> str | None:
    """One form parameter as the official SDKs send (and sign) it: booleans ``true``/``false``,
    whole floats without ``.0``, objects and lists as compact JSON; None → left out, and with
    ``drop_blank`` an empty or whitespace-only text too (the Java TOP SDK's ``areNotEmpty``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return sdk_json(value)
    text = str(sdk_normal(value))
    if drop_blank and not text.strip():
        return None
    return text


class RateLimited(ConnectorError):
    """The platform refused a call for its rate limit or call quota: retryable, after
    ``retry_after`` seconds (what the platform says, else its documented window)."""

    def __init__(self, platform: str, message: str, *, retry_after: float, code: Any = None) -> None:
        super().__init__(platform, message, code=code, permanent=False, retry_after=retry_after)


def base_url_variable(channel: str) -> str:
    """``ORDERPULSE_<PLATFORM>_BASE_URL``: where tests and the demo point a platform's API."""
    return f"ORDERPULSE_{channel.upper()}_BASE_URL"


def configured_base_url(channel: str, base_url: str | None) -> str | None:
    """``base_url`` when given, else the environment's override for the platform, else None
    (the platform's own gateway)."""
    return base_url or os.environ.get(base_url_variable(channel)) or None


def credential(platform: str, credentials: Mapping[str, str | None], key: str) -> str:
    """A required credential (``app_key``, ``app_secret``, ``access_token`` …)."""
    value = credentials.get(key)
    if not value:
        raise MissingSetting(platform, f"credential '{key}' is missing")
    return str(value)


def paged(fetch_page: Callable[[int], tuple[list[Any], int]], *, what: str, platform: str,
          total_counts_pages: bool = False) -> Iterator[tuple[list[Any], int]]:
    """Pages 1, 2, … of a listing: ``fetch_page(page)`` returns ``(rows, total)``; stops on an
    empty page or once ``total`` rows were seen (whatever page size the platform applied) —
    or, with ``total_counts_pages``, once page ``total`` was read. More than
    :data:`MAX_LISTING_PAGES` pages is an error rather than a listing that never ends."""
    seen = 0
    for page in range(1, MAX_LISTING_PAGES + 1):
        rows, total = fetch_page(page)
        if not rows:
            return
        yield rows, total
        seen += len(rows)
        if (page if total_counts_pages else seen) >= total:
            return
    raise ConnectorError(platform, f"{what}: more than {MAX_LISTING_PAGES} pages; listing stopped")


class PlatformStockConnector:
    """The part of an :class:`engine.inventory.channels.StockConnector` that every platform
    shares. Subclasses set the class attributes and implement the protocol's two methods."""

    platform = "platform"  # the name errors carry
    default_channel = "platform"  # the channel name, and the <PLATFORM> of the base-URL variable
    default_base_url: str | None = None  # the production gateway; None: base_url is required
    needs_access_token = True
    max_page_size = 100
    permanent_http_statuses: frozenset[int] = frozenset()  # statuses retrying will not cure
    http_error_from = 400  # lower statuses are answers for the caller to judge

    def __init__(self, channel: str | None = None, *, app_key: str, app_secret: str, access_token: str | None = None,
                 shop: str | None = None, base_url: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 page_size: int | None = None, clock: Callable[[], float] = time.time) -> None:
        if self.needs_access_token and not access_token:
            raise MissingSetting(self.platform, "access_token (the shop's authorisation) is required")
        base = base_url or self.default_base_url
        if not base:
            raise MissingSetting(self.platform, "base_url (where the shop's API lives) is required")
        self.channel = channel or self.default_channel
        self.app_key = app_key
        self.app_secret = app_secret
        self.access_token = access_token
        self.shop = shop
        self.base_url = base.rstrip("/")
        self.timeout = timeout
        self.page_size = max(1, min(page_size or self.max_page_size, self.max_page_size))
        self.clock = clock
        self._secrets = [s for s in (app_secret, access_token) if s]

    @classmethod
    def from_credentials(cls, channel: str, credentials: Mapping[str, str], base_url: str | None,
                         **options: Any) -> Self:
        """The connector for ``build(channel, credentials, base_url)``: ``app_key`` and
        ``app_secret`` (and ``access_token`` where the platform needs one) are required,
        ``shop`` is optional; without ``base_url`` the environment's override applies."""
        required = ("app_key", "app_secret", "access_token") if cls.needs_access_token else ("app_key", "app_secret")
        given = {key: credential(cls.platform, credentials, key) for key in required}
        return cls(channel, app_key=given["app_key"], app_secret=given["app_secret"],
                   access_token=given.get("access_token"), shop=credentials.get("shop"),
                   base_url=configured_base_url(cls.default_channel, base_url), **options)

    def refuse_negative(self, sku_id: str, available: int) -> None:
        if available < 0:
            raise ConnectorError(self.platform, f"{sku_id}: cannot show a negative figure ({available})",
                                 permanent=True)

    # --- HTTP ------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, params: Mapping[str, str] | None = None,
                data: bytes | Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                timeout: float | None = None, what: str = "",
                redacting: Iterable[str] = ()) -> tuple[int, dict[str, Any]]:
        """One request; ``(HTTP status, JSON object answer)``. Network failures and timeouts,
        statuses from :attr:`http_error_from` up and answers that are not a JSON object raise
        a :class:`ConnectorError` (permanent only for :attr:`permanent_http_statuses`) naming
        ``what``, with the secrets and ``redacting`` (a request's signature) blanked out."""
        prefix = f"{what}: " if what else ""
        secrets = [*self._secrets, *redacting]
        try:
            resp = http.request(method, url, params=params, data=data, headers=headers,
                                    timeout=self.timeout if timeout is None else timeout)
        except requests.RequestException as exc:
            raise ConnectorError(self.platform, redact(f"{prefix}request failed: {type(exc).__name__}: {exc}",
                                                       secrets)) from None
        # the answer is scrubbed only when it goes into an error: a request's signature makes
        # every scrub pattern new, and compiling one for each good answer cost the worker ~7%
        if resp.status_code >= self.http_error_from:
            snippet = redact(resp.text[:MAX_ANSWER_CHARS], secrets)
            raise ConnectorError(self.platform, f"{prefix}HTTP {resp.status_code}: {snippet}", code=resp.status_code,
                                 permanent=resp.status_code in self.permanent_http_statuses)
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            snippet = redact(resp.text[:MAX_ANSWER_CHARS], secrets)
            raise ConnectorError(self.platform, f"{prefix}HTTP {resp.status_code} without a JSON object: {snippet!r}",
                                 code=resp.status_code)
        return resp.status_code, answer

    def post(self, url: str, *, data: bytes | Mapping[str, str], params: Mapping[str, str] | None = None,
             headers: Mapping[str, str] | None = None, timeout: float | None = None) -> dict[str, Any]:
        """POST once; the JSON object answer (see :meth:`request`)."""
        return self.request("POST", url, params=params, data=data, headers=headers, timeout=timeout)[1]

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def router_answer(self, method: str, answer: Mapping[str, Any], *, namespace: str,
                      error: Callable[[str, Mapping[str, Any]], ConnectorError],
                      key: str | None = None) -> dict[str, Any]:
        """The object under ``<method less its namespace, dots as underscores>_response`` of a
        TOP-style router's answer (Taobao's, and PDD's built on its model), e.g.
        ``item_quantity_update_response`` for ``taobao.item.quantity.update`` (``key`` names
        it where the platform departs from that rule); an ``error_response`` raises
        ``error(method, error_response)``."""
        refused = answer.get("error_response")
        if isinstance(refused, dict):
            raise error(method, refused)
        key = key or method.removeprefix(namespace).replace(".", "_") + "_response"
        body = answer.get(key)
        if not isinstance(body, dict):
            raise ConnectorError(self.platform, f"{method}: answer without {key}")
        return body

    def refusal(self, what: str, code: Any, message: Any, sub_code: Any = None, sub_msg: Any = None, *,
                permanent: bool, code_name: str = "code") -> ConnectorError:
        """The platform refused ``what``: its code, message and sub code in one error."""
        text = f"{what}: {code_name} {code}: {message or ''}"
        if sub_code or sub_msg:
            text += f" ({sub_code or ''}: {sub_msg or ''})"
        return ConnectorError(self.platform, self.redact(text), code=code, permanent=permanent)


@dataclass(frozen=True)
class ListedSku:
    """One SKU of the shop as its listing shows it: the merchant code (our sku id), the
    quantity the platform shows (None where the listing does not carry it) and the platform
    ids its update API needs."""

    code: str
    quantity: int | None
    ids: Mapping[str, Any] = field(default_factory=dict)


class ListedStockConnector(PlatformStockConnector):
    """A :class:`engine.inventory.channels.StockConnector` over a platform that addresses SKUs
    by its own ids. Subclasses implement :meth:`list_skus` and :meth:`update_quantity` (and
    :meth:`shown` where the listing carries no quantity)."""

    def __init__(self, channel: str | None = None, **settings: Any) -> None:
        super().__init__(channel, **settings)
        self._ids: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    # --- what each platform provides ---------------------------------------------------------

    def list_skus(self) -> Iterable[ListedSku]:  # pragma: no cover - abstract
        """Every SKU of the shop (all pages)."""
        raise NotImplementedError

    def update_quantity(self, ids: Mapping[str, Any], code: str,
                        quantity: int) -> Mapping[str, Any] | None:  # pragma: no cover - abstract
        """Make the SKU with these ids show ``quantity`` (a full overwrite, or a read and the
        difference where the platform only takes increments); may return details for the log."""
        raise NotImplementedError

    def shown(self, sku: ListedSku) -> int:
        """What the platform shows for a listed SKU: the listing's figure."""
        if sku.quantity is None:
            raise NotImplementedError(f"{type(self).__name__} lists no quantity and must read it in shown()")
        return sku.quantity

    # --- the StockConnector protocol ---------------------------------------------------------

    def fetch_stock(self) -> dict[str, int]:
        return {sku.code: self.shown(sku) for sku in self.relist()}

    def push_stock(self, sku_id: str, available: int, version: int) -> None:
        self.refuse_negative(sku_id, available)
        ids = self.platform_ids(sku_id)
        try:
            details = self.update_quantity(ids, sku_id, available)
        except ConnectorError:
            with self._lock:
                self._ids.pop(sku_id, None)  # the next attempt lists afresh
            raise
        log.debug("platform stock pushed", channel=self.channel, sku_id=sku_id, quantity=available, version=version,
                 **(details or {}))

    # --- the map -----------------------------------------------------------------------------

    def platform_ids(self, code: str) -> Mapping[str, Any]:
        """The ids the platform gives the SKU with merchant code ``code`` (lists the shop once
        more when the last listing did not have it)."""
        with self._lock:
            ids = self._ids.get(code)
        if ids is None:
            self.relist()
            with self._lock:
                ids = self._ids.get(code)
        if ids is None:
            raise ConnectorError(
                self.platform, f"{code}: unknown merchant code {code!r}: no SKU of the shop carries it "
                "(set it as the SKU's merchant code on the platform)", permanent=True)
        return ids

    def relist(self) -> list[ListedSku]:
        """List the shop, keep the code → ids map, return the SKUs (first of a repeated code)."""
        seen: dict[str, ListedSku] = {}
        for sku in self.list_skus():
            if not sku.code:
                continue  # a SKU without a merchant code cannot be one of ours
            if sku.code in seen:
                log.warning("merchant code repeated on the platform; the first SKU is used",
                            channel=self.channel, sku_id=sku.code)
                continue
            seen[sku.code] = sku
        with self._lock:
            self._ids = {code: sku.ids for code, sku in seen.items()}
        return list(seen.values())
