"""The five marketplaces' own e-waybill services, for orders whose receiver the platform
encrypts: each client sends the order's ciphertexts (or Taobao's ``oaid``, XHS's
``openAddressId``) and the platform decrypts on its side. Each wraps the platform's order
client and calls through its ``call``, so the request is signed exactly as that platform's
other calls are (``connectors/<platform>_stock.py``).

- 淘宝/天猫 (菜鸟) ``cainiao.waybill.ii.get``: one JSON param
  ``param_waybill_cloud_print_apply_new_request`` with ``cp_code``; receiver ``recipient.oaid``
  plus the masked name, phone and address; answer ``modules`` (a
  ``waybill_cloud_print_response`` list unless simplified) of ``object_id, waybill_code,
  print_data``. Checked against bububa/opentaobao ``model/waybill`` [V].
- 拼多多 ``pdd.waybill.get``: the same param name and Cainiao-style body with ``wp_code``;
  receiver ``recipient.name/mobile/address.detail`` as PDD's ciphertext; answer
  ``pdd_waybill_get_response.modules[]``. Answer shape from PDD SDK models [V]; the request body
  beyond the param name [U]; ``wp_code`` values [U].
- 抖店 ``logistics.newCreateOrder``, then ``logistics.waybillApply`` for the print data:
  receiver ``order_infos[].receiver_info`` ciphertext; answer ``data.ebill_infos[]{order_id,
  pack_id, track_no, sort_code}`` and ``data.err_infos[]{err_code, err_msg}`` (doudian SDK data
  classes [V]); ``waybillApply``'s ``waybill_infos[]{track_no, print_data, sign}`` [U].
- 快手 ``open.express.ebill.get`` (POST), ``getEbillOrderRequest[]``: receiver
  ``receiverContract`` and ``receiverAddress.detailAddress`` ciphertext (request item fields
  from the SDK models [V]); answer ``data[]{requestId, waybillCode, printData, errorMsg}`` [U].
- 小红书 ``express.createEbillOrders``: receiver ``recipient.openAddressId`` plus
  ``orderInfo.xhsOrderId``; answer ``data.wayBillList[]{objectId, waybillCode, printData,
  success, errorCode, errorMsg}`` (a copy of the official doc [V]); ``cpCode`` values [U].

A platform's refusal (its error answer, or a per-package error) is a
:class:`~engine.waybills.ports.WaybillRefused` carrying the platform's own text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from connectors.outbound import ConnectorError
from engine.waybills.ports import IssuedWaybill, WaybillRefused, WaybillRequest

__all__ = ["DouyinWaybills", "KuaishouWaybills", "PddWaybills", "TaobaoWaybills", "XiaohongshuWaybills",
           "PLATFORM_WAYBILLS"]

CAINIAO_TEMPLATE = "http://cloudprint.cainiao.com/template/standard/101"


class _PlatformWaybills:
    provider = "platform"

    def __init__(self, order_client: Any) -> None:
        # Taobao, PDD and Doudian order clients are their gateways; Kuaishou's and XHS's hold one
        self.client = getattr(order_client, "gateway", order_client)

    def guarded(self, what: Callable[[], Any]) -> Any:
        """Run a platform call; its business refusal becomes :class:`WaybillRefused`."""
        try:
            return what()
        except ConnectorError as exc:
            if exc.code is None or "HTTP " in str(exc):
                raise  # transport: not the platform's word
            reason = str(exc).split(": ", 1)[-1]
            raise WaybillRefused(self.provider, str(exc.code), reason) from None

    def issue(self, request: WaybillRequest) -> IssuedWaybill:  # pragma: no cover - abstract
        raise NotImplementedError


def _cainiao_body(request: WaybillRequest, *, code_key: str, channel_type: str,
                  recipient: Mapping[str, Any]) -> dict[str, Any]:
    s = request.sender
    return {
        code_key: request.carrier_code,
        "sender": {"name": s.name, "mobile": s.phone,
                   "address": {"province": s.province, "city": s.city, "district": s.district, "detail": s.address}},
        "trade_order_info_dtos": [{
            "object_id": request.request_id,
            "order_info": {"order_channels_type": channel_type, "trade_order_list": [request.order_id]},
            "package_info": {"id": request.request_id, "weight": request.weight_g,
                             "items": [{"name": i.title, "count": i.qty} for i in request.items]},
            "recipient": recipient,
            "template_url": CAINIAO_TEMPLATE,
        }],
    }


def _module(modules: Any, request: WaybillRequest, provider: str) -> IssuedWaybill:
    if isinstance(modules, dict):  # TOP without simplify wraps the list
        modules = modules.get("waybill_cloud_print_response")
    for module in modules or []:
        if str(module.get("object_id")) == request.request_id and module.get("waybill_code"):
            return IssuedWaybill(tracking_no=str(module["waybill_code"]), print_data=module.get("print_data"))
    raise WaybillRefused(provider, "no_module", "平台未返回该订单的面单号")


def _receiver_masked(request: WaybillRequest) -> dict[str, Any]:
    r = request.receiver
    return {"name": r.name, "mobile": r.phone,
            "address": {"province": r.province, "city": r.city, "district": r.district, "detail": r.address}}


class TaobaoWaybills(_PlatformWaybills):
    provider = "taobao"

    def issue(self, request: WaybillRequest) -> IssuedWaybill:
        recipient = {**_receiver_masked(request), "oaid": request.cipher.get("oaid", "")}
        body = _cainiao_body(request, code_key="cp_code", channel_type="TB", recipient=recipient)
        answer = self.guarded(lambda: self.client.call("cainiao.waybill.ii.get", {
            "param_waybill_cloud_print_apply_new_request": json.dumps(body, ensure_ascii=False)}))
        return _module(answer.get("modules"), request, self.provider)


class PddWaybills(_PlatformWaybills):
    provider = "pdd"

    def issue(self, request: WaybillRequest) -> IssuedWaybill:
        r, c = request.receiver, request.cipher
        recipient = {"name": c.get("name", r.name), "mobile": c.get("phone", r.phone),
                     "address": {"province": r.province, "city": r.city, "district": r.district,
                                 "detail": c.get("address", r.address)}}
        body = _cainiao_body(request, code_key="wp_code", channel_type="PDD", recipient=recipient)
        answer = self.guarded(lambda: self.client.call(
            "pdd.waybill.get", {"param_waybill_cloud_print_apply_new_request": json.dumps(body, ensure_ascii=False)},
            response_key="pdd_waybill_get_response"))
        return _module(answer.get("modules"), request, self.provider)


class DouyinWaybills(_PlatformWaybills):
    provider = "douyin"

    def issue(self, request: WaybillRequest) -> IssuedWaybill:
        s, r, c = request.sender, request.receiver, request.cipher
        business = {
            "sender_info": {"address": {"country_code": "CHN", "province_name": s.province, "city_name": s.city,
                                        "district_name": s.district, "detail_address": s.address},
                            "contact": {"name": s.name, "mobile": s.phone}},
            "logistics_code": request.carrier_code,
            "order_infos": [{
                "order_id": request.order_id, "pack_id": request.request_id,
                "receiver_info": {"address": {"country_code": "CHN", "province_name": r.province, "city_name": r.city,
                                              "district_name": r.district,
                                              "detail_address": c.get("address", r.address)},
                                  "contact": {"name": c.get("name", r.name), "mobile": c.get("phone", r.phone)}},
                "items": [{"item_name": i.title, "item_count": i.qty} for i in request.items],
            }],
        }
        data = self.guarded(lambda: self.client.call("logistics.newCreateOrder", business)) or {}
        for err in data.get("err_infos") or []:
            if str(err.get("pack_id")) == request.request_id or str(err.get("order_id")) == request.order_id:
                raise WaybillRefused(self.provider, str(err.get("err_code")), str(err.get("err_msg")))
        for info in data.get("ebill_infos") or []:
            if str(info.get("pack_id")) == request.request_id and info.get("track_no"):
                number = str(info["track_no"])
                return IssuedWaybill(tracking_no=number, print_data=self.print_data(request.carrier_code, number),
                                     detail={k: info[k] for k in ("sort_code", "company") if info.get(k)})
        raise WaybillRefused(self.provider, "no_ebill", "平台未返回该订单的面单号")

    def print_data(self, code: str, number: str) -> str | None:
        """The encrypted print data of an issued number (``logistics.waybillApply``), which
        the Doudian print component takes; None when the platform gives none."""
        data = self.guarded(lambda: self.client.call("logistics.waybillApply", {
            "waybill_applies": [{"logistics_code": code, "track_no": number}]})) or {}
        for info in data.get("waybill_infos") or []:
            if str(info.get("track_no")) == number and info.get("print_data"):
                return json.dumps({"print_data": info["print_data"], "sign": info.get("sign", "")},
                                  separators=(",", ":"))
        return None


class KuaishouWaybills(_PlatformWaybills):
    provider = "kuaishou"

    def issue(self, request: WaybillRequest) -> IssuedWaybill:
        s, r, c = request.sender, request.receiver, request.cipher
        item = {
            "packageCode": request.request_id, "tradeOrderCode": request.order_id, "totalPackageQuantity": 1,
            "expressCompanyCode": request.carrier_code, "payMethod": 1,
            "senderContract": {"name": s.name, "mobile": s.phone},
            "senderAddress": {"provinceName": s.province, "cityName": s.city, "districtName": s.district,
                              "detailAddress": s.address},
            "receiverContract": {"name": c.get("name", r.name), "mobile": c.get("phone", r.phone)},
            "receiverAddress": {"provinceName": r.province, "cityName": r.city, "districtName": r.district,
                                "detailAddress": c.get("address", r.address)},
            "itemList": [{"itemTitle": i.title, "itemQuantity": i.qty} for i in request.items],
        }
        data = self.guarded(lambda: self.client.call("open.express.ebill.get", {"getEbillOrderRequest": [item]},
                                                     http_method="POST")) or []
        for row in data:
            if str(row.get("requestId")) != request.request_id:
                continue
            if row.get("waybillCode"):
                return IssuedWaybill(tracking_no=str(row["waybillCode"]), print_data=row.get("printData"))
            raise WaybillRefused(self.provider, str(row.get("errorCode") or "?"),
                                 str(row.get("errorMsg") or "取号失败"))
        raise WaybillRefused(self.provider, "no_ebill", "平台未返回该订单的面单号")


class XiaohongshuWaybills(_PlatformWaybills):
    provider = "xiaohongshu"

    def issue(self, request: WaybillRequest) -> IssuedWaybill:
        s, r = request.sender, request.receiver
        params = {
            "cpCode": request.carrier_code, "sellerName": "OrderPulse", "branchCode": "", "customerCode": "",
            "billVersion": 2,
            "sender": {"name": s.name, "mobile": s.phone,
                       "address": {"province": s.province, "city": s.city, "district": s.district,
                                   "detail": s.address}},
            "tradeOrderInfoList": [{
                "objectId": request.request_id, "templateId": 1,
                "orderInfo": {"orderChannelsType": "XIAO_HONG_SHU", "tradeOrderList": [request.order_id],
                              "xhsOrderId": request.order_id},
                "packageInfo": {"id": request.request_id,
                                "items": [{"name": i.title, "count": i.qty} for i in request.items]},
                "recipient": {"openAddressId": request.cipher.get("oaid", ""), "name": r.name, "mobile": r.phone,
                              "address": {"province": r.province, "city": r.city, "district": r.district}},
            }],
        }
        data = self.guarded(lambda: self.client.call("express.createEbillOrders", params)) or {}
        for bill in data.get("wayBillList") or []:
            if str(bill.get("objectId")) != request.request_id:
                continue
            if bill.get("success") is not False and bill.get("waybillCode"):
                return IssuedWaybill(tracking_no=str(bill["waybillCode"]), print_data=bill.get("printData"))
            raise WaybillRefused(self.provider, str(bill.get("errorCode") or "?"),
                                 str(bill.get("errorMsg") or "取号失败"))
        raise WaybillRefused(self.provider, "no_ebill", "平台未返回该订单的面单号")


PLATFORM_WAYBILLS: dict[str, type[_PlatformWaybills]] = {
    "taobao": TaobaoWaybills, "pdd": PddWaybills, "douyin": DouyinWaybills, "kuaishou": KuaishouWaybills,
    "xiaohongshu": XiaohongshuWaybills,
}
