"""The order calls of the fake 天猫/淘宝 TOP router (:class:`connectors.fakes.taobao_stock.
FakeTaobaoStock` serves them next to stock, with the same signature and session checks):

- ``taobao.trades.sold.increment.get``: ``fields``, ``start_modified`` and ``end_modified``
  (``yyyy-MM-dd HH:mm:ss`` GMT+8, both ends included, at most one day apart, else 41),
  ``page_no`` from 1, ``page_size`` 1–100 (default 40); trades modified in the window, most
  recently modified first, as ``trades{trade[]}`` with the asked fields, ``total_results``
  and ``has_next``.
- ``taobao.trade.fullinfo.get``: ``fields``, ``tid`` → ``trade``, not simplified (lists
  wrapped: ``orders{order[]}``), amounts as yuan strings, times GMT+8 text; receiver name,
  mobile and street masked as TOP gives them, ``oaid`` for decryption; a sub-order under refund
  carries ``refund_id`` and ``refund_status``. An unknown tid is code 15 ``isv.trade-not-exist``.
- ``taobao.refund.get``: ``fields``, ``refund_id`` → ``refund{refund_id, tid, oid, refund_fee
  (yuan), reason (the buyer's reason in Taobao's words, :data:`REFUND_REASONS`), status,
  created, modified}``; an unknown refund is code 15 ``isv.refund-not-exist``.

Over the order-call limit (``limit_orders``) the answer is code 7 ``accesscontrol.limited-by-
api-access-count`` with ``This ban will last for 1 more seconds``. The shop's orders come from
its :class:`~connectors.fakes.order_scenario.OrderScenario` (``scenario``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.fakes.order_scenario import (
    AWAITING_SHIPMENT,
    CANCELLED,
    COMPLETED,
    DELIVERED,
    PENDING_PAYMENT,
    REFUND_AGREED,
    REFUND_CLOSED,
    REFUND_REQUESTED,
    REFUND_SUCCESS,
    SHIPPED,
    ScenarioOrder,
)
from connectors.fakes.order_shop import (
    OrderShop,
    mask_name,
    mask_phone,
    mask_street,
    shanghai_text,
)
from connectors.fakes.taobao_protocol import TopError, parse_timestamp, required, whole

SHANGHAI = ZoneInfo("Asia/Shanghai")
TID_BASE = 3_900_000_000_000_000_000
STATUS = {PENDING_PAYMENT: "WAIT_BUYER_PAY", AWAITING_SHIPMENT: "WAIT_SELLER_SEND_GOODS",
          SHIPPED: "WAIT_BUYER_CONFIRM_GOODS", DELIVERED: "WAIT_BUYER_CONFIRM_GOODS", COMPLETED: "TRADE_FINISHED"}
REFUND_STATUS = {REFUND_REQUESTED: "WAIT_SELLER_AGREE", REFUND_AGREED: "WAIT_BUYER_RETURN_GOODS",
                 REFUND_SUCCESS: "SUCCESS", REFUND_CLOSED: "CLOSED"}
MAX_WINDOW = timedelta(days=1)
REFUND_BASE = 205_000_000_000_000_000
# the reasons a Taobao buyer picks, for each standard return reason of the scenario
REFUND_REASONS = {
    "fabric_issue": "材质与商品描述不符", "fabric_pilling": "质量问题-起球", "size_mismatch": "大小/尺寸与商品描述不符",
    "color_difference": "颜色/图案/款式与商品描述不符", "workmanship_defect": "做工粗糙/有瑕疵",
    "not_as_described": "商品与页面描述不符", "damaged_in_transit": "包装/商品破损/污渍", "wrong_item": "卖家发错货",
    "missing_item": "少件/漏发", "late_shipment": "未按约定时间发货", "seven_day_no_reason": "七天无理由退换货",
    "ordered_by_mistake": "拍错/多拍/不喜欢",
}
# company_code of taobao.logistics.companies.get for the companies this fake shop may use
COMPANIES = {"SF": "顺丰速运", "ZTO": "中通快递", "YTO": "圆通速递", "YUNDA": "韵达快递", "STO": "申通快递",
             "HTKY": "极兔速递", "LE14066700": "京东快递", "EMS": "EMS", "POSTB": "邮政快递包裹", "DBKD": "德邦快递",
             "ZJS": "宅急送", "UC": "优速快递"}


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"



def tid_of(order: ScenarioOrder) -> int:
    return TID_BASE + order.number * 100


def trade_status(order: ScenarioOrder) -> str:
    if order.status == CANCELLED:
        return "TRADE_CLOSED" if order.paid_at else "TRADE_CLOSED_BY_TAOBAO"
    return STATUS[order.status]


class TaobaoOrderShop(OrderShop):
    """The order half of the fake TOP router (mixed into ``FakeTaobaoStock``)."""

    def render_trade(self, order: ScenarioOrder) -> dict[str, Any]:
        tid, buyer = tid_of(order), order.buyer
        status = trade_status(order)
        lines = []
        for line in order.lines:
            item_id, sku_id = self.ids_for(line.sku_code)
            refund = next((r for r in reversed(order.refunds) if r.line_no == line.line_no), None)
            row: dict[str, Any] = {
                "oid": tid + line.line_no, "oid_str": str(tid + line.line_no), "num_iid": item_id,
                "sku_id": str(sku_id),
                "outer_iid": line.sku_code.rsplit("-", 1)[0], "outer_sku_id": line.sku_code, "title": line.title,
                "sku_properties_name": "", "num": line.qty, "price": yuan(line.unit_price),
                "total_fee": yuan(line.amount), "payment": yuan(line.paid_amount),
                "divide_order_fee": yuan(line.paid_amount), "part_mjz_discount": yuan(line.discount),
                "adjust_fee": "0.00", "discount_fee": "0.00",
                "status": "TRADE_CLOSED" if refund and refund.status == REFUND_SUCCESS else status,
                "refund_status": REFUND_STATUS[refund.status] if refund else "NO_REFUND",
                "consign_time": shanghai_text(order.shipped_at),
                "logistics_company": order.courier[1] if order.courier else "",
                "invoice_no": order.courier[2] if order.courier else "",
            }
            if refund:
                row["refund_id"] = str(REFUND_BASE + refund.refund_no)
            lines.append(row)
        return {
            "tid": tid, "tid_str": str(tid), "status": status, "type": "fixed",
            "created": shanghai_text(order.created_at), "pay_time": shanghai_text(order.paid_at),
            "modified": shanghai_text(order.updated_at), "consign_time": shanghai_text(order.shipped_at),
            "end_time": shanghai_text(order.completed_at or order.cancelled_at),
            "delivery_time": shanghai_text(order.promised_ship_at),
            "est_con_time": shanghai_text(order.promised_ship_at),
            "payment": yuan(order.paid_amount), "total_fee": yuan(order.goods_amount),
            "post_fee": yuan(order.freight), "discount_fee": yuan(order.discount), "adjust_fee": "0.00",
            "received_payment": yuan(order.paid_amount) if order.status == COMPLETED else "0.00",
            "buyer_nick": buyer.nick, "buyer_open_uid": buyer.open_id, "buyer_message": order.buyer_message,
            "seller_memo": "", "seller_flag": 0, "shipping_type": "express", "step_trade_status": "",
            "receiver_name": mask_name(buyer.name), "receiver_mobile": mask_phone(buyer.phone), "receiver_phone": "",
            "receiver_state": buyer.province, "receiver_city": buyer.city, "receiver_district": buyer.district,
            "receiver_town": "", "receiver_address": mask_street(buyer.street), "receiver_zip": "",
            "oaid": f"1{buyer.open_id}{tid:x}",
            "orders": {"order": lines},
        }

    def increment_get(self, params: dict[str, str]) -> dict[str, Any]:
        fields = required(params, "fields").split(",")
        start, end = parse_timestamp(required(params, "start_modified")), parse_timestamp(
            required(params, "end_modified"))
        if start is None or end is None or end < start:
            raise TopError(41, "Invalid arguments:start_modified", "isv.invalid-parameter", "时间格式或先后不正确")
        if end - start > MAX_WINDOW.total_seconds():
            raise TopError(41, "Invalid arguments:end_modified", "isv.invalid-parameter",
                           "开始时间与结束时间间隔不能超过一天")
        page_no, page_size = whole(params, "page_no", 1), whole(params, "page_size", 40)
        if page_no < 1 or not 1 <= page_size <= 100:
            raise TopError(41, "Invalid arguments:page_size")
        found = self.scenario.modified_between(datetime.fromtimestamp(start, SHANGHAI),
                                               datetime.fromtimestamp(end + 1, SHANGHAI))
        size = self.page_size(page_size)
        rows = found[(page_no - 1) * size:page_no * size]
        body: dict[str, Any] = {"total_results": len(found), "has_next": page_no * size < len(found)}
        if rows:
            body["trades"] = {"trade": [{k: v for k, v in self.render_trade(o).items() if k in fields} for o in rows]}
        return body

    def fullinfo_get(self, params: dict[str, str]) -> dict[str, Any]:
        required(params, "fields")
        tid = whole(params, "tid", None)
        if tid is None:
            raise TopError(40, "Missing required arguments:tid")
        number, rest = divmod(tid - TID_BASE, 100)
        order = self.scenario.get(number) if rest == 0 and number > 0 else None
        if order is None:
            raise TopError(15, "Remote service error", "isv.trade-not-exist", "交易不存在")
        return {"trade": self.render_trade(order)}

    def refund_get(self, params: dict[str, str]) -> dict[str, Any]:
        required(params, "fields")
        refund_id = whole(params, "refund_id", None)
        if refund_id is None:
            raise TopError(40, "Missing required arguments:refund_id")
        for order in self.scenario.orders():
            for refund in order.refunds:
                if REFUND_BASE + refund.refund_no == refund_id:
                    return {"refund": {
                        "refund_id": str(refund_id), "tid": tid_of(order), "oid": tid_of(order) + refund.line_no,
                        "refund_fee": yuan(refund.amount), "reason": REFUND_REASONS[refund.reason_code],
                        "status": REFUND_STATUS[refund.status], "created": shanghai_text(refund.created_at),
                        "modified": shanghai_text(refund.updated_at), "has_good_return": True}}
        raise TopError(15, "Remote service error", "isv.refund-not-exist", "退款单不存在")
    def offline_send(self, params: dict[str, str]) -> dict[str, Any]:
        """``taobao.logistics.offline.send``: ``tid``, ``out_sid``, ``company_code`` (required),
        ``is_split`` and ``sub_tid`` (comma list of ``oid``) for a split shipment. Refusals are
        code 15 with sub code ``isv.logistics-offline-service-error:<reason>`` as TOP answers
        business errors (the reason codes are this fake's)."""
        tid = whole(params, "tid", None)
        if tid is None:
            raise TopError(40, "Missing required arguments:tid")
        out_sid, company = params.get("out_sid", ""), params.get("company_code", "")
        if not out_sid:
            raise TopError(40, "Missing required arguments:out_sid")
        if not company:
            raise TopError(40, "Missing required arguments:company_code")
        number, rest = divmod(tid - TID_BASE, 100)
        order = self.scenario.get(number) if rest == 0 and number > 0 else None
        if order is None:
            raise TopError(15, "Remote service error", "isv.trade-not-exist", "交易不存在")
        if company not in COMPANIES:
            raise TopError(15, "Remote service error", "isv.logistics-offline-service-error:P22",
                           f"物流公司编码 {company} 不存在")
        if order.status != AWAITING_SHIPMENT:
            raise TopError(15, "Remote service error", "isv.logistics-offline-service-error:B04",
                           f"交易状态 {trade_status(order)} 不允许发货")
        line_nos = None
        if params.get("is_split") == "1":
            oids = [whole({"oid": x}, "oid", None) for x in params.get("sub_tid", "").split(",") if x]
            line_nos = [oid - tid for oid in oids if oid is not None and 0 < oid - tid < 100]
            if not line_nos or len(line_nos) != len(oids):
                raise TopError(41, "Invalid arguments:sub_tid")
        self.scenario.ship_parcel(number, company, COMPANIES[company], out_sid, line_nos)
        self.accept({"method": "taobao.logistics.offline.send", "order_id": str(tid), "company_code": company,
                     "tracking_no": out_sid, "lines": line_nos})
        return {"shipping": {"is_success": True}}

    def throttled(self) -> Exception:
        return TopError(7, "App Call Limited", "accesscontrol.limited-by-api-access-count",
                        "This ban will last for 1 more seconds")
