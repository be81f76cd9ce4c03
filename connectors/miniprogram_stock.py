"""The merchant's own mini-program shop (小程序商城) as a sales channel for stock: there is no
third-party platform, so this module defines the small HTTP contract the shop's backend
implements, and the connector that speaks it. Implements
:class:`engine.inventory.channels.StockConnector`; it decides nothing about stock itself.

The contract (``<base>`` is the shop backend's URL; ``sku`` is our SKU id):

- Every request carries ``X-OrderPulse-Key: <app_key>``, ``X-OrderPulse-Timestamp: <unix
  seconds>`` and ``X-OrderPulse-Signature: hex(HMAC-SHA256(key=app_secret, msg=timestamp +
  "." + body))`` over the exact body bytes (empty for a GET), the same form as OrderPulse's
  own inbound webhooks. The backend refuses a timestamp more than 5 minutes from its clock.
- ``GET <base>/stock?page=N&page_size=M`` (pages from 1, ``page_size`` ≤ 100) →
  ``200 {"code": 0, "page", "page_size", "total", "items": [{"sku", "available", "version"}]}``.
- ``POST <base>/stock/<sku, percent-encoded>`` with ``{"sku", "available", "version"}``
  (``sku`` repeats the path so that a signed body cannot be replayed onto another SKU) →
  ``200 {"code": 0, "sku", "available", "version"}``. The backend shows ``available`` as the
  SKU's sellable figure and remembers ``version``. A version **older** than the one it shows
  is refused with ``409 {"code": "stale_version", "version": <shown>}`` and changes nothing;
  the same version is applied again (OrderPulse re-sends its current figure under the same
  version when the shop was seen out of step, or when a channel quota or buffer changed).
- Errors: ``401 {"code": "unknown_key" | "bad_signature" | "stale_timestamp"}``,
  ``404 {"code": "unknown_sku"}``, ``422 {"code": "invalid_body"}``, ``429 {"code":
  "rate_limited", "retry_after": <seconds>}`` (call again after that); ``message`` explains.

Unlike the platforms, this channel takes our version: a push is a full overwrite guarded by
it, so a late retry of an old figure can never replace a newer one. A ``stale_version``
answer means the shop already shows a newer figure of ours, so the push is done, not failed.

No platform ids here: the shop takes our SKU id itself, so this connector keeps no code → ids
map (:mod:`connectors.platform_stock` gives it the transport and the paging guard only).

Credentials for :func:`build`: ``app_key`` (the key id the backend knows OrderPulse by),
``app_secret`` (the shared signing secret). The shop backend's address is required: ``base_url``
or ``ORDERPULSE_MINIPROGRAM_BASE_URL`` (there is no public default).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from connectors.outbound import ConnectorError
from connectors.platform_stock import JSON_HEADERS, PlatformStockConnector, RateLimited, paged
from engine.logs import get_logger

PLATFORM = "Mini-program shop"
CHANNEL = "miniprogram"
KEY_HEADER = "X-OrderPulse-Key"
TIMESTAMP_HEADER = "X-OrderPulse-Timestamp"
SIGNATURE_HEADER = "X-OrderPulse-Signature"
MAX_PAGE_SIZE = 100
CONFIG_STATUSES = (401, 403, 404, 422)

log = get_logger(__name__)


def sign(timestamp: int | str, body: bytes, secret: str) -> str:
    """``hex(HMAC-SHA256(key=secret, msg=f"{timestamp}." + body))``."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


class MiniprogramStockConnector(PlatformStockConnector):
    """Implements :class:`engine.inventory.channels.StockConnector` for the merchant's shop."""

    platform = PLATFORM
    default_channel = CHANNEL
    needs_access_token = False
    max_page_size = MAX_PAGE_SIZE
    http_error_from = 500  # 4xx answers carry the contract's codes; :meth:`expect_ok` judges them

    def fetch_stock(self) -> dict[str, int]:
        def page_of_stock(page: int) -> tuple[list[Any], int]:
            status, answer = self.call("GET", f"/stock?page={page}&page_size={self.page_size}")
            self.expect_ok(status, answer, "list")
            return list(answer.get("items") or []), int(answer.get("total") or 0)

        return {str(item["sku"]): int(item["available"])
                for items, _total in paged(page_of_stock, what="list", platform=PLATFORM) for item in items}

    def push_stock(self, sku_id: str, available: int, version: int) -> None:
        self.refuse_negative(sku_id, available)
        body = json.dumps({"sku": sku_id, "available": available, "version": version}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        status, answer = self.call("POST", "/stock/" + quote(sku_id, safe=""), body)
        if status == 409 and answer.get("code") == "stale_version":
            log.info("miniprogram stock push superseded", sku_id=sku_id, version=version, shown=answer.get("version"))
            return
        if status == 404 and answer.get("code") == "unknown_sku":
            raise ConnectorError(PLATFORM, f"{sku_id}: unknown merchant code (the shop has no such SKU)",
                                 code="unknown_sku", permanent=True)
        self.expect_ok(status, answer, f"push {sku_id}")
        log.debug("miniprogram stock shown", sku_id=sku_id, available=available, version=version)

    def call(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
        """One signed request; ``(HTTP status, JSON object answer)``. Network failures, 5xx and
        answers that are not JSON objects raise a retryable :class:`ConnectorError`."""
        timestamp = str(int(self.clock()))
        headers = {KEY_HEADER: self.app_key, TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: sign(timestamp, body, self.app_secret)}
        if body:
            headers.update(JSON_HEADERS)
        return self.request(method, self.base_url + path, data=body or None, headers=headers,
                            redacting=[headers[SIGNATURE_HEADER]])

    def expect_ok(self, status: int, answer: Mapping[str, Any], what: str) -> None:
        if status == 200 and answer.get("code") == 0:
            return
        code = answer.get("code", status)
        message = self.redact(f"{what}: HTTP {status}: {code}: {answer.get('message', '')}")
        if status == 429:
            wait = answer.get("retry_after")
            raise RateLimited(PLATFORM, message, code=code,
                              retry_after=float(wait) if isinstance(wait, int | float) and wait > 0 else 1.0)
        raise ConnectorError(PLATFORM, message, code=code, permanent=status in CONFIG_STATUSES)


def build(channel: str, credentials: Mapping[str, str], base_url: str | None = None) -> MiniprogramStockConnector:
    """A connector from ``credentials`` (keys in the module docstring)."""
    return MiniprogramStockConnector.from_credentials(channel, credentials, base_url)
