"""Fake DingTalk (钉钉) custom robot: checks the access token, the ``timestamp`` (epoch ms,
within one hour of the fake's clock) and ``sign`` query parameters
(``base64(HMAC-SHA256(key=secret, msg=f"{ts}\\n{secret}"))``), optional keywords and the
20-per-minute limit; answers ``{"errcode", "errmsg"}`` on HTTP 200.

Codes: 300001 unknown token, 310000 ``invalid timestamp`` / ``sign not match`` /
``keywords not in content``, 130101 ``send too fast, exceed 20 times per minute``,
400102 bad message. The check is written from the documented formula, independently of the
connector's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.fakes.base import FakeServer, RateWindow, Received

SEND_PATH = "/robot/send"


class FakeDingTalkRobot(FakeServer):
    """``robots`` maps access token → ``SEC…`` secret (None: no signature; keywords or IP only)."""

    name = "dingtalk"

    def __init__(self, robots: Mapping[str, str | None], *, keywords: Iterable[str] = (),
                 per_minute: int | None = 20, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.robots = dict(robots)
        self.keywords = tuple(keywords)
        self.per_minute = per_minute
        self._windows: dict[str, RateWindow] = {}

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != SEND_PATH:
            return 404, {"errcode": 404, "errmsg": "not found"}
        token = request.query.get("access_token", "")
        if token not in self.robots:
            return 200, {"errcode": 300001, "errmsg": "token is not exist"}
        secret = self.robots[token]
        if secret is not None:
            ts, sign = request.query.get("timestamp", ""), request.query.get("sign", "")
            if not ts.isdigit() or abs(self.now() * 1000 - int(ts)) > 3600 * 1000:
                return 200, {"errcode": 310000, "errmsg": "invalid timestamp"}
            msg = (ts + "\n" + secret).encode("utf-8")
            expected = base64.b64encode(hmac.new(secret.encode("utf-8"), msg, hashlib.sha256).digest()).decode()
            if not hmac.compare_digest(expected, sign):
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
        body = request.json
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(body, dict) or body.get("msgtype") != "text" or not isinstance(text, dict) \
                or not text.get("content"):
            return 200, {"errcode": 400102, "errmsg": "invalid message"}
        if self.keywords and not any(k in text["content"] for k in self.keywords):
            return 200, {"errcode": 310000, "errmsg": "keywords not in content"}
        if not self._windows.setdefault(token, RateWindow(self.per_minute, 60.0)).allow(request.at):
            return 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        self.accept({"token": token, "content": text["content"], "at": body.get("at", {})})
        return 200, {"errcode": 0, "errmsg": "ok"}
