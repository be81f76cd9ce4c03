"""Fake e-waybill services of the five marketplaces, each on its platform's fake gateway (the
same server, signature and error forms as that platform's order and stock calls), for
:mod:`connectors.platform_waybills`:

- 淘宝/天猫 ``cainiao.waybill.ii.get`` on the TOP router (gateway checks of
  :class:`~connectors.fakes.taobao_stock.FakeTaobaoStock`); refusals are TOP's
  ``error_response`` code 15 with this fake's sub codes;
- 拼多多 ``pdd.waybill.get`` on the POP router; refusals ``error_response`` 50000 (this fake's);
- 抖店 ``logistics.newCreateOrder`` (and ``logistics.waybillApply`` for an issued number's print
  data); refusals are ``data.err_infos[]`` of a ``code`` 10000 answer;
- 快手 ``open.express.ebill.get`` (POST); refusals are per-item ``errorMsg``;
- 小红书 ``express.createEbillOrders``; refusals are per-bill ``success: false``, ``errorMsg``.

Each service decrypts the receiver as the platform would: the request must carry the order's
own ciphertext (``decipher`` of the fake ciphers) or Taobao's ``oaid`` / XHS's
``openAddressId``; a plaintext or foreign receiver is refused. ``subscribed`` (the carrier
codes the shop has an e-waybill subscription for) and ``waybills.balance`` (its remaining
numbers) refuse too. The same order and package id again answers the same number. Issued
waybills go to ``messages`` as ``{"method", "order_id", "waybill_code", "carrier"}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable
from typing import Any

from connectors.fakes.base import Received
from connectors.fakes.douyin_orders import order_id_of as douyin_order_id
from connectors.fakes.douyin_protocol import DoudianError
from connectors.fakes.douyin_stock import FakeDouyinStock
from connectors.fakes.kuaishou_orders import oid_of
from connectors.fakes.kuaishou_stock import BAD_PARAM, GATEWAY_REFUSED, FakeKuaishouStock
from connectors.fakes.order_scenario import ScenarioOrder
from connectors.fakes.order_shop import decipher
from connectors.fakes.pdd_orders import order_sn
from connectors.fakes.pdd_protocol import PddError
from connectors.fakes.pdd_stock import ROUTER_PATH as PDD_PATH
from connectors.fakes.pdd_stock import FakePddStock
from connectors.fakes.taobao_orders import tid_of
from connectors.fakes.taobao_protocol import TopError, required
from connectors.fakes.taobao_stock import ROUTER_PATH as TOP_PATH
from connectors.fakes.taobao_stock import FakeTaobaoStock
from connectors.fakes.waybill_book import WaybillBook
from connectors.fakes.xiaohongshu_orders import _fail as xhs_fail
from connectors.fakes.xiaohongshu_orders import _ok as xhs_ok
from connectors.fakes.xiaohongshu_orders import order_id_of as xhs_order_id
from connectors.fakes.xiaohongshu_stock import API_PATH as XHS_PATH
from connectors.fakes.xiaohongshu_stock import REFUSED as XHS_REFUSED
from connectors.fakes.xiaohongshu_stock import FakeXiaohongshuStock

__all__ = ["FakeDouyinWaybill", "FakeKuaishouWaybill", "FakePddWaybill", "FakeTaobaoWaybill", "FakeXiaohongshuWaybill",
           "WAYBILL_FAKES"]

NO_SUBSCRIPTION = "未开通该快递公司的电子面单服务"
NO_BALANCE = "电子面单余额不足，请联系网点充值"
WRONG_RECEIVER = "收件人信息不是该订单的平台密文，无法解密取号"
NO_ORDER = "订单不存在"
APPLY_METHOD = "logistics.waybillApply"


def _print_data(number: str, platform: str) -> str:
    sealed = base64.b64encode(hashlib.sha256(f"{platform}:{number}".encode()).digest()).decode()
    return json.dumps({"encryptedData": sealed, "signature": "MD:" + sealed[:22] + "==",
                       "templateURL": "http://cloudprint.cainiao.com/template/standard/101",
                       "ver": f"waybill_print_secret_{platform}"}, separators=(",", ":"))


class _WaybillService:
    """The waybill part each fake gateway mixes in."""

    waybill_platform = "platform"
    scenario: Any

    def setup_waybills(self, *, subscribed: Iterable[str] | None, balance: int | None, seed: int) -> None:
        self.subscribed = set(subscribed) if subscribed is not None else None  # None: every carrier
        self.waybills = WaybillBook(seed=seed, balance=balance)

    def find_order(self, order_id: str, id_of: Callable[[ScenarioOrder], Iterable[str]]) -> ScenarioOrder | None:
        return next((o for o in self.scenario.orders() if order_id in set(id_of(o))), None)

    def receiver_matches(self, order: ScenarioOrder, name: str, phone: str, street: str) -> bool:
        try:
            plain = (decipher(name), decipher(phone), decipher(street))
        except ValueError:
            return False
        return plain == (order.buyer.name, order.buyer.phone, order.buyer.street)

    def refusal(self, carrier: str) -> str | None:
        """Why no number can be issued for ``carrier`` now (None: it can)."""
        if self.subscribed is not None and carrier not in self.subscribed:
            return NO_SUBSCRIPTION
        if not self.waybills.can_issue():
            return NO_BALANCE
        return None

    def number(self, order_id: str, package: str, carrier: str, method: str) -> str:
        key = (order_id, package)
        found = self.waybills.find(key)
        if found is not None:
            return found
        number = self.waybills.issue(key, carrier)
        self.accept({"method": method, "order_id": order_id, "waybill_code": number, "carrier": carrier})  # type: ignore[attr-defined]
        return number


# --------------------------------------------------------------------------- 淘宝/天猫 (菜鸟)


class FakeTaobaoWaybill(_WaybillService, FakeTaobaoStock):
    waybill_platform = "taobao"
    method = "cainiao.waybill.ii.get"
    order_methods = (*FakeTaobaoStock.order_methods, "cainiao.waybill.ii.get")  # type: ignore[assignment]

    def __init__(self, *, subscribed: Iterable[str] | None = None, waybill_balance: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.setup_waybills(subscribed=subscribed, balance=waybill_balance, seed=21)

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != TOP_PATH:
            return super().answer(request)
        params = {**request.query, **request.form}
        if params.get("method") != self.method:
            return super().answer(request)
        request_id = secrets.token_hex(6)
        try:
            self.check(params, request.at)
            body = self.waybill_get(params)
        except TopError as err:
            return 200, {"error_response": {**err.body, "request_id": request_id}}
        return 200, {"cainiao_waybill_ii_get_response": {**body, "request_id": request_id}}

    def waybill_get(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            body = json.loads(required(params, "param_waybill_cloud_print_apply_new_request"))
            cp_code, dtos = str(body["cp_code"]), list(body["trade_order_info_dtos"])
        except (ValueError, KeyError, TypeError):
            raise TopError(41, "Invalid arguments:param_waybill_cloud_print_apply_new_request") from None
        modules = []
        for dto in dtos:
            tid = str((dto.get("order_info") or {}).get("trade_order_list", [""])[0])
            order = self.find_order(tid, lambda o: [str(tid_of(o))])
            if order is None:
                raise TopError(15, "Remote service error", "isv.trade-not-exist", NO_ORDER)
            if (dto.get("recipient") or {}).get("oaid") != f"1{order.buyer.open_id}{tid_of(order):x}":
                raise TopError(15, "Remote service error", "isv.waybill-oaid-invalid", WRONG_RECEIVER)
            problem = self.refusal(cp_code)
            if problem:
                raise TopError(15, "Remote service error", "isv.waybill-apply-refused", problem)
            package = str((dto.get("package_info") or {}).get("id") or dto.get("object_id"))
            number = self.number(tid, package, cp_code, self.method)
            modules.append({"object_id": dto.get("object_id"), "waybill_code": number, "cp_code": cp_code,
                            "print_data": _print_data(number, "taobao")})
        return {"modules": {"waybill_cloud_print_response": modules}}


# --------------------------------------------------------------------------- 拼多多


class FakePddWaybill(_WaybillService, FakePddStock):
    waybill_platform = "pdd"
    method = "pdd.waybill.get"

    def __init__(self, *, subscribed: Iterable[str] | None = None, waybill_balance: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.setup_waybills(subscribed=subscribed, balance=waybill_balance, seed=22)

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != PDD_PATH:
            return super().answer(request)
        params = request.form
        if params.get("type") != self.method:
            return super().answer(request)
        try:
            self.check_signed(params, request.at)
            body = self.waybill_get(params)
        except PddError as err:
            return 200, {"error_response": {**err.body, "request_id": secrets.token_hex(8)}}
        return 200, {"pdd_waybill_get_response": {**body, "request_id": secrets.token_hex(8)}}

    def waybill_get(self, params: dict[str, str]) -> dict[str, Any]:
        try:
            body = json.loads(params["param_waybill_cloud_print_apply_new_request"])
            wp_code, dtos = str(body["wp_code"]), list(body["trade_order_info_dtos"])
        except (ValueError, KeyError, TypeError):
            raise PddError(10000, "参数错误", "param_waybill_cloud_print_apply_new_request") from None
        modules = []
        for dto in dtos:
            sn = str((dto.get("order_info") or {}).get("trade_order_list", [""])[0])
            order = self.find_order(sn, lambda o: [order_sn(o)])
            if order is None:
                raise PddError(50000, "业务错误", NO_ORDER)
            recipient = dto.get("recipient") or {}
            if not self.receiver_matches(order, str(recipient.get("name") or ""), str(recipient.get("mobile") or ""),
                                         str((recipient.get("address") or {}).get("detail") or "")):
                raise PddError(50000, "业务错误", WRONG_RECEIVER)
            problem = self.refusal(wp_code)
            if problem:
                raise PddError(50000, "业务错误", problem)
            package = str((dto.get("package_info") or {}).get("id") or dto.get("object_id"))
            number = self.number(sn, package, wp_code, self.method)
            modules.append({"object_id": dto.get("object_id"), "waybill_code": number,
                            "print_data": _print_data(number, "pdd")})
        return {"modules": modules}


# --------------------------------------------------------------------------- 抖店


class FakeDouyinWaybill(_WaybillService, FakeDouyinStock):
    waybill_platform = "douyin"
    method = "logistics.newCreateOrder"

    def __init__(self, *, subscribed: Iterable[str] | None = None, waybill_balance: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.setup_waybills(subscribed=subscribed, balance=waybill_balance, seed=23)

    def answer(self, request: Received) -> tuple[int, Any]:
        method = request.path.strip("/").replace("/", ".")
        if request.method != "POST" or method not in (self.method, APPLY_METHOD):
            return super().answer(request)
        log_id = secrets.token_hex(10)
        try:
            params = self.check_signed(request, method)
        except DoudianError as err:
            return 200, {**err.body, "log_id": log_id, "data": None}
        data = self.create_order(params) if method == self.method else self.waybill_apply(params)
        return 200, {"code": 10000, "msg": "success", "sub_code": "", "sub_msg": "", "log_id": log_id, "data": data}

    def waybill_apply(self, params: dict[str, Any]) -> dict[str, Any]:
        issued = set(self.waybills.issued.values())
        infos, errors = [], []
        for apply in params.get("waybill_applies") or []:
            number = str(apply.get("track_no"))
            if number in issued:
                infos.append({"track_no": number, "print_data": _print_data(number, "douyin"),
                              "sign": hashlib.md5(number.encode()).hexdigest()})
            else:
                errors.append({"track_no": number, "err_code": "100004", "err_msg": "运单号不存在"})
        return {"waybill_infos": infos, "err_infos": errors}

    def create_order(self, params: dict[str, Any]) -> dict[str, Any]:
        code = str(params.get("logistics_code") or "")
        ebills, errors = [], []
        for info in params.get("order_infos") or []:
            order_id, pack_id = str(info.get("order_id")), str(info.get("pack_id"))

            def fail(err_code: str, msg: str, order_id: str = order_id, pack_id: str = pack_id) -> None:
                errors.append({"order_id": order_id, "pack_id": pack_id, "err_code": err_code, "err_msg": msg})
            order = self.find_order(order_id, lambda o: [str(douyin_order_id(o))])
            receiver = info.get("receiver_info") or {}
            contact, address = receiver.get("contact") or {}, receiver.get("address") or {}
            problem = self.refusal(code)
            if order is None:
                fail("100001", NO_ORDER)
            elif not self.receiver_matches(order, str(contact.get("name") or ""), str(contact.get("mobile") or ""),
                                           str(address.get("detail_address") or "")):
                fail("100002", WRONG_RECEIVER)
            elif problem:
                fail("100003", problem)
            else:
                number = self.number(order_id, pack_id, code, self.method)
                ebills.append({"order_id": order_id, "pack_id": pack_id, "track_no": number, "company": code,
                               "sort_code": "310-A1-02", "hint_msg": ""})
        return {"ebill_infos": ebills, "err_infos": errors}


# --------------------------------------------------------------------------- 快手


class FakeKuaishouWaybill(_WaybillService, FakeKuaishouStock):
    waybill_platform = "kuaishou"
    method = "open.express.ebill.get"

    def __init__(self, *, subscribed: Iterable[str] | None = None, waybill_balance: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.setup_waybills(subscribed=subscribed, balance=waybill_balance, seed=24)

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != "/" + self.method.replace(".", "/"):
            return super().answer(request)
        params = request.form
        if params.get("method") != self.method:
            return 200, {"result": BAD_PARAM, "error_msg": "method 与路径不一致"}
        refused = self._refusal(params)
        if refused:
            return 200, {"result": GATEWAY_REFUSED, "error_msg": refused}
        try:
            items = list(json.loads(params.get("param") or "{}")["getEbillOrderRequest"])
        except (ValueError, KeyError, TypeError):
            return 200, {"result": BAD_PARAM, "error_msg": "getEbillOrderRequest 必填"}
        return 200, {"result": 1, "error_msg": "", "data": [self.ebill(item) for item in items]}

    def ebill(self, item: dict[str, Any]) -> dict[str, Any]:
        order_id, package = str(item.get("tradeOrderCode")), str(item.get("packageCode"))
        code = str(item.get("expressCompanyCode") or "")
        order = self.find_order(order_id, lambda o: [str(oid_of(o, ln)) for ln in o.lines])
        contact, address = item.get("receiverContract") or {}, item.get("receiverAddress") or {}
        problem = self.refusal(code)
        if order is None:
            problem = NO_ORDER
        elif not self.receiver_matches(order, str(contact.get("name") or ""), str(contact.get("mobile") or ""),
                                       str(address.get("detailAddress") or "")):
            problem = WRONG_RECEIVER
        if problem:
            return {"requestId": package, "errorCode": "EBILL_REFUSED", "errorMsg": problem}
        number = self.number(order_id, package, code, self.method)
        return {"requestId": package, "waybillCode": number, "printData": _print_data(number, "kuaishou")}


# --------------------------------------------------------------------------- 小红书


class FakeXiaohongshuWaybill(_WaybillService, FakeXiaohongshuStock):
    waybill_platform = "xiaohongshu"
    method = "express.createEbillOrders"

    def __init__(self, *, subscribed: Iterable[str] | None = None, waybill_balance: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.setup_waybills(subscribed=subscribed, balance=waybill_balance, seed=25)

    def answer(self, request: Received) -> tuple[int, Any]:
        body = request.json if request.method == "POST" and request.path == XHS_PATH else None
        if not isinstance(body, dict) or body.get("method") != self.method:
            return super().answer(request)
        refused = self._refusal(body)
        if refused:
            return 200, xhs_fail(XHS_REFUSED, refused)
        code = str(body.get("cpCode") or "")
        bills = []
        for info in body.get("tradeOrderInfoList") or []:
            order_info = info.get("orderInfo") or {}
            order_id = str(order_info.get("xhsOrderId") or (order_info.get("tradeOrderList") or [""])[0])
            object_id = str(info.get("objectId"))
            order = self.find_order(order_id, lambda o: [xhs_order_id(o)])
            problem = self.refusal(code)
            if order is None:
                problem = NO_ORDER
            elif (info.get("recipient") or {}).get("openAddressId") != self.open_address_id(order):
                problem = WRONG_RECEIVER
            if problem:
                bills.append({"objectId": object_id, "success": False, "errorCode": 3001, "errorMsg": problem})
                continue
            package = str((info.get("packageInfo") or {}).get("id") or object_id)
            number = self.number(order_id, package, code, self.method)
            bills.append({"objectId": object_id, "success": True, "waybillCode": number, "cpCode": code,
                          "printData": _print_data(number, "xiaohongshu"), "parentWaybillCode": ""})
        return 200, xhs_ok({"wayBillList": bills, "subErrorCode": ""})


WAYBILL_FAKES: dict[str, Any] = {
    "taobao": FakeTaobaoWaybill, "pdd": FakePddWaybill, "douyin": FakeDouyinWaybill, "kuaishou": FakeKuaishouWaybill,
    "xiaohongshu": FakeXiaohongshuWaybill,
}
