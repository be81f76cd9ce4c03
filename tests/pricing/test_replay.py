"""会有什么变化: stored orders quoted with a draft and with the published promotion, exact fen."""

from __future__ import annotations

from typing import Any

from engine.pricing.loading import plan_from_content
from engine.pricing.replay import compare_prices, yuan_grouped

PROMOTION = """promotion coupon "店铺券" {
    tier store_coupon "店铺券" pick best funded by merchant {
        rule "满300减40" when current_total >= ¥300 { amount_off ¥40 }
    }
}
"""


def order(order_id: str, *amounts: int) -> tuple[str, str, dict[str, Any]]:
    lines = [{"line_id": str(i), "sku_id": f"SKU-{i}", "qty": 1, "unit_price": a, "amount": a}
             for i, a in enumerate(amounts, 1)]
    return ("douyin", order_id, {"order_id": order_id, "channel": "douyin", "lines": lines, "freight": 0})


def test_orders_over_the_threshold_change_by_the_coupon_difference_in_fen() -> None:
    published = plan_from_content(PROMOTION, name="shop@v1")
    draft = plan_from_content(PROMOTION.replace("减40\"", "减50\"").replace("¥40", "¥50.55"), name="shop@draft")
    orders = [order("A", 20000, 15001), order("B", 29999), order("C", 120000), ("douyin", "D", {"lines": []})]
    result = compare_prices(orders, draft, published)
    assert result.examined == 4
    assert [(c.order_id, c.published, c.draft, c.delta) for c in result.changes] == [
        ("A", 35001 - 4000, 35001 - 5055, -1055), ("C", 120000 - 4000, 120000 - 5055, -1055)]
    assert [s[0] for s in result.skipped] == ["D"]
    assert result.total_delta == -2110
    assert result.summary() == "2 单优惠变化，合计 -¥21.10"


def test_same_rules_change_nothing() -> None:
    plan = plan_from_content(PROMOTION, name="shop@v1")
    result = compare_prices([order("A", 35000)], plan, plan)
    assert (result.examined, result.changes, result.summary()) == (1, [], "0 单优惠变化，合计 ¥0.00")


def test_money_is_grouped_in_thousands() -> None:
    assert yuan_grouped(-120450) == "-¥1,204.50"
    assert yuan_grouped(123456789) == "¥1,234,567.89"
    assert yuan_grouped(5) == "¥0.05"
