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
  ``404 {"code": "unknown_sku"}``, ``422 {"code": "invalid_body"}``; ``message`` explains.

Unlike the platforms, this channel takes our version: a push is a full overwrite guarded by
it, so a late retry of an old figure can never replace a newer one. A ``stale_version``
answer means the shop already shows a newer figure of ours, so the push is done, not failed.

Credentials for :func:`build`: ``app_key`` (the key id the backend knows OrderPulse by),
``app_secret`` (the shared signing secret). ``base_url`` is required (no public default).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import requests

from connectors.outbound import MAX_ANSWER_CHARS, ConnectorError, MissingSetting, redact
from engine.logs import get_logger

PLATFORM = "Mini-program shop"
CHANNEL = "miniprogram"
KEY_HEADER = "X-OrderPulse-Key"
TIMESTAMP_HEADER = "X-OrderPulse-Timestamp"
SIGNATURE_HEADER = "X-OrderPulse-Signature"
MAX_PAGE_SIZE = 100
MAX_PAGES = 1000
CONFIG_STATUSES = (401, 403, 404, 422)

log = get_logger(__name__)


def sign(timestamp: int | str, body: bytes, secret: str) -> str:
    """``hex(HMAC-SHA256(key=secret, msg=f"{timestamp}." + body))``."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


class MiniprogramStockConnector:
    """Implements :class:`engine.inventory.channels.StockConnector` for the merchant's shop."""

    def __init__(self, channel: str = CHANNEL, *, app_key: str, app_secret: str, access_token: str | None = None,
                 shop: str | None = None, base_url: str | None = None, timeout: float = 5.0,
                 page_size: int = MAX_PAGE_SIZE, clock: Callable[[], float] = time.time) -> None:
        if not base_url:
            raise MissingSetting(PLATFORM, "base_url (the shop backend's address) is required")
        self.channel = channel
        self.app_key, self._secret = app_key, app_secret
        self.shop = shop
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._clock = clock

    def fetch_stock(self) -> dict[str, int]:
        shown: dict[str, int] = {}
        page = 1
        while True:
            status, answer = self.request("GET", f"/stock?page={page}&page_size={self.page_size}")
            self._expect_ok(status, answer, "list")
            items = answer.get("items") or []
            for item in items:
                shown[str(item["sku"])] = int(item["available"])
            if not items or page * int(answer.get("page_size") or self.page_size) >= int(answer.get("total") or 0):
                return shown
            if page >= MAX_PAGES:
                raise ConnectorError(PLATFORM, f"list: more than {MAX_PAGES} pages; listing abandoned")
            page += 1

    def push_stock(self, sku_id: str, available: int, version: int) -> None:
        if available < 0:
            raise ConnectorError(PLATFORM, f"{sku_id}: cannot show a negative figure ({available})", permanent=True)
        body = json.dumps({"sku": sku_id, "available": available, "version": version}, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        status, answer = self.request("POST", "/stock/" + quote(sku_id, safe=""), body)
        if status == 409 and answer.get("code") == "stale_version":
            log.info("miniprogram stock push superseded", sku_id=sku_id, version=version, shown=answer.get("version"))
            return
        if status == 404 and answer.get("code") == "unknown_sku":
            raise ConnectorError(PLATFORM, f"{sku_id}: unknown merchant code (the shop has no such SKU)",
                                 code="unknown_sku", permanent=True)
        self._expect_ok(status, answer, f"push {sku_id}")
        log.info("miniprogram stock shown", sku_id=sku_id, available=available, version=version)

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
        """One signed request; ``(HTTP status, JSON object answer)``. Network failures, 5xx and
        answers that are not JSON objects raise a retryable :class:`ConnectorError`."""
        timestamp = str(int(self._clock()))
        headers = {KEY_HEADER: self.app_key, TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: sign(timestamp, body, self._secret)}
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        secrets = [self._secret, headers[SIGNATURE_HEADER]]
        try:
            resp = requests.request(method, self.base_url + path, data=body or None, headers=headers,
                                    timeout=self.timeout)
        except requests.RequestException as exc:
            raise ConnectorError(PLATFORM, redact(f"request failed: {type(exc).__name__}: {exc}", secrets)) from None
        snippet = redact(resp.text[:MAX_ANSWER_CHARS], secrets)
        if resp.status_code >= 500:
            raise ConnectorError(PLATFORM, f"HTTP {resp.status_code}: {snippet}", code=resp.status_code)
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ConnectorError(PLATFORM, f"HTTP {resp.status_code} without a JSON object answer: {snippet!r}",
                                 code=resp.status_code)
        return resp.status_code, answer

    def _expect_ok(self, status: int, answer: Mapping[str, Any], what: str) -> None:
        if status == 200 and answer.get("code") == 0:
            return
        code = answer.get("code", status)
        message = redact(f"{what}: HTTP {status}: {code}: {answer.get('message', '')}", [self._secret])
        raise ConnectorError(PLATFORM, message, code=code, permanent=status in CONFIG_STATUSES)


def build(channel: str, credentials: Mapping[str, str], base_url: str | None = None) -> MiniprogramStockConnector:
    """A connector from ``credentials`` (keys in the module docstring)."""
    for key in ("app_key", "app_secret"):
        if not credentials.get(key):
            raise MissingSetting(PLATFORM, f"credential {key!r} is missing")
    return MiniprogramStockConnector(channel, app_key=credentials["app_key"], app_secret=credentials["app_secret"],
                                     shop=credentials.get("shop"), base_url=base_url)
