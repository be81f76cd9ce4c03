"""The TOP router's error answer and argument readers, shared by the fake's stock and order
endpoints (:mod:`connectors.fakes.taobao_stock`, :mod:`connectors.fakes.taobao_orders`): a
failure is answered on HTTP 200 as ``{"error_response": {"code", "msg", "sub_code"?,
"sub_msg"?, "request_id"}}``; times are ``yyyy-MM-dd HH:mm:ss`` GMT+8 or epoch ms.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.fakes.platform_stock import int_param

SHANGHAI = ZoneInfo("Asia/Shanghai")


class TopError(Exception):
    def __init__(self, code: int, msg: str, sub_code: str | None = None, sub_msg: str | None = None) -> None:
        super().__init__(msg)
        self.body: dict[str, Any] = {"code": code, "msg": msg}
        if sub_code:
            self.body.update(sub_code=sub_code, sub_msg=sub_msg or "")


def parse_timestamp(value: str) -> float | None:
    if value.isdigit():
        return int(value) / 1000
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).timestamp()
    except ValueError:
        return None


def required(params: dict[str, str], key: str) -> str:
    if not params.get(key):
        raise TopError(40, f"Missing required arguments:{key}")
    return params[key]


def whole(params: dict[str, str], key: str, default: int | None) -> Any:
    return int_param(params, key, default, lambda k: TopError(41, f"Invalid arguments:{k}"))
