"""Compiled expressions evaluate the checked AST over normalized orders, in exact fen."""

from __future__ import annotations

import pytest

import dsl
from dsl import RuleError

ORDER = {
    "order_id": "A1", "channel": "douyin",
    "customer": {"id": "c1", "level": "金卡", "phone": "13812345678"},
    "buyer_phone": "13812345678",
    "receiver": {"province": "新疆维吾尔自治区", "city": "乌鲁木齐"},
    "lines": [{"line_id": "1", "sku_id": "S1", "category": "女装", "tags": ["秒杀"], "qty": 2,
               "unit_price": 15000, "amount": 30000},
              {"line_id": "2", "sku_id": "S2", "category": "礼品卡", "tags": [], "qty": 1,
               "unit_price": 5000, "amount": 5000}],
    "red_packet": 500, "tags": ["vip"],
}


def test_gold_member_over_300_is_eligible() -> None:
    fn = dsl.compile_condition('customer.level == "金卡" and current_total >= ¥300')
    assert fn(ORDER, {"current_total": 35000}) is True
    assert fn(ORDER, {"current_total": 29999}) is False


def test_red_packet_rule_reads_order_prefix() -> None:
    fn = dsl.compile_condition("order.red_packet > 0")
    assert fn(ORDER) is True
    assert fn({**ORDER, "red_packet": 0}) is False


def test_line_condition_reads_the_line_and_the_order() -> None:
    fn = dsl.compile_condition('category != "礼品卡" and "秒杀" in tags', "line")
    assert [fn(line, {"order": ORDER}) for line in ORDER["lines"]] == [True, False]


def test_sum_over_line_amounts_projects_the_list() -> None:
    fn = dsl.compile_expression("sum(lines.amount)", "order")
    assert fn(ORDER) == 35000


def test_money_times_percent_rounds_half_up_to_the_fen() -> None:
    fn = dsl.compile_expression("current_total * 5%")
    assert fn(ORDER, {"current_total": 12350}) == 618  # 617.5 → 618
    assert fn(ORDER, {"current_total": 12349}) == 617


def test_money_divided_by_count_stays_whole_fen() -> None:
    fn = dsl.compile_expression("current_total / 3")
    assert fn(ORDER, {"current_total": 1000}) == 333


def test_missing_field_is_none_not_an_exception() -> None:
    fn = dsl.compile_condition('customer.level == "金卡"')
    assert fn({}) is None
    assert dsl.compile_expression("current_total / 0")(ORDER, {"current_total": 5}) is None


def test_in_list_literal_and_functions() -> None:
    fn = dsl.compile_condition('receiver.city in ["乌鲁木齐", "拉萨"] and '
                               'mask_phone(buyer_phone) == "138****5678"')
    assert fn(ORDER) is True


def test_machine_scope_reads_data_payload_and_ticket() -> None:
    fn = dsl.compile_condition('qc_result == "合格" and payload.result == "agree"', "machine",
                               data_fields={"qc_result": "text"})
    assert fn({"qc_result": "合格"}, {"payload": {"result": "agree"}}) is True
    assert fn({"qc_result": "合格"}, {"payload": {"result": "refuse"}}) is False


def test_risk_aggregates_call_the_engine_supplied_store() -> None:
    fn = dsl.compile_condition("count(orders by buyer_phone within 1h) >= 5", "risk")
    calls = []

    def aggregate(node: dsl.Aggregate, order: dict) -> int:
        calls.append((node.func, node.by.dotted, node.within))  # type: ignore[union-attr]
        return 5

    assert fn(ORDER, {"aggregate": aggregate}) is True
    assert calls == [("count", "buyer_phone", 3600)]


def test_mapping_values_compile_in_raw_scope() -> None:
    ruleset = dsl.load_file("tests/dsl/fixtures/architecture_example.op")
    fields = {".".join(f.target): f.value for f in ruleset.declarations[1].fields}  # type: ignore[union-attr]
    raw = {"order_status": 2, "post_addr": {"province": {"name": "浙江"}, "city": {"name": "杭州"},
                                            "town": {"name": "西湖区"}, "detail": "文三路"},
           "sku_order_list": [{"out_sku_id": "S1", "item_num": 2, "origin_amount": 9900}]}
    assert dsl.compile_expression(fields["status"], "raw")(raw) == "待发货"
    assert dsl.compile_expression(fields["receiver.address"], "raw")(raw) == "浙江杭州西湖区文三路"
    assert dsl.compile_expression(fields["lines"], "raw")(raw) == [
        {"sku_id": "S1", "qty": 2, "price": 9900}]


def test_non_condition_is_refused_as_a_condition() -> None:
    with pytest.raises(RuleError, match="condition must be bool, got money"):
        dsl.compile_condition("current_total")


def test_generated_source_has_no_attribute_access() -> None:
    fn = dsl.compile_condition('customer.level == "金卡" and lower(shop) == "x"')
    body = fn.source.split("return ", 1)[1]  # type: ignore[attr-defined]
    assert "." not in body.split("except")[0].replace("'", "")
