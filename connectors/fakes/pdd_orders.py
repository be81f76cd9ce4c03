"""The order calls of the fake 拼多多 POP router (:class:`connectors.fakes.pdd_stock.FakePddStock`
serves them next to stock, with the same signature, client id and token checks):

- ``pdd.order.number.list.increment.get``: ``start_updated_at``, ``end_updated_at`` (unix
  seconds, both ends included, at most 30 minutes apart — PDD's documented span; otherwise
  10000 参数错误), ``order_status`` and ``refund_status`` (5 = all), ``page`` from 1,
  ``page_size`` 1–100; answer root ``order_sn_increment_get_response{total_count, has_next,
  order_sn_list[]}``, most recently updated first. Only 成交 (paid) orders are listed.
- ``pdd.order.information.get``: ``order_sn`` → ``order_info_get_response.order_info``.
  Amounts are yuan numbers, times ``yyyy-MM-dd HH:mm:ss`` GMT+8; receiver name, phone and
  address come as ciphertext (the address only while the order awaits shipment, else empty,
  as PDD does) with their ``*_mask`` forms. An unknown order is 50001 业务服务错误.

- ``pdd.refund.list.increment.get`` (售后列表增量查询): ``after_sales_status`` (1 = all, else one
  status), ``after_sales_type`` (1 = all, 2 仅退款, 3 退货退款), ``start_updated_at``,
  ``end_updated_at`` (required, unix seconds, at most 30 minutes apart), ``page``, ``page_size``
  1–100; with ``order_sn`` every after-sales of that order, the other conditions ignored (the
  required ones still required), as PDD documents it. Answer root ``refund_increment_get_response
  {total_count, refund_list[]}``; a row: ``id`` (售后编号), ``order_sn``, ``after_sales_type``,
  ``after_sales_status`` (2/3 待商家处理, 4/7 商家已同意, 10 退款成功, 11 买家撤销),
  ``after_sale_reason`` (the buyer's reason in PDD's words, :data:`REFUND_REASONS`),
  ``refund_amount``/``order_amount``/``goods_price`` (yuan text), ``goods_id``, ``sku_id``,
  ``outer_id``, ``goods_number``, ``created_time``/``updated_time``/``confirm_time``
  (``yyyy-MM-dd HH:mm:ss`` GMT+8). The order's ``after_sales_status`` is its latest after-sales'
  status (0 without one).

Over the order-call limit (``limit_orders``) the answer is 52101 接口被限流.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.fakes.order_scenario import (
    AWAITING_SHIPMENT,
    CANCELLED,
    COMPLETED,
    DELIVERED,
    REFUND_AGREED,
    REFUND_CLOSED,
    REFUND_REQUESTED,
    REFUND_SUCCESS,
    SHIPPED,
    Refund,
    ScenarioOrder,
)
from connectors.fakes.order_shop import (
    OrderShop,
    cipher,
    mask_name,
    mask_phone,
    mask_street,
    shanghai_text,
)
from connectors.fakes.pdd_protocol import PddError, number

SHANGHAI = ZoneInfo("Asia/Shanghai")
SN_BASE = 500_000_000_000_000
MAX_WINDOW = timedelta(minutes=30)
ORDER_STATUS = {AWAITING_SHIPMENT: 1, SHIPPED: 2, DELIVERED: 3, COMPLETED: 3}
LOGISTICS_IDS = {"ZTO": 115, "YTO": 85, "STO": 1, "YUNDA": 121, "SF": 44, "JD": 120}
RESPONSE_KEYS = {"pdd.order.number.list.increment.get": "order_sn_increment_get_response",
                 "pdd.order.information.get": "order_info_get_response",
                 "pdd.logistics.online.send": "logistics_online_send_response",
                 "pdd.refund.list.increment.get": "refund_increment_get_response"}
REFUND_BASE = 7_000_000_000
# the reasons a PDD buyer picks, for each standard return reason of the scenario
REFUND_REASONS = {
    "fabric_issue": "材质与商品描述不符", "fabric_pilling": "质量问题（起球）", "size_mismatch": "尺码不合适",
    "color_difference": "颜色/款式与商品描述不符", "workmanship_defect": "做工问题",
    "not_as_described": "商品与描述不符", "damaged_in_transit": "商品破损/包装破损", "wrong_item": "发错货",
    "missing_item": "少件/漏发", "late_shipment": "未按约定时间发货", "seven_day_no_reason": "七天无理由退货",
    "ordered_by_mistake": "多拍/拍错/不想要",
}
# after_sales_type: 2 仅退款 (before shipment), 3 退货退款 (after)
REFUND_ONLY, RETURN_REFUND = 2, 3
# logistics_id of pdd.logistics.companies.get for the companies this fake shop may use
COMPANIES = {44: "顺丰速运", 115: "中通快递", 85: "圆通速递", 121: "韵达快递", 1: "申通快递", 384: "极兔速递",
             120: "京东快递", 118: "EMS", 132: "邮政快递包裹", 131: "德邦快递", 3: "宅急送"}


def yuan_number(fen: int) -> float | int:
    """A yuan amount as PDD's JSON number (``228.8``); whole yuan stay integers. Only for
    writing JSON: ``fen / 100`` prints as the exact two-decimal figure."""
    return fen // 100 if fen % 100 == 0 else fen / 100



def yuan_text(fen: int) -> str:
    """A yuan amount as the refund list writes it (``"128.50"``)."""
    return f"{fen // 100}.{fen % 100:02d}"


def after_sales_status(refund: Refund, shipped: bool) -> int:
    """PDD's detailed after-sales status of a refund."""
    if refund.status == REFUND_REQUESTED:
        return 3 if shipped else 2
    if refund.status == REFUND_AGREED:
        return 7 if shipped else 4
    return {REFUND_SUCCESS: 10, REFUND_CLOSED: 11}.get(refund.status, 2)


def logistics_id_of(code: str) -> int:
    """The logistics_id of a courier the scenario shipped with (its own code, or the id
    itself when the seller shipped through ``pdd.logistics.online.send``)."""
    return int(code) if code.isdigit() else LOGISTICS_IDS.get(code, 0)


def order_sn(order: ScenarioOrder) -> str:
    return f"{order.created_at.astimezone(SHANGHAI):%y%m%d}-{SN_BASE + order.number}"


def number_of(sn: str) -> int | None:
    _, _, tail = sn.partition("-")
    return int(tail) - SN_BASE if tail.isdigit() and int(tail) > SN_BASE else None


def region_id(name: str) -> int:
    """A stable number for a region name (PDD's own region ids are not public)."""
    return zlib.crc32(name.encode("utf-8")) % 100_000


class PddOrderShop(OrderShop):
    """The order half of the fake POP router (mixed into ``FakePddStock``)."""

    def render_order(self, order: ScenarioOrder) -> dict[str, Any]:
        buyer = order.buyer
        refunds = order.refunds
        refunded_lines = {r.line_no for r in refunds if r.status == REFUND_SUCCESS}
        open_refund = any(r.status in (REFUND_REQUESTED, REFUND_AGREED) for r in refunds)
        all_refunded = bool(order.lines) and refunded_lines >= {x.line_no for x in order.lines}
        shipped_before = order.shipped_at is not None
        status = ORDER_STATUS.get(order.status, 2 if shipped_before else 1)
        masked_address = mask_street(buyer.street)
        items = []
        for line in order.lines:
            goods_id, sku_id = self.ids_for(line.sku_code)
            items.append({"goods_id": goods_id, "sku_id": sku_id, "goods_name": line.title, "goods_spec": "",
                          "goods_count": line.qty, "goods_price": yuan_number(line.unit_price),
                          "outer_id": line.sku_code, "outer_goods_id": line.sku_code.rsplit("-", 1)[0],
                          "goods_img": ""})
        return {
            "order_sn": order_sn(order), "order_status": status,
            "refund_status": 4 if all_refunded else (2 if open_refund else 1),
            "after_sales_status": after_sales_status(refunds[-1], shipped_before) if refunds else 0,
            "confirm_status": 2 if order.status == CANCELLED and not order.paid_at else (1 if order.paid_at else 0),
            "risk_control_status": 0, "trade_type": 0, "is_stock_out": 0,
            "created_time": shanghai_text(order.created_at), "confirm_time": shanghai_text(order.paid_at),
            "pay_time": shanghai_text(order.paid_at), "shipping_time": shanghai_text(order.shipped_at),
            "receive_time": shanghai_text(order.delivered_at), "updated_at": shanghai_text(order.updated_at),
            "last_ship_time": shanghai_text(order.promised_ship_at), "promise_delivery_time": "",
            "goods_amount": yuan_number(order.goods_amount), "discount_amount": yuan_number(order.discount),
            "seller_discount": yuan_number(order.seller_discount),
            "platform_discount": yuan_number(order.platform_discount), "capital_free_discount": 0,
            "order_change_amount": 0, "postage": yuan_number(order.freight),
            "pay_amount": yuan_number(order.paid_amount), "pay_type": "WEIXIN",
            "receiver_name": cipher(buyer.name, "pdd"), "receiver_name_mask": mask_name(buyer.name),
            "receiver_phone": cipher(buyer.phone, "pdd_phone"), "receiver_phone_mask": mask_phone(buyer.phone),
            "receiver_address": cipher(buyer.street, "pdd") if order.status == AWAITING_SHIPMENT else "",
            "receiver_address_mask": f"{buyer.district}{masked_address}",
            "address": cipher(buyer.address, "pdd"),
            "address_mask": f"{buyer.province}{buyer.city}{buyer.district}{masked_address}",
            "country": "中国", "province": buyer.province, "city": buyer.city, "town": buyer.district,
            "province_id": region_id(buyer.province), "city_id": region_id(buyer.province + buyer.city),
            "town_id": region_id(buyer.province + buyer.city + buyer.district),
            "buyer_memo": order.buyer_message, "remark": "",
            "tracking_number": order.courier[2] if order.courier else "",
            "logistics_id": logistics_id_of(order.courier[0]) if order.courier else 0,
            "item_list": items,
        }

    def increment_get(self, params: dict[str, str]) -> dict[str, Any]:
        for key in ("start_updated_at", "end_updated_at"):
            if not params.get(key):
                raise PddError(21002, "请求参数不能为空", f"{key} 不能为空")
        start, end = number(params, "start_updated_at", 0), number(params, "end_updated_at", 0)
        if end < start or end - start > MAX_WINDOW.total_seconds():
            raise PddError(10000, "参数错误", "开始时间与结束时间间隔不能超过30分钟")
        page, page_size = number(params, "page", 1), number(params, "page_size", 100)
        if page < 1 or not 1 <= page_size <= 100:
            raise PddError(10000, "参数错误", "page_size 取值 1–100")
        found = [o for o in self.scenario.modified_between(datetime.fromtimestamp(start, SHANGHAI),
                                                           datetime.fromtimestamp(end + 1, SHANGHAI)) if o.paid_at]
        size = self.page_size(page_size)
        rows = found[(page - 1) * size:page * size]
        return {"total_count": len(found), "has_next": page * size < len(found),
                "order_sn_list": [self.render_order(o) for o in rows]}

    def information_get(self, params: dict[str, str]) -> dict[str, Any]:
        if not params.get("order_sn"):
            raise PddError(21002, "请求参数不能为空", "order_sn 不能为空")
        number = number_of(params["order_sn"])
        order = self.scenario.get(number) if number else None
        if order is None or order_sn(order) != params["order_sn"]:
            raise PddError(50001, "业务服务错误", "订单不存在")
        return {"order_info": self.render_order(order)}

    def online_send(self, params: dict[str, str]) -> dict[str, Any]:
        """``pdd.logistics.online.send``: ``order_sn``, ``logistics_id``, ``tracking_number`` (all
        required); only an order awaiting shipment ships (``redelivery_type`` 2, changing a
        shipped order's waybill, is not served). Business refusals are 50000-range codes
        (their numbers are this fake's)."""
        for key in ("order_sn", "logistics_id", "tracking_number"):
            if not params.get(key):
                raise PddError(21002, "请求参数不能为空", f"{key} 不能为空")
        found = number_of(params["order_sn"])
        order = self.scenario.get(found) if found else None
        if order is None or order_sn(order) != params["order_sn"]:
            raise PddError(50001, "业务服务错误", "订单不存在")
        logistics_id = number(params, "logistics_id", 0)
        if logistics_id not in COMPANIES:
            raise PddError(50002, "业务服务错误", f"快递公司 logistics_id={logistics_id} 不存在")
        if order.status != AWAITING_SHIPMENT:
            raise PddError(50003, "业务服务错误", "订单状态不是待发货，不能发货")
        self.scenario.ship_parcel(order.number, logistics_id, COMPANIES[logistics_id], params["tracking_number"])
        self.accept({"method": "pdd.logistics.online.send", "order_id": params["order_sn"],
                     "company_code": logistics_id, "tracking_no": params["tracking_number"]})
        return {"is_success": True}

    def render_refund(self, order: ScenarioOrder, refund: Refund) -> dict[str, Any]:
        line = next(x for x in order.lines if x.line_no == refund.line_no)
        goods_id, sku_id = self.ids_for(line.sku_code)
        shipped = order.shipped_at is not None and order.shipped_at <= refund.created_at
        return {
            "id": REFUND_BASE + refund.refund_no, "order_sn": order_sn(order),
            "after_sales_type": RETURN_REFUND if shipped else REFUND_ONLY,
            "after_sales_status": after_sales_status(refund, shipped),
            "after_sale_reason": REFUND_REASONS.get(refund.reason_code, refund.reason),
            "confirm_time": shanghai_text(order.paid_at), "created_time": shanghai_text(refund.created_at),
            "updated_time": shanghai_text(refund.updated_at),
            "order_amount": yuan_text(order.paid_amount), "discount_amount": yuan_text(order.discount),
            "refund_amount": yuan_text(refund.amount), "goods_price": yuan_text(line.unit_price),
            "goods_id": goods_id, "goods_name": line.title, "goods_number": str(line.qty), "sku_id": str(sku_id),
            "outer_id": line.sku_code, "outer_goods_id": line.sku_code.rsplit("-", 1)[0], "good_image": "",
            "tracking_number": order.courier[2] if order.courier else "", "speed_refund_flag": 0,
            "speed_refund_status": "",
        }

    def refund_increment_get(self, params: dict[str, str]) -> dict[str, Any]:
        for key in ("after_sales_status", "after_sales_type", "start_updated_at", "end_updated_at"):
            if not params.get(key):
                raise PddError(21002, "请求参数不能为空", f"{key} 不能为空")
        page, page_size = number(params, "page", 1), number(params, "page_size", 100)
        if page < 1 or not 1 <= page_size <= 100:
            raise PddError(10000, "参数错误", "page_size 取值 1–100")
        if params.get("order_sn"):  # every after-sales of the order; the other conditions do not apply
            found = number_of(params["order_sn"])
            order = self.scenario.get(found) if found else None
            if order is None or order_sn(order) != params["order_sn"]:
                raise PddError(50001, "业务服务错误", "订单不存在")
            rows = [self.render_refund(order, r) for r in order.refunds]
        else:
            start, end = number(params, "start_updated_at", 0), number(params, "end_updated_at", 0)
            if end < start or end - start > MAX_WINDOW.total_seconds():
                raise PddError(10000, "参数错误", "开始时间与结束时间间隔不能超过30分钟")
            since, until = datetime.fromtimestamp(start, SHANGHAI), datetime.fromtimestamp(end + 1, SHANGHAI)
            status, kind = number(params, "after_sales_status", 1), number(params, "after_sales_type", 1)
            rows = [self.render_refund(o, r) for o in self.scenario.modified_between(since, until)
                    for r in o.refunds if since <= r.updated_at < until]
            rows = [r for r in rows if (status == 1 or r["after_sales_status"] == status)
                    and (kind == 1 or r["after_sales_type"] == kind)]
        size = self.page_size(page_size)
        return {"total_count": len(rows), "refund_list": rows[(page - 1) * size:page * size]}

    def throttled(self) -> Exception:
        return PddError(52101, "当前接口被限流，请稍后重试", "接口被限流")
