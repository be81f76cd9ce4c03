"""What the platform stock connectors (天猫/淘宝, 拼多多, 抖店 …) share: the merchant-code →
platform-ids map kept from the shop's last listing, and one signed POST whose transport
failures become retryable :class:`~connectors.outbound.ConnectorError` s.

Our ``sku_id`` is the merchant's code on the platform. A platform's update API wants its own
ids (num_iid + sku_id, goods_id + sku_id, product_id + sku_id …), so :meth:`fetch_stock` lists
the shop and remembers which ids carry each code; :meth:`push_stock` of a code the map does not
know lists once more, and a code still unknown is a permanent error (someone must set the code
on the platform). A failed update forgets the code's ids, so a retry lists afresh and follows a
SKU the merchant re-created in the meantime.

This module knows no platform's signing, paths or JSON shapes: those live in
``connectors/<platform>_stock.py``, which subclass :class:`ListedStockConnector`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from connectors.outbound import MAX_ANSWER_CHARS, ConnectorError, MissingSetting, redact
from engine.logs import get_logger

log = get_logger(__name__)

MAX_LISTING_PAGES = 1000


@dataclass(frozen=True)
class ListedSku:
    """One SKU of the shop as its listing shows it: the merchant code (our sku id), the
    platform ids its update API needs, and the quantity the platform shows."""

    code: str
    quantity: int
    ids: Mapping[str, Any] = field(default_factory=dict)


class ListedStockConnector:
    """A :class:`engine.inventory.channels.StockConnector` over a platform that addresses SKUs
    by its own ids. Subclasses set :attr:`platform` and implement :meth:`list_skus` and
    :meth:`update_quantity`."""

    platform = "platform"

    def __init__(self, channel: str, secrets: Iterable[str | None]) -> None:
        self.channel = channel
        self._secrets = [s for s in secrets if s]
        self._ids: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    # --- what each platform provides ---------------------------------------------------------

    def list_skus(self) -> Iterable[ListedSku]:  # pragma: no cover - abstract
        """Every SKU of the shop (all pages)."""
        raise NotImplementedError

    def update_quantity(self, ids: Mapping[str, Any], code: str, quantity: int) -> None:  # pragma: no cover
        """Overwrite the sellable quantity of the SKU with these ids (a full update)."""
        raise NotImplementedError

    # --- the StockConnector protocol ---------------------------------------------------------

    def fetch_stock(self) -> dict[str, int]:
        return {sku.code: sku.quantity for sku in self.relist()}

    def push_stock(self, sku_id: str, available: int, version: int) -> None:
        if available < 0:
            raise ConnectorError(self.platform, f"refusing to show a negative quantity ({available}) for {sku_id!r}",
                                 permanent=True)
        ids = self.platform_ids(sku_id)
        try:
            self.update_quantity(ids, sku_id, available)
        except ConnectorError:
            with self._lock:
                self._ids.pop(sku_id, None)  # the next attempt lists afresh
            raise
        log.info("platform stock pushed", channel=self.channel, sku_id=sku_id, quantity=available, version=version)

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
                self.platform, f"unknown merchant code {code!r}: no SKU of the shop carries it "
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

    # --- HTTP ------------------------------------------------------------------------------

    def post(self, url: str, *, data: bytes | Mapping[str, str], params: Mapping[str, str] | None = None,
             headers: Mapping[str, str] | None = None, timeout: float) -> dict[str, Any]:
        """POST once; return the JSON object answer. Network failures, timeouts, HTTP errors
        and answers that are not a JSON object raise a retryable :class:`ConnectorError`
        with every secret blanked out."""
        try:
            resp = requests.post(url, params=params, data=data, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise ConnectorError(self.platform, self.redact(f"request failed: {type(exc).__name__}: {exc}")) from None
        snippet = self.redact(resp.text[:MAX_ANSWER_CHARS])
        if resp.status_code >= 400:
            raise ConnectorError(self.platform, f"HTTP {resp.status_code}: {snippet}", code=resp.status_code)
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ConnectorError(self.platform, f"HTTP {resp.status_code} without a JSON object: {snippet!r}",
                                 code=resp.status_code)
        return answer

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)


def paged(fetch_page: Callable[[int], tuple[list[Any], int]], *, what: str,
          platform: str) -> Iterable[tuple[list[Any], int]]:
    """Pages 1, 2, … of a listing: ``fetch_page(page)`` returns ``(rows, total)``; stops on an
    empty page or once ``total`` rows were seen (whatever page size the platform applied)."""
    seen = 0
    for page in range(1, MAX_LISTING_PAGES + 1):
        rows, total = fetch_page(page)
        if not rows:
            return
        yield rows, total
        seen += len(rows)
        if seen >= total:
            return
    raise ConnectorError(platform, f"{what}: more than {MAX_LISTING_PAGES} pages; listing stopped")


def credential(platform: str, credentials: Mapping[str, str | None], key: str) -> str:
    """A required credential (``app_key``, ``app_secret``, ``access_token`` …)."""
    value = credentials.get(key)
    if not value:
        raise MissingSetting(platform, f"credential '{key}' is missing")
    return str(value)
