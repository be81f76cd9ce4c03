"""Fake mini-program shop backend: implements the stock contract of
:mod:`connectors.miniprogram_stock` for tests and the demo — ``GET /stock`` (paged) and
``POST /stock/<sku>`` — over a catalogue of ``{sku: (available, version)}``.

Checks, written from the contract independently of the connector: ``X-OrderPulse-Key`` must
be the configured key, ``X-OrderPulse-Timestamp`` within 5 minutes of the fake's clock,
``X-OrderPulse-Signature`` the hex HMAC-SHA256 of ``timestamp + "." + body`` with the shared
secret (401 ``unknown_key`` / ``stale_timestamp`` / ``bad_signature``). A push needs a body
``{"sku" (equal to the path's), "available" ≥ 0, "version" ≥ 0}`` (422 ``invalid_body``) for a
known SKU (404 ``unknown_sku``); an older version than the one shown is refused (409
``stale_version``); the same or a newer version is shown. Accepted pushes that change the SKU
go to ``messages``; ``page_limit`` caps the page size.

The same backend serves the shop's orders (after the same checks) and pushes them: see
:mod:`connectors.fakes.miniprogram_orders`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote

from connectors.fakes.base import Received
from connectors.fakes.miniprogram_orders import MiniprogramOrderShop
from connectors.fakes.order_scenario import OrderScenario
from connectors.fakes.platform_stock import ShopCatalogueFake, ShopSku

WINDOW_S = 300


@dataclass
class VersionedSku(ShopSku):
    """A SKU of the shop: ``quantity`` is its ``available``, ``version`` the last one pushed."""

    version: int = 0


class FakeMiniprogramStock(MiniprogramOrderShop, ShopCatalogueFake):
    """The shop backend, knowing OrderPulse by ``app_key`` and sharing ``app_secret``; its
    orders come from ``scenario`` (default: a seeded one on the fake's clock)."""

    name = "miniprogram"

    def __init__(self, app_key: str, app_secret: str, *, page_limit: int = 100, scenario: OrderScenario | None = None,
                 orders_seed: int = 23, orders_rate_per_minute: float = 0.0, **kwargs: Any) -> None:
        super().__init__(page_size_cap=page_limit, **kwargs)
        self.app_key, self.app_secret = app_key, app_secret
        self.stale_refusals = 0
        self.setup_orders(orders_seed=orders_seed, orders_rate_per_minute=orders_rate_per_minute, scenario=scenario)
        self.setup_push()

    # --- test helpers ------------------------------------------------------------------------

    def add_sku(self, code: str, qty: int) -> VersionedSku:
        with self._lock:
            sku = self.catalogue[code] = VersionedSku(code, qty)
            return sku

    # --- the backend -------------------------------------------------------------------------

    def answer(self, request: Received) -> tuple[int, Any]:
        refused = self._refusal(request)
        if refused:
            return 401, {"code": refused, "message": "request is not signed by a known key with a fresh timestamp"}
        if request.method == "POST" and request.path.startswith("/orders/") and request.path.endswith("/shipments"):
            return self.ship_route(unquote(request.path[len("/orders/"):-len("/shipments")]), request.json)
        ordered = self.order_route(request.method, request.path, request.query)
        if ordered is not None:
            return ordered
        if request.method == "GET" and request.path == "/stock":
            return self._list(request.query)
        if request.method == "POST" and request.path.startswith("/stock/"):
            return self._push(unquote(request.path[len("/stock/"):]), request.json)
        return 404, {"code": "not_found", "message": "unknown route"}

    def _refusal(self, request: Received) -> str | None:
        if request.headers.get("x-orderpulse-key") != self.app_key:
            return "unknown_key"
        ts = request.headers.get("x-orderpulse-timestamp", "")
        if not ts.isdigit() or abs(self.now() - int(ts)) > WINDOW_S:
            return "stale_timestamp"
        expected = hmac.new(self.app_secret.encode(), ts.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-orderpulse-signature", "")):
            return "bad_signature"
        return None

    def _list(self, query: dict[str, str]) -> tuple[int, Any]:
        try:
            page = max(1, int(query.get("page") or 1))
            size = self.page_size(int(query.get("page_size") or 100))
        except ValueError:
            return 422, {"code": "invalid_query", "message": "page and page_size are whole numbers"}
        rows = list(self.catalogue.values())
        items = [{"sku": sku.code, "available": sku.quantity, "version": sku.version}
                 for sku in self.page(rows, page, size)]
        return 200, {"code": 0, "page": page, "page_size": size, "total": len(rows), "items": items}

    def _push(self, code: str, body: Any) -> tuple[int, Any]:
        def whole(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and value >= 0

        if not isinstance(body, dict) or body.get("sku") != code or not whole(body.get("available")) \
                or not whole(body.get("version")):
            return 422, {"code": "invalid_body", "message": "body needs sku (as in the path), available, version"}
        sku = cast(VersionedSku | None, self.catalogue.get(code))
        if sku is None:
            return 404, {"code": "unknown_sku", "message": f"no SKU {code}"}
        if body["version"] < sku.version:
            self.stale_refusals += 1
            return 409, {"code": "stale_version", "message": "a newer version is shown", "version": sku.version}
        if (body["available"], body["version"]) != (sku.quantity, sku.version):
            sku.quantity, sku.version = body["available"], body["version"]
            self.accept({"sku": code, "available": sku.quantity, "version": sku.version})
        return 200, {"code": 0, "sku": code, "available": sku.quantity, "version": sku.version}
