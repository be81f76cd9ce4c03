"""Fake Feishu (飞书) custom bot webhook: checks the token, the timestamp (within one hour of
the fake's clock) and the signature ``base64(HMAC-SHA256(key=f"{ts}\\n{secret}", msg=b""))``,
the message shape and the rate limits; answers ``{"code", "msg", "data"}`` on HTTP 200.

Codes: 19001 unknown token, 19021 bad signature or stale timestamp, 9499 bad request,
19036 body over 20 KB, 11232 frequency limit (5/s and 100/min per bot). The signature check
is written here from the documented formula, independently of the connector's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from connectors.fakes.base import FakeServer, RateWindow, Received

HOOK_PREFIX = "/open-apis/bot/v2/hook/"
SIGN_ERROR = {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time",
              "data": {}}


class FakeFeishuBot(FakeServer):
    """``bots`` maps hook token → signing secret (None: the bot does not check signatures)."""

    name = "feishu"

    def __init__(self, bots: Mapping[str, str | None], *, per_second: int | None = 5,
                 per_minute: int | None = 100, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bots = dict(bots)
        self._windows: dict[str, tuple[RateWindow, RateWindow]] = {}
        self.per_second, self.per_minute = per_second, per_minute

    def hook_url(self, token: str) -> str:
        return self.url + HOOK_PREFIX + token

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or not request.path.startswith(HOOK_PREFIX):
            return 404, {"code": 404, "msg": "not found"}
        token = request.path[len(HOOK_PREFIX):]
        if token not in self.bots:
            return 200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": {}}
        if len(request.body) > 20 * 1024:
            return 200, {"code": 19036, "msg": "request body too large", "data": {}}
        body = request.json
        if not isinstance(body, dict):
            return 200, {"code": 9499, "msg": "Bad Request", "data": {}}
        secret = self.bots[token]
        if secret is not None:
            ts, sign = body.get("timestamp"), body.get("sign")
            if not isinstance(ts, str) or not ts.isdigit() or not isinstance(sign, str):
                return 200, SIGN_ERROR
            if abs(self.now() - int(ts)) > 3600:
                return 200, SIGN_ERROR
            key = (ts + "\n" + secret).encode("utf-8")
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            if not hmac.compare_digest(expected, sign):
                return 200, SIGN_ERROR
        content = body.get("content")
        if body.get("msg_type") != "text" or not isinstance(content, dict) or not content.get("text"):
            return 200, {"code": 9499, "msg": "Bad Request", "data": {}}
        second, minute = self._windows.setdefault(
            token, (RateWindow(self.per_second, 1.0), RateWindow(self.per_minute, 60.0)))
        if not second.allow(request.at) or not minute.allow(request.at):
            return 200, {"code": 11232, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]", "data": {}}
        self.accept({"token": token, "text": content["text"]})
        return 200, {"code": 0, "msg": "success", "data": {}}
