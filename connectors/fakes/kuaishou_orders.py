"""The order side of the fake Kuaishou (快手小店) platform: the shop's scenario rendered as
Kuaishou orders behind ``open.order.cursor.list`` and ``open.order.detail``, and pushes
encrypted as the platform's message service sends them (``push.push_to(url)``; see
:mod:`connectors.kuaishou_orders` for the shapes). Mixed into
:class:`connectors.fakes.kuaishou_stock.FakeKuaishouStock`, whose signature checks run
first.

Rendering: Kuaishou orders carry one item each, so a scenario order of n lines becomes n
platform orders (oid = :data:`OID_BASE` + number × 100 + line number); the first carries the
freight. ``totalFee`` is what the buyer paid for it (the line's paid share plus that freight),
``discountFee`` the line's discount share, all in fen; times in epoch ms (0 when not yet);
status 10 待付款, 30 已付款, 40 已发货, 50 已签收, 70 订单成功, 80 订单失败; the receiver as
ciphertext (``encrypted*``) plus masked forms (``desensitise*``, and ``consignee`` /
``mobile`` / ``address`` masked too, the street part only) and the region in plain;
refunds of the line in ``orderRefundList`` (``refundStatus`` 1 requested, 2 agreed, 4
succeeded, 5 closed: the values are this fake's, not confirmed).

Listing checks as the platform documents: ``endTime`` after ``beginTime`` (300003), at most 7
days (300004), not before 90 days ago (300005); ``queryType`` 2 lists by modified time (1 by
created time), newest first; the cursor is opaque and ``"nomore"`` after the last page. An
order call over ``order_rate_limit`` answers ``Exceed qps limit``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from connectors.fakes.order_scenario import (
    AWAITING_SHIPMENT,
    CANCELLED,
    COMPLETED,
    DELIVERED,
    PENDING_PAYMENT,
    SHIPPED,
    Buyer,
    Line,
    ScenarioOrder,
)
from connectors.fakes.order_shop import OrderShop, PushSender, cipher, mask_name, mask_phone, mask_street
from connectors.fakes.order_shop import epoch_ms as ms

OID_BASE = 2_610_000_000_000_000
SELLER_ID = 1_970_086_123
STATUS = {PENDING_PAYMENT: 10, AWAITING_SHIPMENT: 30, SHIPPED: 40, DELIVERED: 50, COMPLETED: 70, CANCELLED: 80}
REFUND_STATUS = {"requested": 1, "agreed": 2, "success": 4, "closed": 5}
EVENTS = {"created": "kwaishop_order_addOrder", "paid": "kwaishop_order_paySuccess",
          "shipped": "kwaishop_order_delivering", "delivered": "kwaishop_order_deliverySuccess",
          "completed": "kwaishop_order_orderSuccess", "cancelled": "kwaishop_order_orderFail",
          "refund_requested": "kwaishop_aftersales_addRefund"}
REFUND_EVENT = "kwaishop_aftersales_updateRefund"
# expressCode of the platform's 物流公司编号 page (doc 401927) for the companies this fake shop may use
COMPANIES = {1: "百世快递", 2: "EMS", 3: "申通快递", 4: "顺丰速运", 6: "圆通速递", 8: "邮政快递包裹", 9: "中通快递",
             10: "宅急送", 11: "韵达快递", 14: "京东", 15: "优速物流", 53: "德邦快递", 109: "极兔速递", 113: "菜鸟速递"}
DELIVER_REFUSED = 300201  # this fake's business-refusal code for a shipment (the platform's is not documented)


def mask_region(buyer: Buyer) -> str:
    """Province, city (not repeated for a municipality) and district, as the masked address starts."""
    return buyer.province + ("" if buyer.city == buyer.province else buyer.city) + buyer.district
END_BEFORE_BEGIN, RANGE_OVER_7_DAYS, OLDER_THAN_90_DAYS, NOT_FOUND, RATE_LIMITED = 300003, 300004, 300005, 3, 429
NO_MORE = "nomore"
DEFAULT_MESSAGE_KEY = base64.b64encode(bytes(range(32))).decode()


def oid_of(order: ScenarioOrder, line: Line) -> int:
    return OID_BASE + order.number * 100 + line.line_no


def encrypt_message(plain: bytes, message_key: str) -> bytes:
    """The platform's push body: base64(AES/CBC/PKCS5Padding(key = base64 key, IV = 0))."""
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(base64.b64decode(message_key)), modes.CBC(bytes(16))).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize())


class KuaishouOrderShop(OrderShop):
    """The order calls and pushes of the fake Kuaishou gateway (mixed into ``FakeKuaishouStock``)."""

    app_key: str
    message_key: str = DEFAULT_MESSAGE_KEY
    page_size: Callable[[int], int]  # the catalogue fake's

    def setup_push(self) -> None:
        self.push = PushSender(lambda body: {"Content-Type": "text/plain;charset=utf-8"},
                               encode=lambda message: encrypt_message(json.dumps(
                                   message, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                                   self.message_key))
        self.scenario.on_change(self._announce)

    def _announce(self, order: ScenarioOrder, event: str) -> None:
        for message in self.push_messages(order, event):
            self.push.send(message)

    # --- rendering -----------------------------------------------------------------------------

    def render(self, order: ScenarioOrder, line: Line) -> dict[str, Any]:
        buyer = order.buyer
        parcel = next((p for p in reversed(order.parcels) if line.line_no in p.line_nos), None)
        first = line.line_no == 1
        freight = order.freight if first else 0
        oid = oid_of(order, line)
        base = {
            "oid": oid, "status": STATUS[SHIPPED if parcel and order.status == AWAITING_SHIPMENT else order.status],
            "createTime": ms(order.created_at),
            "payTime": ms(order.paid_at), "sendTime": ms(order.shipped_at), "recvTime": ms(order.delivered_at),
            "updateTime": ms(order.updated_at), "totalFee": line.paid_amount + freight, "expressFee": freight,
            "discountFee": line.discount, "buyerNick": buyer.nick, "buyerOpenId": buyer.open_id,
            "sellerOpenId": f"f19{SELLER_ID}", "sellerNick": "快手好物小店", "remark": order.buyer_message,
            "validPromiseShipmentTimeStamp": ms(order.promised_ship_at),
            "promiseTimeStampOfDelivery": ms(order.promised_ship_at), "payType": 1 if order.paid_at else 0,
            "cpsType": 0, "activityType": 0, "riskCode": 0, "preSale": 0, "coType": 0, "commentStatus": 0,
            "refundTime": ms(next((r.created_at for r in order.refunds if r.line_no == line.line_no), None)),
        }
        sku = self.ids_for(line.sku_code)
        item = {"orderItemId": oid * 10 + 1, "itemId": sku[0], "skuId": sku[1], "relItemId": 0, "relSkuId": 0,
                "skuNick": line.sku_code, "itemTitle": line.title, "skuDesc": line.title, "num": line.qty,
                "price": line.unit_price, "originalPrice": line.unit_price, "discountFee": line.discount,
                "itemType": 1, "goodsCode": line.sku_code, "warehouseCode": ""}
        address = {
            "encryptedConsignee": cipher(buyer.name, "kuaishou"), "desensitiseConsignee": mask_name(buyer.name),
            "encryptedMobile": cipher(buyer.phone, "kuaishou"), "desensitiseMobile": mask_phone(buyer.phone),
            "encryptedAddress": cipher(buyer.street, "kuaishou"),
            "desensitiseAddress": mask_region(buyer) + mask_street(buyer.street),
            "consignee": mask_name(buyer.name), "mobile": mask_phone(buyer.phone), "address": mask_street(buyer.street),
            "province": buyer.province, "city": buyer.city,
            "district": buyer.district, "provinceCode": 0, "cityCode": 0, "districtCode": 0,
        }
        refunds = [{"refundId": 3_100_000_000_000 + r.refund_no, "oid": oid, "orderItemId": item["orderItemId"],
                    "skuId": sku[1],
                    "refundFee": r.amount, "refundStatus": REFUND_STATUS[r.status], "reasonDesc": r.reason,
                    "createTime": ms(r.created_at), "updateTime": ms(r.updated_at)}
                   for r in order.refunds if r.line_no == line.line_no]
        if parcel is not None:
            logistics = [{"expressNo": parcel.tracking_no, "expressCode": parcel.carrier_code}]
        else:
            logistics = [{"expressNo": order.courier[2], "expressCode": 9}] if order.courier else []
        return {"orderBaseInfo": base, "orderItemInfo": item, "orderAddress": address, "orderRefundList": refunds,
                "orderLogisticsInfo": logistics, "orderNote": {"sellerNote": []}}

    def platform_orders(self, order: ScenarioOrder) -> list[dict[str, Any]]:
        return [self.render(order, line) for line in order.lines]

    # --- the calls -----------------------------------------------------------------------------

    def order_answer(self, method: str, param: dict[str, Any]) -> dict[str, Any]:
        """The answer to an order method (the gateway checked the signature already)."""
        if not self.order_call_allowed(self.now()):
            return {"result": RATE_LIMITED, "error_msg": f"Exceed qps limit, KEY [apiId:{method};appkey:"
                                                         f"{self.app_key}], MAX_QPS [{self._order_calls.limit}.0]"}
        if method == "open.order.cursor.list":
            return self._order_cursor_list(param)
        if method == "open.order.detail":
            return self._order_detail(param)
        return {"result": 2, "error_msg": f"{method} 不存在"}

    def _order_cursor_list(self, param: dict[str, Any]) -> dict[str, Any]:
        begin, end = param.get("beginTime"), param.get("endTime")
        if not isinstance(begin, int) or not isinstance(end, int) or end <= begin:
            return {"result": END_BEFORE_BEGIN, "error_msg": "结束时间要晚于开始时间"}
        if end - begin > 7 * 86_400_000:
            return {"result": RANGE_OVER_7_DAYS, "error_msg": "查询范围不能大于7天"}
        if begin < (self.now() - 90 * 86400) * 1000:
            return {"result": OLDER_THAN_90_DAYS, "error_msg": "只能查询最近90天内的订单"}
        by_created = param.get("queryType") == 1
        rows = [o for order in self.scenario.orders() for o in self.platform_orders(order)]
        key = "createTime" if by_created else "updateTime"
        rows = [r for r in rows if begin <= r["orderBaseInfo"][key] < end]
        rows.sort(key=lambda r: (r["orderBaseInfo"][key], r["orderBaseInfo"]["oid"]), reverse=param.get("sort") != 2)
        size = self.page_size(int(param.get("pageSize") or 20))
        cursor = str(param.get("cursor") or "")
        start = int(base64.b64decode(cursor).decode()) if cursor and cursor != NO_MORE else 0
        chunk = rows[start:start + size]
        following = NO_MORE if start + size >= len(rows) else base64.b64encode(str(start + size).encode()).decode()
        return {"result": 1, "data": {"cursor": following, "orderList": chunk, "pageSize": size,
                                      "beginTime": begin, "endTime": end}}

    def _order_detail(self, param: dict[str, Any]) -> dict[str, Any]:
        oid = param.get("oid")
        if isinstance(oid, int) and oid > OID_BASE:
            order = self.scenario.get((oid - OID_BASE) // 100)
            line = next((x for x in order.lines if x.line_no == (oid - OID_BASE) % 100), None) if order else None
            if order is not None and line is not None:
                return {"result": 1, "data": self.render(order, line)}
        return {"result": NOT_FOUND, "error_msg": "订单不存在"}

    def goods_deliver(self, param: dict[str, Any]) -> dict[str, Any]:
        """``open.seller.order.goods.deliver``: ``orderId`` (the one-item order), ``expressNo``,
        ``expressCode`` (int) required; an unknown or offline carrier, or an order not 已付款, is
        refused with ``result`` :data:`DELIVER_REFUSED` and the platform's message."""
        oid, express_no, code = param.get("orderId"), param.get("expressNo"), param.get("expressCode")
        if not isinstance(oid, int) or not express_no or not isinstance(code, int):
            return {"result": 22, "error_msg": "参数错误：orderId、expressNo、expressCode 必填"}
        order = self.scenario.get((oid - OID_BASE) // 100) if oid > OID_BASE else None
        line = next((x for x in order.lines if x.line_no == (oid - OID_BASE) % 100), None) if order else None
        if order is None or line is None:
            return {"result": NOT_FOUND, "error_msg": "订单不存在"}
        if code not in COMPANIES:
            return {"result": DELIVER_REFUSED, "error_msg": f"快递公司编码 {code} 不存在或已下线"}
        shipped = any(line.line_no in p.line_nos for p in order.parcels)
        if order.status != AWAITING_SHIPMENT or shipped:
            return {"result": DELIVER_REFUSED, "error_msg": "订单状态不是待发货，不能发货"}
        self.scenario.ship_parcel(order.number, code, COMPANIES[code], str(express_no), [line.line_no])
        self.accept({"method": "open.seller.order.goods.deliver", "order_id": str(oid), "company_code": code,
                     "tracking_no": express_no})
        return {"result": 1, "data": {}}

    # --- pushes --------------------------------------------------------------------------------

    def push_messages(self, order: ScenarioOrder, event: str) -> list[dict[str, Any]]:
        """The plain messages the platform sends for a change (one per platform order)."""
        kind = EVENTS.get(event, REFUND_EVENT if event.startswith("refund_") else None)
        if kind is None:
            return []
        out = []
        refund = order.refunds[-1] if event.startswith("refund_") and order.refunds else None
        for line in order.lines:
            if refund is not None and refund.line_no != line.line_no:
                continue
            oid = oid_of(order, line)
            info: dict[str, Any] = {"oid": oid, "sellerId": SELLER_ID, "status": STATUS[order.status],
                                    "updateTime": ms(order.updated_at)}
            biz_id = oid
            if refund is not None:
                biz_id = 3_100_000_000_000 + refund.refund_no
                info.update(refundId=biz_id, refundStatus=REFUND_STATUS[refund.status])
            message = {"eventId": f"{biz_id}_{kind}_{ms(order.updated_at)}", "bizId": biz_id, "userId": SELLER_ID,
                       "openId": f"f19{SELLER_ID}", "appKey": self.app_key, "event": kind,
                       "info": json.dumps(info, separators=(",", ":")), "createTime": int(self.now() * 1000),
                       "test": False}
            out.append(message)
        return out

