"""Fake 快递鸟 (Kdniao) e-waybill gateway: ``POST /api/EOrderService`` with the form of
RequestType 1007 (:mod:`connectors.kdniao`), checked as Kdniao documents it and written from
the formula, independently of the client: ``DataSign`` must equal
``base64(lowercase hex MD5(RequestData + AppKey))`` of the form-decoded ``RequestData``.

Answers ``{EBusinessID, UpdateTime, Success, ResultCode, Reason, Order{…}, PrintTemplate}`` on
HTTP 200, like Kdniao. ``ResultCode`` "100" is success; the failure codes are this fake's own
(Kdniao's full table was not found; [U] in platforms.md): "101" missing or bad field (the
field named), "102" unknown EBusinessID or bad ``DataSign`` (数据签名验证失败), "103" the receiver
is a platform ciphertext or masked (快递鸟无法打印加密收件人), "105" the address cannot be
resolved (收件地址不完整), "108" 余额不足 (the account's balance: ``book.balance``); "106" answers an
``OrderCode`` issued before with its first waybill (Success true). Accepted waybills go to
``messages``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.fakes.base import FakeServer, Received
from connectors.fakes.order_shop import decipher
from connectors.fakes.waybill_book import WaybillBook, label_html

PATH = "/api/EOrderService"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SHIPPERS = ("SF", "ZTO", "YTO", "YD", "STO", "JTSD", "JD", "EMS", "YZPY", "DBL", "HTKY")
PROVINCE_ENDINGS = ("省", "市", "自治区", "特别行政区")


def expected_sign(request_data: str, app_key: str) -> str:
    return base64.b64encode(hashlib.md5((request_data + app_key).encode("utf-8")).hexdigest().encode()).decode()


def _hidden(text: str) -> bool:
    """A masked (``张**``, ``138****0000``) or platform-encrypted text."""
    if "*" in text:
        return True
    try:
        decipher(text)
    except ValueError:
        return False
    return True


class FakeKdniao(FakeServer):
    """The fake gateway (see the module docstring)."""

    name = "kdniao"

    def __init__(self, *, ebusiness_id: str = "1700001", app_key: str = "fake-kdniao-key",
                 balance: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ebusiness_id = ebusiness_id
        self.app_key = app_key
        self.book = WaybillBook(seed=7, balance=balance)
        self._answers: dict[str, dict[str, Any]] = {}

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != PATH:
            return 404, {"Success": False, "Reason": "not found"}
        return 200, self.eorder(request.form)

    def _fail(self, code: str, reason: str) -> dict[str, Any]:
        return {"EBusinessID": self.ebusiness_id, "UpdateTime": self._now_text(), "Success": False,
                "ResultCode": code, "Reason": reason}

    def _now_text(self) -> str:
        return datetime.fromtimestamp(self.now(), SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")

    def eorder(self, form: dict[str, str]) -> dict[str, Any]:
        if form.get("EBusinessID") != self.ebusiness_id:
            return self._fail("102", "EBusinessID不存在或未开通电子面单服务")
        if form.get("RequestType") != "1007":
            return self._fail("101", "RequestType错误")
        text = form.get("RequestData", "")
        if not hmac.compare_digest(expected_sign(text, self.app_key), form.get("DataSign", "")):
            return self._fail("102", "数据签名验证失败（DataSign）")
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return self._fail("101", "RequestData不是JSON")
        code = str(data.get("OrderCode") or "")
        if code in self._answers:
            return {**self._answers[code], "ResultCode": "106", "Reason": "订单号已下单，返回原电子面单"}
        shipper = str(data.get("ShipperCode") or "")
        receiver, sender = data.get("Receiver"), data.get("Sender")
        if not code or shipper not in SHIPPERS or not isinstance(receiver, dict) or not isinstance(sender, dict):
            return self._fail("101", "缺少必填字段：OrderCode、ShipperCode、Sender、Receiver")
        name, mobile = str(receiver.get("Name") or ""), str(receiver.get("Mobile") or receiver.get("Tel") or "")
        street = str(receiver.get("Address") or "")
        if any(_hidden(v) for v in (name, mobile, street)):
            return self._fail("103", "收件人信息为平台加密或脱敏数据，快递鸟无法下单，请使用平台电子面单")
        province, city = str(receiver.get("ProvinceName") or ""), str(receiver.get("CityName") or "")
        if not name or not mobile or not province.endswith(PROVINCE_ENDINGS) or not city or len(street) < 2:
            return self._fail("105", "收件人地址不完整，无法解析到省市区")
        if not self.book.can_issue():
            return self._fail("108", "余额不足，请充值后再下单")
        number = self.book.issue((code,), shipper)
        goods = [str(c.get("GoodsName")) for c in data.get("Commodity") or [] if isinstance(c, dict)]
        answer = {"EBusinessID": self.ebusiness_id, "UpdateTime": self._now_text(), "Success": True,
                  "ResultCode": "100", "Reason": "成功",
                  "Order": {"OrderCode": code, "ShipperCode": shipper, "LogisticCode": number,
                            "MarkDestination": f"{city[:2]}转", "OriginName": str(sender.get("CityName") or ""),
                            "PackageCode": f"{province[:2]}集包"},
                  "PrintTemplate": label_html(number, shipper, receiver, sender, goods)}
        self._answers[code] = answer
        self.accept({"method": "1007", "order_code": code, "shipper": shipper, "waybill_code": number,
                     "receiver": name})
        return answer
