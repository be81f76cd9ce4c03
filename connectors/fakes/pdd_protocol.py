"""The 拼多多 POP router's error answer and integer parameter reader, shared by the fake's stock
and order endpoints (:mod:`connectors.fakes.pdd_stock`, :mod:`connectors.fakes.pdd_orders`): a
failure is answered on HTTP 200 as ``{"error_response": {"error_code", "error_msg", "sub_code",
"sub_msg", "request_id"}}``.
"""

from __future__ import annotations

from connectors.fakes.platform_stock import int_param


class PddError(Exception):
    def __init__(self, code: int, msg: str, sub_msg: str = "") -> None:
        super().__init__(msg)
        self.body = {"error_code": code, "error_msg": msg, "sub_code": str(code), "sub_msg": sub_msg or msg}


def number(params: dict[str, str], key: str, default: int) -> int:
    return int(int_param(params, key, default, lambda k: PddError(10000, "参数错误", f"{k} 不是整数")))
