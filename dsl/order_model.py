"""The field catalogue rules are checked against: the normalized order, its lines, returns,
the promotion and alert contexts, roles, channels and the whitelisted functions.

This module owns those vocabularies as plain data (and :func:`canonical_role`). It mirrors the
normalized order in ARCHITECTURE.md; it does not validate orders at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

__all__ = ["FieldTree", "ORDER_FIELDS", "LINE_FIELDS", "REFUND_FIELDS_OF_ORDER", "ORDER_STATUSES",
           "STATUS_LABELS", "canonical_status", "STATUS_PATH", "REFUND_STATUS_LABELS", "REFUND_STATUSES",
           "REFUND_PATH", "canonical_refund_status", "FOLLOW_SUBJECTS", "LINE_MAPPING_ALIASES", "RETURN_FIELDS",
           "SHIPMENT_FIELDS", "SOLD_LINE_FIELDS", "STOCK_FIELDS", "field_type",
           "PROMOTION_CONTEXT", "ALERT_CONTEXT", "TICKET_CONTEXT", "ROLES", "OUTSIDE_PARTIES",
           "canonical_role", "PLATFORMS", "CHANNEL_TYPES", "HOOK_TYPES",
           "NOTIFY_CHANNEL_TYPES", "CALL_OPERATIONS", "ARCHIVE_TARGETS", "FUNCTIONS", "Signature",
           "list_of", "element_of", "NUMERIC"]

# Types are short strings: text money percent duration count number bool time any,
# and "list:<type>" for lists. Nested objects are dicts.
FieldTree = dict[str, Union[str, "FieldTree"]]

NUMERIC = ("money", "percent", "duration", "count", "number")


def field_type(tree: FieldTree, path: Sequence[str]) -> str | None:
    """The type of the field at ``path`` in ``tree`` (``"object"`` for a nested object, ``"list:…"``
    for a list); None when no such field exists."""
    node: FieldTree | str | None = tree
    for seg in path:
        node = node.get(seg) if isinstance(node, dict) else None
    if node is None:
        return None
    return node if isinstance(node, str) else "object"


def list_of(t: str) -> str:
    return f"list:{t}"


def element_of(t: str) -> str | None:
    return t[5:] if t.startswith("list:") else None


LINE_FIELDS: FieldTree = {
    "line_id": "text", "sku_id": "text", "platform_sku_id": "text", "title": "text",
    "category": "text", "tags": "list:text", "qty": "count", "unit_price": "money",
    "amount": "money", "paid_amount": "money",
}

# a platform refund or after-sales case of one line (``refunds = each … { }`` in a mapping)
REFUND_FIELDS_OF_ORDER: FieldTree = {
    "refund_id": "text", "line_id": "text", "sku_id": "text", "amount": "money",
    "reason": "text", "status": "text",
}

# names a mapping may write inside ``lines = each … { }`` besides the line fields
LINE_MAPPING_ALIASES = {"price": "unit_price"}

ORDER_FIELDS: FieldTree = {
    "order_id": "text", "channel": "text", "shop": "text", "status": "text",
    "created_at": "time", "updated_at": "time", "paid_at": "time", "promised_ship_at": "time",
    "shipped_at": "time",
    "presale": "bool", "presale_ship_by": "time",
    "customer": {"id": "text", "level": "text", "phone": "text", "device_id": "text"},
    "buyer_phone": "text",
    "receiver": {"name": "text", "phone": "text", "province": "text", "city": "text",
                 "district": "text", "adcode": "text", "address": "text", "lat": "number",
                 "lng": "number",
                 # the platform's cipher texts of encrypted receiver fields (kept for later
                 # decryption and e-waybills); name/phone/address above hold the masked forms
                 "cipher": {"name": "text", "phone": "text", "address": "text", "oaid": "text"}},
    "lines": {"[]": LINE_FIELDS},
    "refunds": {"[]": REFUND_FIELDS_OF_ORDER},
    "freight": "money", "red_packet": "money", "coupons": "list:text",
    "payment": {"method": "text", "paid_amount": "money"},
    "tracking": {"courier": "text", "number": "text"},
    "tags": "list:text",
}

# the canonical order statuses and their Chinese labels (ARCHITECTURE.md); a mapping may write
# either spelling, the normalized order holds the English one
STATUS_LABELS = {
    "pending_payment": "待付款", "paid_hold": "已付款挂起", "awaiting_shipment": "待发货",
    "partially_shipped": "部分发货", "shipped": "已发货", "delivered": "已签收",
    "completed": "已完成", "cancelled": "已取消",
}
ORDER_STATUSES = tuple(STATUS_LABELS)
_STATUS_BY_NAME = {**{k: k for k in STATUS_LABELS}, **{v: k for k, v in STATUS_LABELS.items()}}


def canonical_status(name: str) -> str | None:
    """``待发货`` or ``awaiting_shipment`` → ``awaiting_shipment``; None if not a status."""
    return _STATUS_BY_NAME.get(name)


# the order a platform moves an order along (a later status passed the earlier ones); paid_hold
# is a paid order the platform holds, so it lies between payment and shipment; cancelled is off
# the path (an order is cancelled from wherever it stood)
STATUS_PATH = ("pending_payment", "paid_hold", "awaiting_shipment", "partially_shipped", "shipped",
               "delivered", "completed")

# the canonical statuses of a platform refund (``refunds[].status``; each mapping turns the
# platform's codes into these) and the path a refund moves along; refused and closed end it
# off the path
REFUND_STATUS_LABELS = {"requested": "退款申请中", "agreed": "已同意退款", "success": "退款成功",
                        "refused": "已拒绝", "closed": "退款关闭"}
REFUND_STATUSES = tuple(REFUND_STATUS_LABELS)
REFUND_PATH = ("requested", "agreed", "success")
_REFUND_BY_NAME = {**{k: k for k in REFUND_STATUS_LABELS}, **{v: k for k, v in REFUND_STATUS_LABELS.items()}}


def canonical_refund_status(name: str) -> str | None:
    """``退款成功`` or ``success`` → ``success``; None if not a refund status."""
    return _REFUND_BY_NAME.get(name)


# what a ``follow`` declaration's tickets follow: each order, or each platform refund
FOLLOW_SUBJECTS = ("orders", "refunds")

RETURN_FIELDS: FieldTree = {
    "return_id": "text", "order_id": "text", "channel": "text", "shop": "text",
    "sku_id": "text", "category": "text", "reason": "text", "qty": "count",
    "amount": "money", "status": "text", "created_at": "time",
}

# one shipment of an order made through us (ship API, WMS, order ticket): its courier, quantity, times
SHIPMENT_FIELDS: FieldTree = {
    "shipment_id": "text", "order_id": "text", "channel": "text", "shop": "text", "courier": "text",
    "tracking_no": "text", "via": "text", "qty": "count", "shipped_at": "time", "promised_ship_at": "time",
}

# one line of a stored order, with its order's id, channel, shop and creation time (the
# ``order_lines`` collection of alert measures, ``sum(qty of order_lines where category == "茶包")
# per day by sku_id``; not ``lines``, which stays the order's own list: ``sum(lines.amount)``)
SOLD_LINE_FIELDS: FieldTree = {
    **LINE_FIELDS, "order_id": "text", "channel": "text", "shop": "text", "created_at": "time",
}

# one SKU's stock as it is now (the ``stock`` collection of alert measures, read at each evaluation
# rather than counted per window): on hand, reserved by orders, safety stock, and what is left to
# sell (on hand − reserved − safety, never below 0)
STOCK_FIELDS: FieldTree = {
    "sku_id": "text", "on_hand": "count", "reserved": "count", "safety": "count", "available": "count",
}

PROMOTION_CONTEXT: FieldTree = {
    "current_total": "money", "original_total": "money", "line_count": "count",
    "item_count": "count",
}

ALERT_CONTEXT: FieldTree = {
    "value": "number", "previous": "number", "change": "percent", "change_vs_previous": "percent",
}

TICKET_CONTEXT: FieldTree = {
    "id": "text", "state": "text", "machine": "text", "created_at": "time",
    "entered_at": "time", "payload": "any",
}

ROLES = {"管理员": "admin", "运营": "ops", "仓储": "warehouse", "财务": "finance", "客服": "cs",
         "客服组长": "cs_lead"}
OUTSIDE_PARTIES = {"消费者": "consumer", "平台": "platform"}


def canonical_role(name: str) -> str | None:
    """``客服组长`` or ``cs_lead`` → ``cs_lead``; outside parties too; None if unknown."""
    for table in (ROLES, OUTSIDE_PARTIES):
        if name in table:
            return table[name]
        if name in table.values():
            return name
    return None


PLATFORMS = ("douyin", "taobao", "pdd", "kuaishou", "xiaohongshu", "miniprogram")
CHANNEL_TYPES = ("wecom", "feishu", "dingtalk", "sms", "wms", "webhook", "email")
# What an effect may ask of a channel: exactly what the outbox has handlers for by default
# (connectors/handlers.py; tests/connectors/test_dispatch.py keeps the two in step). ``notify``
# goes to a chat or SMS channel; ``call`` to one of the operations its channel's type offers;
# ``archive`` to a record the engine writes itself. Anything else would only die in the outbox,
# so the checker refuses it.
NOTIFY_CHANNEL_TYPES = ("wecom", "feishu", "dingtalk", "sms")
CALL_OPERATIONS: dict[str, tuple[str, ...]] = {"wms": ("outbound",)}
ARCHIVE_TARGETS = ("finance_voucher",)
# inbound webhook protocols: DingTalk's encrypted approval callback, or an HMAC-signed POST
HOOK_TYPES = ("dingtalk_approval", "signed")

# name → (argument types, return type). "*" at the end of the argument list: repeat the last.
# "any" accepts every type; "numeric" accepts money/percent/duration/count/number and the
# return "same" is the argument's type.
Signature = tuple[tuple[str, ...], str]
FUNCTIONS: dict[str, Signature] = {
    "count": (("list:any",), "count"),
    "sum": (("list:numeric",), "same"),
    "distinct": (("list:any",), "count"),
    "len": (("any",), "count"),
    "concat": (("any", "*"), "text"),
    "from_unix": (("any",), "time"),
    "from_iso": (("any",), "time"),
    "lower": (("text",), "text"),
    "upper": (("text",), "text"),
    "trim": (("text",), "text"),
    "mask_phone": (("text",), "text"),
    "contains": (("text", "text"), "bool"),
    "starts_with": (("text", "text"), "bool"),
    "ends_with": (("text", "text"), "bool"),
    "min": (("numeric", "*"), "same"),
    "max": (("numeric", "*"), "same"),
    "abs": (("numeric",), "same"),
    "now": ((), "time"),
    "hours_since": (("time",), "number"),
    "to_text": (("any",), "text"),
    "to_int": (("any",), "count"),
    "yuan_to_fen": (("any",), "money"),
    # mappings: exact conversions of platform values (dsl/conversions.py)
    "yuan": (("any",), "money"),
    "fen": (("any",), "money"),
    "from_unix_ms": (("any",), "time"),
    "from_shanghai": (("any",), "time"),
    "coalesce": (("any", "*"), "any"),
    "present": (("any",), "bool"),
}

# ``warn LEAD before DUE`` of a fulfillment declaration: the order time a warning counts back from
SHIP_WARNING_DUES = ("promised_ship_at", "presale_ship_by")
# what a ship warning's message may hold besides the order's fields
SHIP_WARNING_CONTEXT = ("left", "due", "name")
