"""The ``fulfillment`` declaration in the rules language: parsed into the model, printed back
word for word (``fmt``), the same model through its JSON form (validated by the schema), and
each mistake reported at its file:line:col with a Chinese sentence for the builder; the
``fulfillment_standard`` template imports, checks and publishes through the API."""

from __future__ import annotations

import json

import pytest

import dsl
from builder_ui.message_catalog import message_zh
from dsl import model as m
from dsl.checker import check
from dsl.errors import RuleError
from dsl.json_io import load_json, to_json
from dsl.parser import parse_text
from dsl.printer import print_dsl
from tests.conftest import auth

CHANNEL = "channel 仓储群 feishu { webhook env H, secret env S }\n\n"
TEXT = CHANNEL + """fulfillment 发货时效 {
    late after 2h
    warn 2h before promised_ship_at notify 仓储群 "订单 {order_id} 距承诺发货还有 {left}"
    warn 72h before presale_ship_by notify 仓储群 "预售订单 {order_id} 截止 {due}"
}
"""


def test_parsed_printed_and_through_json_unchanged() -> None:
    ruleset = parse_text(TEXT, "f.op")
    decl = ruleset.declarations[1]
    assert decl == m.FulfillmentDecl("发货时效", 7200, (
        m.ShipWarning(7200, "promised_ship_at", m.Notify("仓储群", "订单 {order_id} 距承诺发货还有 {left}")),
        m.ShipWarning(259200, "presale_ship_by", m.Notify("仓储群", "预售订单 {order_id} 截止 {due}"))))
    assert check(ruleset) == []
    assert print_dsl(ruleset) == TEXT
    as_json = to_json(ruleset)
    assert as_json["declarations"][1]["warnings"][1] == {
        "lead": 259200, "due": "presale_ship_by", "notify": {"channel": "仓储群", "message": "预售订单 {order_id} 截止 {due}"}}
    assert load_json(json.dumps(as_json)) == ruleset
    assert print_dsl(parse_text(CHANNEL + "fulfillment 时效 {\n    warn 3d before presale_ship_by notify 仓储群 \"x\"\n}\n")) \
        .endswith("warn 72h before presale_ship_by notify 仓储群 \"x\"\n}\n")


def test_the_json_schema_names_a_bad_ship_time_by_pointer() -> None:
    as_json = to_json(parse_text(TEXT))
    as_json["declarations"][1]["warnings"][0]["due"] = "paid_at"
    with pytest.raises(RuleError) as err:
        load_json(as_json)
    assert [(d.pointer, d.message) for d in err.value.diagnostics] == [
        ("/declarations/1/warnings/0/due", '"paid_at" is not one of "promised_ship_at", "presale_ship_by"')]


MISTAKES = CHANNEL + """fulfillment 甲 {
    late after 0s
    warn 2h before promised_ship_by notify 仓储群 "订单 {order_id}"
    warn 0s before presale_ship_by notify 仓储群 "x"
    warn 2h before promised_ship_at notify 库房群 "订单 {order_no}"
    warn 2h before promised_ship_at notify 仓储群 to buyer_phone "x"
}

fulfillment 乙 {
    late after 3h
}
"""


def test_mistakes_are_reported_where_they_are_written_in_english_and_chinese() -> None:
    found = [(d.line, d.col, d.message) for d in check(parse_text(MISTAKES, "f.op"))]
    assert found == [
        (4, 5, "fulfillment 甲: 'late after' must be positive"),
        (5, 20, "a warning counts back from promised_ship_at or presale_ship_by, got 'promised_ship_by'; "
                "did you mean 'promised_ship_at'?"),
        (6, 5, "a warning's lead time must be positive"),
        (7, 37, "unknown placeholder '{order_no}'; did you mean 'order_id'?"),
        (7, 44, "unknown channel '库房群'"),
        (8, 5, "fulfillment 甲: the warning before promised_ship_at at that lead time is given twice"),
        (8, 37, "a ship warning goes to a group channel; 'to' is not allowed here"),
        (12, 5, "fulfillment 乙: 'late after' is already declared by fulfillment 甲"),
    ]
    assert [message_zh(msg) for _, _, msg in found[:3] + found[5:7]] == [
        "发货时效 甲：超时阈值必须大于 0",
        "预警只能以 promised_ship_at、presale_ship_by 为基准倒数，实际是 promised_ship_by；你是不是想写 promised_ship_at？",
        "预警的提前时间必须大于 0",
        "发货时效 甲：promised_ship_at 前同一提前时间的预警写了两次",
        "发货预警发到群渠道，这里不能写 'to'"]
    assert message_zh(found[-1][2]) == "发货时效 乙：超时阈值已由发货时效 甲 声明，一个规则集只能声明一次"


def test_late_after_twice_and_a_money_lead_are_refused_by_the_reader() -> None:
    with pytest.raises(RuleError) as err:
        dsl.load_text("fulfillment 甲 {\n    late after 2h\n    late after 3h\n}\n", "dsl", "f.op")
    assert [(d.line, d.col, d.message) for d in err.value.diagnostics] == [
        (3, 5, "'late_after' given twice in fulfillment 甲")]
    with pytest.raises(RuleError) as err:
        dsl.load_text("fulfillment 甲 {\n    late after ¥2\n}\n", "dsl", "f.op")
    assert err.value.diagnostics[0].line == 2


def test_the_standard_template_imports_checks_and_publishes(client, tokens) -> None:
    made = client.post("/api/v1/templates/fulfillment_standard/import", json={}, headers=auth(tokens["admin"]))
    assert made.status_code == 201, made.get_json()
    checked = client.post("/api/v1/rulesets/fulfillment_standard/check", headers=auth(tokens["admin"])).get_json()
    assert checked.get("diagnostics", checked.get("errors", [])) == []
    published = client.post("/api/v1/rulesets/fulfillment_standard/publish", json={"note": "标准发货时效"},
                            headers=auth(tokens["admin"]))
    assert published.status_code in (200, 201), published.get_json()
    listed = client.get("/api/v1/templates", headers=auth(tokens["ops"])).get_json()
    assert "fulfillment_standard" in [t["name"] for t in listed]
