"""Fake WMS (the contract in :mod:`connectors.wms`): ``POST /outbound`` creates one outbound
order per ``Idempotency-Key`` (a replay gets the first answer and ships nothing more); checks
the bearer token when configured.

Answers: 200 ``{"code": 0, "outbound_id", "order_id"}``; 401 bad token; 400 missing key or
order id; 404 unknown operation.
"""

from __future__ import annotations

from typing import Any

from connectors.fakes.base import FakeServer, Received


class FakeWms(FakeServer):
    name = "wms"

    def __init__(self, *, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.replays = 0
        self._answers: dict[str, dict[str, Any]] = {}

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != "/outbound":
            return 404, {"code": 404, "message": "unknown operation"}
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"code": 401, "message": "unauthorized"}
        key = request.headers.get("idempotency-key")
        body = request.json
        if not key or not isinstance(body, dict) or not body.get("order_id"):
            return 400, {"code": 400, "message": "Idempotency-Key and order_id are required"}
        if key in self._answers:
            self.replays += 1
            return 200, self._answers[key]
        answer = {"code": 0, "outbound_id": f"OB{len(self.messages) + 1:06d}", "order_id": body["order_id"]}
        self._answers[key] = answer
        self.accept({"order_id": body["order_id"], "idempotency_key": key, "reference": body.get("reference")})
        return 200, answer
