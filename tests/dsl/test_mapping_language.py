"""The mapping language for real payloads: map tables with ``else``, ``each … where``,
``each self``, the conversion functions, and the checks that keep a mapping honest (targets of
the order model with did-you-mean, values of the target's type, canonical status names)."""

from __future__ import annotations

import json

import pytest

import dsl

SOURCE = "source shop {\n    platform douyin\n}\n\n"


def messages(text: str) -> list[tuple[int, int, str]]:
    return [(d.line, d.col, d.message) for d in dsl.check(dsl.parse_text(SOURCE + text, "m.op"))]


def test_new_forms_round_trip_through_dsl_and_json() -> None:
    text = SOURCE + """mapping shop {
    status = st map { 1: "paid_hold", "2": "shipped", else "awaiting_shipment" }
    freight = yuan(post_fee)
    paid_at = from_unix_ms(pay_ms)
    created_at = from_shanghai(created)
    receiver.city = coalesce(city, district)
    lines = each orders.order where present(sku) and num > 0 {
        sku_id = sku
        qty = num
        paid_amount = fen(pay)
    }
    refunds = each self {
        refund_id = rid
    }
}
"""
    ruleset = dsl.parse_text(text, "m.op")
    assert dsl.check(ruleset) == []
    assert dsl.print_dsl(ruleset) == text  # canonical: each blocks one mapping per line
    assert dsl.parse_text(dsl.print_dsl(ruleset)) == ruleset
    assert dsl.load_json(json.dumps(dsl.to_json(ruleset), ensure_ascii=False)) == ruleset
    assert dsl.format_source(text) == text


@pytest.mark.parametrize(("body", "expected"), [
    ('status = s map { 1: "pending_paymnt" }',
     (6, 25, ("'pending_paymnt' is not an order status (one of pending_payment, paid_hold, awaiting_shipment, "
             "partially_shipped, shipped, delivered, completed, cancelled, or 待付款 … 已取消); did you mean "
             "'pending_payment'?"))),
    ("paid_at = yuan(t)", (6, 15, ("'paid_at' is time, got money; write from_shanghai(FIELD), from_unix(FIELD) or "
                                  "from_unix_ms(FIELD)"))),
    ("freight = from_unix(t)", (6, 15, ("'freight' is money, got time; write yuan(FIELD) for yuan or fen(FIELD) "
                                       "for fen"))),
    ("updatd_at = t", (6, 5, "unknown order field 'updatd_at'; did you mean 'updated_at'?")),
    ("receiver.adcod = c", (6, 5, "unknown field 'receiver.adcod'; did you mean 'receiver.adcode'?")),
    ("lines = each items { platform_sku = p }", (6, 26, ("unknown order field 'platform_sku'; did you mean "
                                                        "'platform_sku_id'?"))),
    ("refunds = each items { amout = yuan(a) }", (6, 28, "unknown order field 'amout'; did you mean 'amount'?")),
    ("tags = each items { a = b }", (6, 12, ("'each' is only allowed as the value of a list such as 'lines' or "
                                            "'refunds'"))),
    ("lines = items", (6, 13, "'lines' is a list: map it with 'each LIST { … }'")),
    ('channel = "jd"', (6, 15, "unknown channel 'jd'")),
    ("lines = each items where yuan(x) { sku_id = s }", (6, 30, "'where' must be bool, got money")),
])
def test_mapping_checks(body: str, expected: tuple[int, int, str]) -> None:
    assert messages(f"mapping shop {{\n    {body}\n}}\n") == [expected]


def test_an_import_mapping_names_its_channel_instead_of_a_source() -> None:
    ok = dsl.parse_text('mapping taobao_export {\n    channel = "taobao"\n    order_id = 订单编号\n}\n')
    assert dsl.check(ok) == []
    bad = dsl.parse_text("mapping taobao_export {\n    order_id = 订单编号\n}\n")
    assert [d.message for d in dsl.check(bad)] == ["mapping 'taobao_export' names no declared source"]


def test_conversions_read_leniently_outside_mappings() -> None:
    fn = dsl.compile_expression("yuan(order_id)", "order")
    assert fn({"order_id": "12.50"}) == 1250 and fn({"order_id": "abc"}) is None
