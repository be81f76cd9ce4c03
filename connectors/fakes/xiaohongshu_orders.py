"""The order side of the fake Xiaohongshu (小红书 Ark) platform: the shop's scenario rendered
as Xiaohongshu orders behind ``order.getOrderList``, ``order.getOrderDetail``,
``order.getOrderReceiverInfo`` and ``data.batchDesensitise``, and pushes signed as the
platform's "041 应用消息推送" says (see :mod:`connectors.xiaohongshu_orders` for the shapes).
Mixed into :class:`connectors.fakes.xiaohongshu_stock.FakeXiaohongshuStock`, whose signature
checks run first.

Rendering: ``orderId`` ``P`` + 18 digits; ``orderStatus`` 1 待付款, 4 待发货, 6 待收货 (shipped and
delivered), 7 已完成, 9 已取消 (before payment) or 8 已关闭 (after); ``orderAfterSalesStatus`` 1
none, 2 in progress, 3 done, 5 closed; amounts in fen (``totalPayAmount`` incl. freight
``totalShippingFree``; ``totalRedDiscount`` the platform's share, ``totalMerchantDiscount``
the shop's, split over the lines as the scenario splits them); times in ms; ``skuList`` with
``erpcode`` = the merchant code. The detail has the region but null receiver name, phone and
address, and an ``openAddressId``; the receiver API gives ciphertext for paid orders only, and
``data.batchDesensitise`` the masked forms of such ciphertext.

Listing checks: ``timeType`` 1 spans at most 24 h, 2 at most 30 minutes (``error_code`` 3
``时间范围超限``), ``pageNo`` and ``pageSize`` at most 100 (4); orders newest first, so paging from
the last page never skips an order that changes meanwhile. Over ``order_rate_limit``: HTTP 429
``请求过于频繁，触发限流``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectors.fakes.order_scenario import (
    AWAITING_SHIPMENT,
    CANCELLED,
    COMPLETED,
    DELIVERED,
    PENDING_PAYMENT,
    REFUND_CLOSED,
    REFUND_SUCCESS,
    SHIPPED,
    ScenarioOrder,
    split_by_amount,
)
from connectors.fakes.order_shop import OrderShop, PushSender, cipher, decipher, mask_name, mask_phone
from connectors.fakes.order_shop import epoch_ms as ms

ORDER_ID_BASE = 760_000_000_000_000_000
STATUS = {PENDING_PAYMENT: 1, AWAITING_SHIPMENT: 4, SHIPPED: 6, DELIVERED: 6, COMPLETED: 7}
RANGE_TOO_WIDE, BAD_PAGE, UNKNOWN_ORDER, BAD_PARAM = 3, 4, 5, 6
DELIVER_REFUSED = 7  # this fake's error_code for a refused shipment (the platform's is not documented)
# expressCompanyCode of common.getExpressCompanyList for the companies this fake shop may use
COMPANIES = {"shunfeng": "顺丰速运", "zhongtong": "中通快递", "yuantong": "圆通速递", "yunda": "韵达快递",
             "shentong": "申通快递", "jtexpress": "极兔速递", "jd": "京东快递", "ems": "EMS",
             "youzhengguonei": "邮政快递包裹", "debangkuaidi": "德邦快递", "selfdelivery": "无需物流"}
LIST_FIELDS = ("orderId", "orderType", "orderStatus", "orderAfterSalesStatus", "cancelStatus", "createdTime",
               "paidTime", "updateTime", "deliveryTime", "cancelTime", "finishTime", "promiseLastDeliveryTime",
               "receiverCountryName", "receiverProvinceName", "receiverCityName", "receiverDistrictName",
               "customerRemark", "sellerRemark", "sellerRemarkFlag", "logistics")


def order_id_of(order: ScenarioOrder) -> str:
    return f"P{ORDER_ID_BASE + order.number}"


def number_of(order_id: Any) -> int | None:
    text = str(order_id or "")
    return int(text[1:]) - ORDER_ID_BASE if text.startswith("P") and text[1:].isdigit() else None


def _fail(code: int, message: str) -> dict[str, Any]:
    return {"success": False, "error_code": code, "error_msg": message, "data": None}


def _ok(data: Any) -> dict[str, Any]:
    return {"success": True, "error_code": 0, "error_msg": "", "data": data}


def push_sign(url: str, app_key: str, timestamp: str, app_secret: str) -> str:
    """The platform's sign of a push to ``url`` (written from the 041 text, apart from the client's)."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    params.update({"app-key": app_key, "timestamp": timestamp})
    text = parts.path + "?" + "&".join(f"{k}={v}" for k, v in sorted(params.items())) + app_secret
    return hashlib.md5(text.encode()).hexdigest()


class XiaohongshuOrderShop(OrderShop):
    """The order calls and pushes of the fake Xiaohongshu gateway (mixed into ``FakeXiaohongshuStock``)."""

    app_key: str
    app_secret: str
    _lock: threading.Lock

    def setup_push(self) -> None:
        self.push = PushSender(self.push_headers)
        self.scenario.on_change(self._announce)

    def push_headers(self, body: bytes) -> dict[str, str]:
        """The headers of a push to the current push URL (the body is not signed)."""
        timestamp = str(int(self.now()))
        return {"Content-Type": "application/json;charset=utf-8", "app-key": self.app_key, "timestamp": timestamp,
                "sign": push_sign(self.push.url or "/", self.app_key, timestamp, self.app_secret)}

    def _announce(self, order: ScenarioOrder, event: str) -> None:
        for message in self.push_messages(order, event):
            self.push.send(message)

    # --- rendering -----------------------------------------------------------------------------

    def open_address_id(self, order: ScenarioOrder) -> str:
        b = order.buyer
        return hashlib.sha1(f"{b.name}|{b.phone}|{b.address}".encode()).hexdigest()[:20]

    def render(self, order: ScenarioOrder) -> dict[str, Any]:
        buyer = order.buyer
        if order.status == CANCELLED:
            status = 8 if order.paid_at else 9
        else:
            status = STATUS[order.status]
            if order.status == AWAITING_SHIPMENT and order.parcels:
                status = 5  # 部分发货
        red = split_by_amount(order.platform_discount, [line.amount for line in order.lines])
        refunds = {r.line_no: r for r in order.refunds}
        skus = []
        for line, red_share in zip(order.lines, red, strict=True):
            refund = refunds.get(line.line_no)
            sku_id = self._sku_id(line.sku_code)
            skus.append({
                "skuId": sku_id, "skuName": line.title, "erpcode": line.sku_code, "skuSpec": "", "skuImage": None,
                "skuQuantity": line.qty, "totalPaidAmount": line.paid_amount, "totalRedDiscount": red_share,
                "totalMerchantDiscount": line.discount - red_share, "totalTaxAmount": 0, "skuTag": 0,
                "isChannel": False, "skuAfterSaleStatus": _after_sale(refund.status) if refund else 1,
                "itemId": sku_id[:16] + "0" * 8, "itemName": line.title,
                "skuDetailList": [{"skuId": sku_id, "erpCode": line.sku_code, "quantity": line.qty,
                                   "skuName": line.title, "pricePerSku": line.unit_price,
                                   "rawPricePerSku": line.unit_price,
                                   "paidAmountPerSku": line.paid_amount // line.qty}],
            })
        open_refunds = [r for r in order.refunds if r.status not in (REFUND_SUCCESS, REFUND_CLOSED)]
        if open_refunds:
            after_sales = 2
        elif order.refunds:
            after_sales = _after_sale(order.refunds[-1].status)
        else:
            after_sales = 1
        courier = order.courier
        return {
            "orderId": order_id_of(order), "orderType": 1, "orderStatus": status,
            "orderAfterSalesStatus": after_sales, "cancelStatus": 0, "createdTime": ms(order.created_at),
            "paidTime": ms(order.paid_at), "updateTime": ms(order.updated_at), "deliveryTime": ms(order.shipped_at),
            "cancelTime": ms(order.cancelled_at), "finishTime": ms(order.completed_at),
            "promiseLastDeliveryTime": ms(order.promised_ship_at), "planInfoId": "601a0000fb49",
            "planInfoName": "包邮-默认模板", "receiverCountryName": "中国", "receiverProvinceName": buyer.province,
            "receiverCityName": buyer.city, "receiverDistrictName": buyer.district,
            "customerRemark": order.buyer_message, "sellerRemark": "", "sellerRemarkFlag": 0, "skuList": skus,
            "totalPayAmount": order.paid_amount, "totalShippingFree": order.freight,
            "totalRedDiscount": order.platform_discount, "totalMerchantDiscount": order.seller_discount,
            "merchantActualReceiveAmount": order.paid_amount + order.platform_discount, "totalDepositAmount": 0,
            "totalChangePriceAmount": 0, "unpack": False, "expressTrackingNo": courier[2] if courier else "",
            "expressCompanyCode": courier[0].lower() if courier else "", "receiverName": None,
            "receiverPhone": None, "receiverAddress": None, "openAddressId": self.open_address_id(order),
            "logistics": "red_auto", "paymentType": 2 if order.paid_at else -1, "shopId": "shop-fake-xhs",
            "userId": buyer.open_id, "orderTagList": [],
        }

    def _sku_id(self, code: str) -> str:
        sku = self.catalogue.get(code)
        if sku is not None and sku.sku_id:
            return str(sku.sku_id)
        return "66ee733f265f5b" + hashlib.sha1(code.encode()).hexdigest()[:10]

    # --- the calls -----------------------------------------------------------------------------

    def order_answer(self, method: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """The answer to an order method, or None when ``method`` is not one."""
        handlers = {"order.getOrderList": self._order_list,
                    "order.getOrderDetail": self._order_detail,
                    "order.getOrderReceiverInfo": self._order_receivers,
                    "data.batchDesensitise": self._order_desensitise,
                    "order.orderDeliver": self._order_deliver}
        handler = handlers.get(method)
        if handler is None:
            return None
        if not self.order_call_allowed(self.now()):
            return 429, _fail(429, "请求过于频繁，触发限流")
        return 200, handler(body)

    def _order_list(self, body: Mapping[str, Any]) -> dict[str, Any]:
        start, end, kind = body.get("startTime"), body.get("endTime"), body.get("timeType")
        if not isinstance(start, int) or not isinstance(end, int) or end < start or kind not in (1, 2):
            return _fail(BAD_PARAM, "startTime/endTime/timeType 不合法")
        if end - start > (86400 if kind == 1 else 1800):
            return _fail(RANGE_TOO_WIDE, "时间范围超限")
        page, size = body.get("pageNo", 1), body.get("pageSize", 50)
        if not isinstance(page, int) or not isinstance(size, int) or not 1 <= page <= 100 or not 1 <= size <= 100:
            return _fail(BAD_PAGE, "pageNo、pageSize 须在 1..100")
        key = "createdTime" if kind == 1 else "updateTime"
        rows = [self.render(o) for o in self.scenario.orders()]
        rows = [r for r in rows if start * 1000 <= r[key] < end * 1000]
        rows.sort(key=lambda r: (r[key], r["orderId"]), reverse=True)
        size = self.page_size(size)
        chunk = rows[(page - 1) * size:page * size]
        return _ok({"total": len(rows), "pageNo": page, "pageSize": size, "maxPageNo": -(-len(rows) // size),
                    "orderList": [{k: r[k] for k in LIST_FIELDS} for r in chunk]})

    def _order_detail(self, body: Mapping[str, Any]) -> dict[str, Any]:
        number = number_of(body.get("orderId"))
        order = self.scenario.get(number) if number else None
        return _ok(self.render(order)) if order else _fail(UNKNOWN_ORDER, "订单不存在")

    def _order_deliver(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``order.orderDeliver``: ``orderId``, ``expressNo``, ``expressCompanyCode`` required;
        ``unpack`` with ``skuIdList`` ships those SKUs only. Refused (``success`` false,
        :data:`DELIVER_REFUSED`) for an unknown company or an order not 待发货/部分发货."""
        number = number_of(body.get("orderId"))
        order = self.scenario.get(number) if number else None
        if order is None:
            return _fail(UNKNOWN_ORDER, "订单不存在")
        express_no, company = body.get("expressNo"), body.get("expressCompanyCode")
        if not isinstance(express_no, str) or not express_no or not isinstance(company, str) or not company:
            return _fail(BAD_PARAM, "expressNo、expressCompanyCode 必填")
        if company not in COMPANIES:
            return _fail(DELIVER_REFUSED, f"快递公司编码 {company} 不存在")
        if order.status != AWAITING_SHIPMENT:
            return _fail(DELIVER_REFUSED, "订单状态不允许发货")
        line_nos = None
        if body.get("unpack") is True:
            by_sku = {self._sku_id(line.sku_code): line.line_no for line in order.lines}
            wanted = body.get("skuIdList")
            if not isinstance(wanted, list) or not wanted or any(str(w) not in by_sku for w in wanted):
                return _fail(BAD_PARAM, "skuIdList 不是本订单的规格")
            line_nos = [by_sku[str(w)] for w in wanted]
        self.scenario.ship_parcel(order.number, company, COMPANIES[company], express_no, line_nos)
        self.accept({"method": "order.orderDeliver", "order_id": order_id_of(order), "company_code": company,
                     "tracking_no": express_no, "lines": line_nos})
        return _ok(None)

    def _order_receivers(self, body: Mapping[str, Any]) -> dict[str, Any]:
        queries = body.get("receiverQueries")
        if not isinstance(queries, list) or not isinstance(body.get("isReturn"), bool):
            return _fail(BAD_PARAM, "receiverQueries、isReturn 必填")
        infos = []
        for query in queries:
            number = number_of(query.get("orderId") if isinstance(query, dict) else None)
            order = self.scenario.get(number) if number else None
            if order is None or order.status == PENDING_PAYMENT or (order.status == CANCELLED and not order.paid_at):
                continue  # the platform gives the receiver of paid orders only
            b = order.buyer
            matched = query.get("openAddressId") == self.open_address_id(order)
            infos.append({"orderId": order_id_of(order), "matched": matched,
                          **({"receiverProvinceName": b.province, "receiverCityName": b.city,
                              "receiverDistrictName": b.district, "receiverTownName": "",
                              "receiverName": cipher(b.name, "xiaohongshu"),
                              "receiverPhone": cipher(b.phone, "xiaohongshu"),
                              "receiverAddress": cipher(b.street, "xiaohongshu")} if matched else {})})
        return _ok({"receiverInfos": infos})

    def _order_desensitise(self, body: Mapping[str, Any]) -> dict[str, Any]:
        infos = body.get("baseInfos")
        if not isinstance(infos, list) or len(infos) > 100 or not body.get("actionType") or not body.get("appUserId"):
            return _fail(BAD_PARAM, "baseInfos（上限100条）、actionType、appUserId 必填")
        out = []
        for info in infos:
            sealed = str(info.get("encryptedData") or "") if isinstance(info, dict) else ""
            try:
                plain = decipher(sealed)
            except ValueError:
                out.append({"dataTag": info.get("dataTag"), "encryptedData": sealed, "errorCode": -1,
                            "errorMsg": "密文不合法"})
                continue
            out.append({"dataTag": info.get("dataTag"), "encryptedData": sealed, "desensitisedData": _masked(plain)})
        return _ok({"desensitiseInfoList": out})

    # --- pushes --------------------------------------------------------------------------------

    def push_messages(self, order: ScenarioOrder, event: str) -> list[list[dict[str, Any]]]:
        """The JSON arrays the platform posts for a change."""
        oid = order_id_of(order)
        if event == "refund_requested":
            refund = order.refunds[-1]
            tag, data = "msg_after_sale_create", {"returnsId": f"R{7_000_000_000 + refund.refund_no}",
                                                  "orderId": oid, "updateTime": ms(refund.updated_at)}
        elif event.startswith("refund_"):
            return []
        else:
            status = self.render(order)["orderStatus"]
            tag, data = "msg_fulfillment_status_change", {"orderId": oid, "orderStatus": status,
                                                           "updateTime": ms(order.updated_at)}
        return [[{"msgTag": tag, "sellerId": "shop-fake-xhs", "data": json.dumps(data, separators=(",", ":"))}]]

    page_size: Callable[[int], int]  # the catalogue fake's


def _after_sale(status: str) -> int:
    return {"requested": 2, "agreed": 2, "success": 3, "closed": 5}[status]


def _masked(plain: str) -> str:
    if plain.isdigit():
        return mask_phone(plain)
    if len(plain) <= 4:
        return mask_name(plain)
    return plain[:3] + "****"

