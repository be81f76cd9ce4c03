"""Fake SMS gateway (the contract in :mod:`connectors.sms_gateway`): checks the bearer token
when one is configured, requires ``Idempotency-Key``, validates the mainland mobile number,
and sends (records) one SMS per key — a replayed key gets the first answer again.

Answers: 200 ``{"code": 0, "message_id"}``; 401 ``{"code": 401}`` bad token; 400
``{"code": 400}`` missing key or malformed body; 200 ``{"code": 1001}`` invalid phone.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.fakes.base import FakeServer, Received

SEND_PATH = "/sms/send"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class FakeSmsGateway(FakeServer):
    name = "sms"

    def __init__(self, *, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.replays = 0
        self._answers: dict[str, dict[str, Any]] = {}

    @property
    def send_url(self) -> str:
        return self.url + SEND_PATH

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != SEND_PATH:
            return 404, {"code": 404, "message": "not found"}
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"code": 401, "message": "unauthorized"}
        key = request.headers.get("idempotency-key")
        body = request.json
        if not key or not isinstance(body, dict) or not body.get("text"):
            return 400, {"code": 400, "message": "Idempotency-Key, phone and text are required"}
        if key in self._answers:
            self.replays += 1
            return 200, self._answers[key]
        if not _MOBILE.match(str(body.get("phone", ""))):
            return 200, {"code": 1001, "message": "invalid phone number"}
        answer = {"code": 0, "message_id": f"sms-{len(self.messages) + 1}"}
        self._answers[key] = answer
        self.accept({"phone": body["phone"], "text": body["text"], "idempotency_key": key})
        return 200, answer
