"""The library cleaning fills regions through the resolver it is given (here a small resolver
written for these tests; the real one is engine.orders.regions), normalizes phones, sets
fields, and marks test orders dropped with the rule text — never deleting, never changing the
order it was handed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import dsl
from engine.orders.cleaning import Dropped, compile_cleaning, normalize_phone, normalize_text
from tests.orders.helpers import TEMPLATE, TableResolver, payload, template_mappings

MAPPINGS = template_mappings()
CLEANINGS = [d for d in dsl.parse_text(TEMPLATE).declarations if isinstance(d, dsl.CleaningDecl)]


@pytest.mark.parametrize(("raw", "expected"), [
    ("+86 139-1234-5678", "13912345678"), ("0086 13912345678", "13912345678"), ("8613912345678", "13912345678"),
    ("139 1234 5678", "13912345678"), ("１３９１２３４５６７８", "13912345678"), ("(+86)139.1234.5678", "13912345678"),
    ("＋８６－１３９－１２３４－５６７８", "13912345678"), (13912345678, "13912345678"),
    ("138****5678", "138****5678"), ("1**********0", "1**********0"), ("138＊＊＊＊5678", "138＊＊＊＊5678"),
    ("0571-88886666", "0571-88886666"), (" 12345 ", "12345"), ("", ""), (None, None),
])
def test_phones_become_eleven_digits_and_masked_forms_stay(raw: Any, expected: Any) -> None:
    assert normalize_phone(raw) == expected


def test_text_is_folded_and_trimmed() -> None:
    assert normalize_text("  杭州市　西湖区  文三路１２３号 ") == "杭州市 西湖区 文三路123号"


def clean(name: str, file: str, resolver: Any = None, **changes: Any) -> Any:
    order = MAPPINGS[name].apply(payload(file))
    order.update(changes)
    return compile_cleaning(CLEANINGS, resolver if resolver is not None else TableResolver()).apply(order)


def test_the_region_step_writes_official_names_adcode_and_centroid() -> None:
    resolver = TableResolver()
    cleaned = clean("taobao", "taobao_trade_refund_county.json", resolver)
    receiver = cleaned.order["receiver"]
    assert (receiver["province"], receiver["city"], receiver["district"], receiver["adcode"]) == \
        ("湖北省", "仙桃市", "仙桃市", "429004")
    assert (receiver["lat"], receiver["lng"]) == (30.3627, 113.4540)
    # the structured platform fields go to the resolver with the address text
    assert resolver.calls == [("湖北省仙桃市干河街道钱沟路**号", "湖北省", "仙桃市", "仙桃市")]
    assert cleaned.dropped is None


def test_mini_program_phone_is_normalized_and_region_resolved() -> None:
    cleaned = clean("miniprogram", "miniprogram_order.json")
    assert cleaned.order["receiver"]["phone"] == "13912345678"
    assert cleaned.order["receiver"]["adcode"] == "370116" and cleaned.order["receiver"]["city"] == "济南市"


def test_an_unknown_address_is_left_as_mapped() -> None:
    order = MAPPINGS["kuaishou"].apply(payload("kuaishou_order_detail.json"))
    cleaned = compile_cleaning(CLEANINGS, TableResolver()).apply(order)
    assert cleaned.order["receiver"] == order["receiver"] and "adcode" not in cleaned.order["receiver"]


def test_no_resolver_skips_only_the_region_step() -> None:
    order = MAPPINGS["miniprogram"].apply(payload("miniprogram_order.json"))
    compiled = compile_cleaning(CLEANINGS, None)
    assert compiled.region_step is False
    cleaned = compiled.apply(order)
    assert "adcode" not in cleaned.order["receiver"] and cleaned.order["receiver"]["phone"] == "13912345678"


def test_a_test_order_is_marked_dropped_with_the_rule_and_kept_whole() -> None:
    order = MAPPINGS["douyin"].apply(payload("douyin_shop_order_detail.json"))
    order["receiver"]["name"] = "测试"
    before = copy.deepcopy(order)
    cleaned = compile_cleaning(CLEANINGS, TableResolver()).apply(order)
    line = TEMPLATE.split("\n").index('    drop when receiver.name in ["测试", "测试单", "test"]') + 1
    assert cleaned.dropped == Dropped("标准化", line, 'receiver.name in ["测试", "测试单", "test"]')
    assert cleaned.order["order_id"] == order["order_id"] and len(cleaned.order["lines"]) == 2
    assert cleaned.order["receiver"]["adcode"] == "500120"  # still normalized after the drop
    assert order == before  # the mapped order handed in is untouched


SETS = """cleaning 标记 {
    set tags = ["大单"] when payment.paid_amount >= ¥300
    drop when buyer_phone == "13800000000"
    normalize buyer_phone to phone
    drop when buyer_phone == "13800000000"
    set shop = "自营" when channel == "miniprogram"
}
"""


def test_steps_run_in_order_and_only_the_first_drop_counts() -> None:
    decls = [d for d in dsl.parse_text(SETS, "marks.op").declarations if isinstance(d, dsl.CleaningDecl)]
    compiled = compile_cleaning(decls, None)
    order = MAPPINGS["miniprogram"].apply(payload("miniprogram_order.json"))
    order["buyer_phone"] = "+86 138 0000 0000"
    cleaned = compiled.apply(order)
    assert cleaned.order["tags"] == ["大单"] and cleaned.order["shop"] == "自营"
    # the first drop rule saw the raw phone and did not hold; the second saw it normalized
    assert cleaned.dropped == Dropped("标记", 5, 'buyer_phone == "13800000000"')
    order["buyer_phone"] = "13800000000"
    assert compiled.apply(order).dropped == Dropped("标记", 3, 'buyer_phone == "13800000000"')
    order["payment"] = {"paid_amount": 100}
    assert "tags" not in compiled.apply(order).order
