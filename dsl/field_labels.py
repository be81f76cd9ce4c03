"""Chinese labels of the fields a promotion condition reads, with their unit, for forms that
let people pick a field instead of typing its name (the web builder's condition builder).

Data only, in the order a form lists them; every path is a name the checker accepts in a
promotion condition (:data:`dsl.order_model.PROMOTION_CONTEXT` and the order fields).
"""

from __future__ import annotations

__all__ = ["CONDITION_FIELDS", "LINE_CONDITION_FIELDS", "OPERATORS"]

# (path, Chinese label, unit: money | percent | count | text | bool)
CONDITION_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("current_total", "当前金额（前面各层优惠后）", "money"),
    ("original_total", "商品原价合计", "money"),
    ("item_count", "商品件数", "count"),
    ("line_count", "商品行数", "count"),
    ("customer.level", "会员等级", "text"),
    ("channel", "销售渠道", "text"),
    ("shop", "店铺", "text"),
    ("order.red_packet", "平台红包金额", "money"),
    ("receiver.province", "收货省份", "text"),
    ("receiver.city", "收货城市", "text"),
    ("presale", "预售订单", "bool"),
    ("payment.method", "支付方式", "text"),
)

# The fields of one order line, for a discount's "on lines where" (which lines it applies to).
LINE_CONDITION_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("category", "商品类目", "text"),
    ("sku_id", "商品编码", "text"),
    ("title", "商品标题", "text"),
    ("unit_price", "单价", "money"),
    ("qty", "数量", "count"),
    ("amount", "行金额", "money"),
)

# operator → Chinese label
OPERATORS: tuple[tuple[str, str], ...] = (
    (">=", "大于等于"), (">", "大于"), ("==", "等于"), ("!=", "不等于"), ("<=", "小于等于"), ("<", "小于"),
)
