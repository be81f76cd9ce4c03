"""The 抖店 open API's error answer, shared by the fake's stock and order endpoints
(:mod:`connectors.fakes.douyin_stock`, :mod:`connectors.fakes.douyin_orders`): a failure is
answered on HTTP 200 as ``{"code", "msg", "sub_code", "sub_msg", "log_id", "data": null}``.
"""

from __future__ import annotations


class DoudianError(Exception):
    def __init__(self, code: int, msg: str, sub_code: str, sub_msg: str) -> None:
        super().__init__(sub_msg)
        self.body = {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def missing(sub_code: str, sub_msg: str) -> DoudianError:
    return DoudianError(40001, "缺少必选参数", sub_code, sub_msg)


def invalid(sub_code: str, sub_msg: str) -> DoudianError:
    return DoudianError(40003, "非法的参数", sub_code, sub_msg)


def bad_param(sub_msg: str) -> DoudianError:
    return DoudianError(40004, "非法的参数", "isv.parameter-invalid:1", sub_msg)


def business(sub_msg: str) -> DoudianError:
    return DoudianError(50002, "业务处理失败", "isv.business-failed:1", sub_msg)
