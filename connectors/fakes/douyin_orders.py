"""The order calls and the order push of the fake 抖店 open API
(:class:`connectors.fakes.douyin_stock.FakeDouyinStock` serves them next to stock, with the
same app key, timestamp, signature and token checks):

- ``order.searchList``: ``update_time_start``/``update_time_end`` (unix seconds, both ends
  included), ``page`` from 0, ``size`` 1–100, ``order_by`` ``update_time``|``create_time``,
  ``order_asc``; ``data{page, size, total, shop_order_list[]}`` (each a shop order as the
  detail gives it).
- ``order.orderDetail``: ``shop_order_id`` → ``data.shop_order_detail``; an unknown id is
  50002 ``isv.business-failed``. Amounts in fen, times unix seconds; receiver name, phone and
  street come encrypted (``encrypt_post_*``, ``post_addr.encrypt_detail``) with their masked
  forms (``mask_post_*``, ``mask_post_addr``), the plain ``post_receiver``/``post_tel`` empty.

Over the order-call limit the answer is 50002 with ``请求过于频繁，请稍后重试`` (Doudian's own
flow-limit code is not documented in the sources read). Push: ``push.push_to(url)`` makes
every order change a message ``[{"tag", "msg_id", "data": "<json>"}]`` posted with headers
``app-id`` and ``event-sign = md5(app_key + body + app_secret)`` (tags 100 created, 101
paid, 102 shipped, 103 completed, 106 cancelled, 200/201/206 refund requested/agreed/
succeeded; ``data`` carries ``p_id``, ``s_ids``, ``shop_id``, ``order_status``,
``update_time`` — the order itself is fetched with ``order.orderDetail``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime
from typing import Any

from connectors.fakes.douyin_protocol import DoudianError, bad_param, business
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
    PushSender,
    cipher,
    mask_name,
    mask_phone,
    mask_street,
)

ORDER_BASE = 6_930_000_000_000_000_000
SHOP_ID = 18451234
ORDER_STATUS = {PENDING_PAYMENT: 1, AWAITING_SHIPMENT: 2, SHIPPED: 3, DELIVERED: 3, COMPLETED: 5, CANCELLED: 4}
MAIN_STATUS = {1: 101, 2: 103, 3: 104, 4: 106, 5: 105}  # main_status codes the fake gives each order_status
STATUS_DESC = {1: "待支付", 2: "备货中", 3: "已发货", 4: "已取消", 5: "已完成"}
# after_sale_status of a SKU order: 6 售后申请, 7 售后退货中, 12 售后成功, 28 售后失败/关闭
AFTER_SALE = {REFUND_REQUESTED: (6, 1), REFUND_AGREED: (7, 1), REFUND_SUCCESS: (12, 3), REFUND_CLOSED: (28, 0)}
TAGS = {"created": "100", "paid": "101", "shipped": "102",
        "partly_shipped": "108", "completed": "103", "cancelled": "106",
        "refund_requested": "200", "refund_agreed": "201", "refund_success": "206"}
ORDER_METHODS = ("order.searchList", "order.orderDetail", "order.logisticsAdd")
# company_code of order.logisticsCompanyList for the companies this fake shop may use
COMPANIES = {"shunfeng": "顺丰速运", "zhongtong": "中通快递", "yuantong": "圆通速递", "yunda": "韵达快递",
             "shentong": "申通快递", "jtexpress": "极兔速递", "jd": "京东快递", "ems": "EMS",
             "youzhengguonei": "邮政快递包裹", "debangkuaidi": "德邦快递", "zhaijisong": "宅急送"}


def order_id_of(order: ScenarioOrder) -> int:
    return ORDER_BASE + order.number * 100


def unix(at: datetime | None) -> int:
    return int(at.timestamp()) if at else 0


def region(buyer: Any) -> dict[str, Any]:
    return {"province": {"id": "", "name": buyer.province}, "city": {"id": "", "name": buyer.city},
            "town": {"id": "", "name": buyer.district}, "street": {"id": "", "name": ""}}


def event_sign(app_key: str, body: bytes, app_secret: str) -> str:
    """Doudian's push signature, written from the documented formula."""
    return hashlib.md5(app_key.encode() + body + app_secret.encode()).hexdigest()


class DouyinOrderShop(OrderShop):
    """The order half of the fake Doudian API (mixed into ``FakeDouyinStock``)."""

    app_key: str
    app_secret: str

    def setup_push(self) -> None:
        self.push = PushSender(lambda body: {"app-id": self.app_key,
                                             "event-sign": event_sign(self.app_key, body, self.app_secret)})
        self._msg_ids = itertools.count(1)
        self.scenario.on_change(self._announce)

    def _announce(self, order: ScenarioOrder, event: str) -> None:
        tag = TAGS.get(event)
        if tag is None:
            return
        oid = order_id_of(order)
        data: dict[str, Any] = {"p_id": oid, "s_ids": [oid + x.line_no for x in order.lines], "shop_id": SHOP_ID,
                                "order_status": ORDER_STATUS[order.status], "order_type": 0, "biz": 2,
                                "create_time": unix(order.created_at), "update_time": unix(order.updated_at)}
        if event.startswith("refund") and order.refunds:
            refund = order.refunds[-1]
            data.update(aftersale_id=7_100_000_000_000_000 + refund.refund_no, aftersale_status=AFTER_SALE[
                refund.status][0], aftersale_type=1, refund_amount=refund.amount, s_id=oid + refund.line_no)
        msg_id = f"{unix(order.updated_at)}{next(self._msg_ids):08d}"
        self.push.send([{"tag": tag, "msg_id": msg_id, "data": json.dumps(data, ensure_ascii=False)}])

    def render_order(self, order: ScenarioOrder) -> dict[str, Any]:
        oid, buyer, status = order_id_of(order), order.buyer, ORDER_STATUS[order.status]
        skus = []
        for line in order.lines:
            product_id, sku_id = self.ids_for(line.sku_code)
            refund = next((r for r in reversed(order.refunds) if r.line_no == line.line_no), None)
            after_sale, refund_status = AFTER_SALE[refund.status] if refund else (0, 0)
            skus.append({
                "order_id": str(oid + line.line_no), "parent_order_id": str(oid), "order_level": 3,
                "product_id": product_id, "product_name": line.title, "sku_id": sku_id, "out_sku_id": 0,
                "out_product_id": 0, "code": line.sku_code,
                "spec": [{"name": "规格", "value": line.title.rsplit(" ", 1)[-1]}], "item_num": line.qty,
                "origin_amount": line.unit_price, "sum_amount": line.amount, "pay_amount": line.paid_amount,
                "promotion_amount": line.discount, "order_status": status,
                "exp_ship_time": unix(order.promised_ship_at),
                "after_sale_info": {"after_sale_status": after_sale, "after_sale_type": 1 if refund else 0,
                                    "refund_status": refund_status}})
        logistics = [] if not order.courier else [{
            "tracking_no": order.courier[2], "company": order.courier[0], "company_name": order.courier[1],
            "ship_time": unix(order.shipped_at)}]
        return {
            "order_id": str(oid), "order_level": 2, "order_type": 0, "order_status": status,
            "order_status_desc": STATUS_DESC[status], "main_status": MAIN_STATUS[status],
            "main_status_desc": STATUS_DESC[status], "order_expire_time": 1800,
            "shop_id": SHOP_ID, "shop_name": "清风茶舍旗舰店",
            "create_time": unix(order.created_at), "pay_time": unix(order.paid_at),
            "update_time": unix(order.updated_at), "finish_time": unix(order.completed_at),
            "ship_time": unix(order.shipped_at), "exp_ship_time": unix(order.promised_ship_at),
            "order_amount": order.goods_amount + order.freight, "pay_amount": order.paid_amount,
            "post_amount": order.freight, "modify_amount": 0, "promotion_amount": order.discount,
            "promotion_shop_amount": order.seller_discount, "promotion_platform_amount": order.platform_discount,
            "promotion_talent_amount": 0, "shop_cost_amount": order.seller_discount,
            "platform_cost_amount": order.platform_discount, "tax_amount": 0, "pay_type": 1,
            "doudian_open_id": buyer.open_id, "buyer_words": order.buyer_message, "seller_words": "",
            "post_receiver": "", "post_tel": "",
            "encrypt_post_receiver": cipher(buyer.name, "doudian"), "encrypt_post_tel": cipher(buyer.phone, "doudian"),
            "mask_post_receiver": mask_name(buyer.name), "mask_post_tel": mask_phone(buyer.phone),
            "post_addr": {**region(buyer), "detail": "", "encrypt_detail": cipher(buyer.street, "doudian")},
            "mask_post_addr": {**region(buyer), "detail": mask_street(buyer.street)},
            "logistics_info": logistics, "sku_order_list": skus,
        }

    def search_list(self, params: dict[str, Any]) -> dict[str, Any]:
        page, size = params.get("page", 0), params.get("size", 10)
        if not isinstance(page, int) or not isinstance(size, int) or page < 0 or not 1 <= size <= 100:
            raise bad_param("page 从 0 开始，size 取值 1–100")
        start, end = params.get("update_time_start"), params.get("update_time_end")
        if not isinstance(start, int) or not isinstance(end, int) or end < start:
            raise bad_param("update_time_start、update_time_end 必须是秒级时间戳且先后正确")
        found = self.scenario.modified_between(datetime.fromtimestamp(start, UTC),
                                               datetime.fromtimestamp(end + 1, UTC))
        if params.get("order_asc"):
            found.reverse()
        size = self.page_size(size)
        rows = found[page * size:(page + 1) * size]
        return {"page": page, "size": size, "total": len(found),
                "shop_order_list": [self.render_order(o) for o in rows]}

    def order_detail(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = str(params.get("shop_order_id") or "")
        if not raw.isdigit():
            raise bad_param("shop_order_id 必填")
        number, rest = divmod(int(raw) - ORDER_BASE, 100)
        order = self.scenario.get(number) if rest == 0 and number > 0 else None
        if order is None:
            raise business("订单不存在")
        return {"shop_order_detail": self.render_order(order)}

    def logistics_add(self, params: dict[str, Any]) -> dict[str, Any]:
        """``order.logisticsAdd``: ``order_id``, ``company_code``, ``logistics_code`` (the tracking
        number) required; refused with 50002 (``isv.business-failed``) for an unknown company,
        an order not 备货中, or a pending refund unless ``is_refund_reject`` is true."""
        raw, company, tracking = str(params.get("order_id") or ""), params.get("company_code"), \
            params.get("logistics_code")
        if not raw.isdigit() or not company or not tracking:
            raise bad_param("order_id、company_code、logistics_code 必填")
        number, rest = divmod(int(raw) - ORDER_BASE, 100)
        order = self.scenario.get(number) if rest == 0 and number > 0 else None
        if order is None:
            raise business("订单不存在")
        if company not in COMPANIES:
            raise business(f"物流公司编码 {company} 不存在")
        if order.status != AWAITING_SHIPMENT:
            raise business("订单状态不是备货中，不能发货")
        pending = any(r.status in (REFUND_REQUESTED, REFUND_AGREED) for r in order.refunds)
        if pending and params.get("is_refund_reject") is not True:
            raise business("订单有售后中的退款，不能发货")
        self.scenario.ship_parcel(order.number, company, COMPANIES[str(company)], str(tracking))
        self.accept({"method": "order.logisticsAdd", "order_id": raw, "company_code": company,
                     "tracking_no": tracking})
        return {}

    def throttled(self) -> Exception:
        return DoudianError(50002, "业务处理失败", "isp.flow-limit", "请求过于频繁，请稍后重试")
