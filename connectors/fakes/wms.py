"""Fake WMS (the contract in :mod:`connectors.wms`): ``POST /outbound`` creates one outbound
order per ``Idempotency-Key`` (a replay gets the first answer and ships nothing more); checks
the bearer token when configured.

Answers: 200 ``{"code": 0, "outbound_id", "order_id"}``; 401 bad token; 400 missing key or
order id; 404 unknown operation.
"""

from __future__ import annotations

from typing import Any

from connectors.fakes.base import IdempotentFake


class FakeWms(IdempotentFake):
    name = "wms"
    path = "/outbound"
    required = "order_id"
    not_found = "unknown operation"
    bad_request = "Idempotency-Key and order_id are required"

    def create(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        self.accept({"order_id": body["order_id"], "idempotency_key": key, "reference": body.get("reference")})
        return {"code": 0, "outbound_id": f"OB{len(self.messages):06d}", "order_id": body["order_id"]}
