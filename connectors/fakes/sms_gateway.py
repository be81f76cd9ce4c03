"""Fake SMS gateway (the contract in :mod:`connectors.sms_gateway`): checks the bearer token
when one is configured, requires ``Idempotency-Key``, validates the mainland mobile number,
and sends (records) one SMS per key — a replayed key gets the first answer again.

Answers: 200 ``{"code": 0, "message_id"}``; 401 ``{"code": 401}`` bad token; 400
``{"code": 400}`` missing key or malformed body; 200 ``{"code": 1001}`` invalid phone.
"""

from __future__ import annotations

import re
from typing import Any

from connectors.fakes.base import IdempotentFake

SEND_PATH = "/sms/send"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class FakeSmsGateway(IdempotentFake):
    name = "sms"
    path = SEND_PATH
    required = "text"
    bad_request = "Idempotency-Key, phone and text are required"

    @property
    def send_url(self) -> str:
        return self.url + SEND_PATH

    def create(self, key: str, body: dict[str, Any]) -> dict[str, Any]:
        if not _MOBILE.match(str(body.get("phone", ""))):
            return {"code": 1001, "message": "invalid phone number"}
        self.accept({"phone": body["phone"], "text": body["text"], "idempotency_key": key})
        return {"code": 0, "message_id": f"sms-{len(self.messages)}"}
