"""快递鸟 (Kdniao) e-waybill, RequestType 1007 (``/api/EOrderService``): the desk's waybills for
orders whose receiver is plaintext (the own mini-program / WeChat shop).

Wire format [platforms.md §7]: form POST ``application/x-www-form-urlencoded;charset=utf-8``
with ``RequestData`` (the JSON text), ``EBusinessID``, ``RequestType=1007``, ``DataSign`` and
``DataType=2``; ``DataSign = base64(lowercase hex MD5(RequestData + AppKey))`` — the base64 of
the 32-character hex *text*, then form-encoded like every value (``=`` → ``%3D``).

RequestData: ``OrderCode`` (ours, ``OP<order pk>``: a retry sends the same code and Kdniao
answers the waybill it issued for it), ``ShipperCode``, ``PayType`` 3 (月结), ``ExpType`` 1,
``MonthCode`` (``KDNIAO_MONTH_CODE`` when the carrier needs it), ``Sender``/``Receiver``
``{Name, Mobile, ProvinceName, CityName, ExpAreaName, Address}``, ``Commodity[{GoodsName,
Goodsquantity}]``, ``Quantity`` 1, ``Weight`` (kg), ``IsReturnPrintTemplate`` 1. The answer:
``{EBusinessID, Success, ResultCode ("100" success), Reason, Order{OrderCode, ShipperCode,
LogisticCode, MarkDestination, OriginName, PackageCode}, PrintTemplate}``; ``Success`` false
is a :class:`~engine.waybills.ports.WaybillRefused` with Kdniao's ``ResultCode`` and
``Reason``. Credentials: ``KDNIAO_EBUSINESS_ID``, ``KDNIAO_APP_KEY``;
``ORDERPULSE_KDNIAO_BASE_URL`` points tests and the demo at the fake.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from connectors import http
from connectors.outbound import DEFAULT_TIMEOUT, MAX_ANSWER_CHARS, ConnectorError, MissingSetting, redact
from engine.waybills.ports import IssuedWaybill, Party, WaybillRefused, WaybillRequest

__all__ = ["EORDER_PATH", "KdniaoClient", "build", "data_sign", "eorder_data"]

DEFAULT_BASE_URL = "https://api.kdniao.com"
EORDER_PATH = "/api/EOrderService"
REQUEST_TYPE = "1007"
SUCCESS_CODES = ("100", "106")  # 106: the OrderCode was ordered before; its waybill is answered again [U]


def data_sign(request_data: str, app_key: str) -> str:
    """``base64(lowercase hex MD5(RequestData + AppKey))`` (before form encoding)."""
    digest = hashlib.md5((request_data + app_key).encode("utf-8")).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


def _party(p: Party) -> dict[str, str]:
    return {"Name": p.name, "Mobile": p.phone, "ProvinceName": p.province, "CityName": p.city,
            "ExpAreaName": p.district, "Address": p.address}


def eorder_data(request: WaybillRequest, *, month_code: str | None = None) -> dict[str, Any]:
    """The 1007 RequestData of ``request`` (see the module docstring)."""
    data: dict[str, Any] = {
        "OrderCode": request.request_id, "ShipperCode": request.carrier_code, "PayType": 3, "ExpType": 1,
        "Sender": _party(request.sender), "Receiver": _party(request.receiver),
        "Commodity": [{"GoodsName": item.title, "Goodsquantity": item.qty} for item in request.items] or
                     [{"GoodsName": "商品", "Goodsquantity": 1}],
        "Quantity": 1, "Weight": round(request.weight_g / 1000, 3), "IsReturnPrintTemplate": 1,
        "Remark": f"{request.channel}/{request.order_id}",
    }
    if month_code:
        data["MonthCode"] = month_code
    return data


class KdniaoClient:
    """The Kdniao e-waybill client (see the module docstring)."""

    provider = "kdniao"

    def __init__(self, *, ebusiness_id: str, app_key: str, base_url: str | None = None,
                 month_code: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.ebusiness_id = ebusiness_id
        self.app_key = app_key
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.month_code = month_code
        self.timeout = timeout

    def form(self, request_data: str) -> dict[str, str]:
        """The form fields of one 1007 call carrying ``request_data``."""
        return {"RequestData": request_data, "EBusinessID": self.ebusiness_id, "RequestType": REQUEST_TYPE,
                "DataSign": data_sign(request_data, self.app_key), "DataType": "2"}

    def post(self, request_data: str) -> dict[str, Any]:
        secrets = [self.app_key]
        try:
            resp = http.request("POST", self.base_url + EORDER_PATH, data=self.form(request_data), timeout=self.timeout,
                                 headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})
        except requests.RequestException as exc:
            raise ConnectorError("kdniao", redact(f"EOrderService: {type(exc).__name__}: {exc}", secrets)) from None
        if resp.status_code >= 400:
            raise ConnectorError("kdniao", redact(f"EOrderService: HTTP {resp.status_code}: "
                                                  f"{resp.text[:MAX_ANSWER_CHARS]}", secrets), code=resp.status_code)
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ConnectorError("kdniao", "EOrderService: the answer is not a JSON object")
        return answer

    def issue(self, request: WaybillRequest) -> IssuedWaybill:
        text = json.dumps(eorder_data(request, month_code=self.month_code), ensure_ascii=False, separators=(",", ":"))
        answer = self.post(text)
        code = str(answer.get("ResultCode") or "")
        found = answer.get("Order")
        order: dict[str, Any] = found if isinstance(found, dict) else {}
        number = str(order.get("LogisticCode") or "")
        if answer.get("Success") is not True or code not in SUCCESS_CODES or not number:
            raise WaybillRefused("kdniao", code or "?", str(answer.get("Reason") or "快递鸟未给出原因"))
        return IssuedWaybill(tracking_no=number, print_html=str(answer.get("PrintTemplate") or "") or None,
                             detail={k: order.get(k) for k in ("MarkDestination", "OriginName", "PackageCode")
                                     if order.get(k)})


def build(environ: Mapping[str, str], clock: Callable[[], float] = time.time) -> KdniaoClient:
    """The client from ``KDNIAO_EBUSINESS_ID``, ``KDNIAO_APP_KEY`` (required),
    ``KDNIAO_MONTH_CODE`` and ``ORDERPULSE_KDNIAO_BASE_URL`` (optional)."""
    ebusiness_id, app_key = environ.get("KDNIAO_EBUSINESS_ID"), environ.get("KDNIAO_APP_KEY")
    if not ebusiness_id or not app_key:
        raise MissingSetting("kdniao", "KDNIAO_EBUSINESS_ID and KDNIAO_APP_KEY are required")
    return KdniaoClient(ebusiness_id=ebusiness_id, app_key=app_key,
                        base_url=environ.get("ORDERPULSE_KDNIAO_BASE_URL") or None,
                        month_code=environ.get("KDNIAO_MONTH_CODE") or None)
