"""Fake WeCom (企业微信) group bot webhook: checks the key, the message shape and the rate
limit, answers ``{"errcode", "errmsg"}`` on HTTP 200 like the real one.

Codes: 93000 unknown key ("invalid webhook url"), 40008 bad message type, 44004 empty text,
40058 text over 2048 bytes, 45009 more than ``per_minute`` messages a minute for one key.
(Only 0 and the 20/minute limit are documented facts; the other codes are the values seen in
the wild and may differ.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from connectors.fakes.base import FakeServer, RateWindow, Received

SEND_PATH = "/cgi-bin/webhook/send"


class FakeWeComBot(FakeServer):
    name = "wecom"

    def __init__(self, keys: Iterable[str], *, per_minute: int | None = 20, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys = set(keys)
        self.per_minute = per_minute
        self._windows: dict[str, RateWindow] = {}

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != SEND_PATH:
            return 404, {"errcode": 404, "errmsg": "not found"}
        key = request.query.get("key", "")
        if key not in self.keys:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url, hint: key not found"}
        body = request.json
        if not isinstance(body, dict) or body.get("msgtype") != "text" or not isinstance(body.get("text"), dict):
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}
        content = body["text"].get("content")
        if not isinstance(content, str) or not content:
            return 200, {"errcode": 44004, "errmsg": "text content is empty"}
        if len(content.encode("utf-8")) > 2048:
            return 200, {"errcode": 40058, "errmsg": "content exceed max length 2048"}
        window = self._windows.setdefault(key, RateWindow(self.per_minute, 60.0))
        if not window.allow(request.at):
            return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}
        self.accept({"key": key, "content": content,
                     "mentioned_list": body["text"].get("mentioned_list", []),
                     "mentioned_mobile_list": body["text"].get("mentioned_mobile_list", [])})
        return 200, {"errcode": 0, "errmsg": "ok"}

