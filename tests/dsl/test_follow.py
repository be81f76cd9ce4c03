"""``follow`` declarations (which tickets follow the platform): parsed from DSL and JSON into one
model, printed back canonically (round trip), and checked — an unknown machine, action, status
or data field is a ``file:line:col`` error with a "did you mean"; an action the platform cannot
fire (webhook-only) or whose required fields no clause gives is refused; the ticket data a
machine needs must be given when the ticket opens."""

from __future__ import annotations

import json

import pytest

import dsl
from dsl import model as m
from dsl.errors import RuleError
from dsl.json_io import load_json, to_json
from dsl.printer import print_dsl

MACHINE = """\
hook approval signed {
    secret env APPROVAL_SECRET
    ticket = payload.id
}

machine lifecycle "订单" {
    data { order_id: text, tracking_no: text?, cancel_reason: text? }
    initial 待付款
    state 待付款
    state 待发货
    state 已发货
    state 已签收 final
    state 已取消 final
    action 付款 from 待付款 to 待发货
    action 发货 from 待发货 to 已发货 by 仓储 requires tracking_no
    action 签收 from 已发货 to 已签收
    action 取消 from 待付款, 待发货 to 已取消
    action 审批 from 待发货 to 已取消 via webhook approval
}
"""

FOLLOW = """\
follow 平台订单 for orders on lifecycle when not presale {
    open { order_id = order_id }
    status awaiting_shipment do 付款
    status shipped do 付款, 发货 with { tracking_no = coalesce(tracking.number, "见平台物流") }
    status cancelled do 取消 with { cancel_reason = "平台关闭订单" }
}
"""


def problems(text: str) -> list[str]:
    return [d.format().splitlines()[0] for d in dsl.check(dsl.load_text(text, "dsl", filename="f.op"))]


def test_a_follow_declaration_parses_into_the_model() -> None:
    rules = dsl.load_text(MACHINE + "\n" + FOLLOW, "dsl")
    follow = rules.follows[0]
    assert (follow.name, follow.subject, follow.machine) == ("平台订单", "orders", "lifecycle")
    assert isinstance(follow.when, m.Not)
    assert [b.name for b in follow.open_with] == ["order_id"]
    assert [(s.status, s.actions, tuple(b.name for b in s.payload)) for s in follow.statuses] == [
        ("awaiting_shipment", ("付款",), ()), ("shipped", ("付款", "发货"), ("tracking_no",)),
        ("cancelled", ("取消",), ("cancel_reason",))]
    assert problems(MACHINE + "\n" + FOLLOW) == []


def test_print_then_parse_and_json_round_trip_give_the_same_model() -> None:
    rules = dsl.load_text(MACHINE + "\n" + FOLLOW, "dsl")
    printed = print_dsl(rules)
    assert printed == MACHINE + "\n" + FOLLOW  # already canonical: fmt changes nothing
    assert dsl.load_text(printed, "dsl") == rules
    as_json = json.loads(json.dumps(to_json(rules), ensure_ascii=False))
    assert load_json(as_json) == rules
    follow = as_json["declarations"][2]
    assert follow["kind"] == "follow" and follow["statuses"][1]["actions"] == ["付款", "发货"]


@pytest.mark.parametrize(("text", "expected"), [
    (FOLLOW.replace("on lifecycle", "on lifecyle"),
     "f.op:21:27: follow 平台订单: unknown machine 'lifecyle' (declare it in this ruleset); did you mean 'lifecycle'?"),
    (FOLLOW.replace("do 取消 with", "do 取消订单 with"),
     "f.op:25:25: machine 'lifecycle' has no action '取消订单'; did you mean '取消'?"),
    (FOLLOW.replace("status shipped", "status shiped"),
     "f.op:24:12: 'shiped' is not an order status (one of pending_payment, paid_hold, awaiting_shipment, "
     "partially_shipped, shipped, delivered, completed, cancelled); did you mean 'shipped'?"),
    (FOLLOW.replace("with { tracking_no = coalesce(tracking.number, \"见平台物流\") }", ""),
     "f.op:24:27: action '发货' requires tracking_no: add `with tracking_no = …`"),
    (FOLLOW.replace("status cancelled do 取消", "status cancelled do 审批"),
     "f.op:25:25: action '审批' is fired only by webhook approval; the platform cannot fire it"),
    (FOLLOW.replace("cancel_reason =", "cancel_reson ="),
     "f.op:25:35: machine 'lifecycle' has no data field 'cancel_reson'; did you mean 'cancel_reason'?"),
    (FOLLOW.replace("open { order_id = order_id }", "open { tracking_no = tracking.number }"),
     "f.op:22:5: machine 'lifecycle' needs data field 'order_id' when a ticket opens: add `order_id = …` to open"),
    (FOLLOW.replace("when not presale", "when presal"),
     "f.op:21:42: unknown field 'presal'; did you mean 'presale'?"),
    (FOLLOW.replace("for orders", "for refunds").replace("status awaiting_shipment", "status agred"),
     "f.op:23:12: 'agred' is not a refund status (one of requested, agreed, success, refused, closed); "
     "did you mean 'agreed'?"),
    (FOLLOW.replace("for orders", "for order"),
     "f.op:21:17: follow is for orders or refunds, got 'order'; did you mean 'orders'?"),
])
def test_mistakes_are_reported_where_they_were_written(text: str, expected: str) -> None:
    found = problems(MACHINE + "\n" + text)
    assert expected in found, found


def test_a_refund_follow_reads_the_refund_and_the_order() -> None:
    text = MACHINE.replace("cancel_reason: text?", "cancel_reason: text?, amount: money") + "\n" + """\
follow 平台退款 for refunds on lifecycle when refund.amount > ¥0 and present(order.shipped_at) {
    open { order_id = order_id, amount = refund.amount }
    status success do 取消
}
"""
    assert problems(text) == []
    bad = text.replace("amount = refund.amount", "amount = refund.reason")
    assert problems(bad) == ["f.op:22:42: 'amount' is money, got text"]
    orders_only = problems(text.replace("for refunds", "for orders"))  # no refund to read there
    assert orders_only[:2] == ["f.op:21:42: unknown field 'refund.amount'; did you mean 'refunds'?",
                               "f.op:22:42: unknown field 'refund.amount'; did you mean 'refunds'?"]


def test_a_syntax_error_in_a_follow_declaration_names_its_place() -> None:
    with pytest.raises(RuleError) as info:
        dsl.load_text(FOLLOW.replace("status shipped do", "status shipped"), "dsl", filename="f.op")
    assert (info.value.line, info.value.col) == (4, 20)


def test_the_json_form_is_checked_against_its_schema() -> None:
    rules = to_json(dsl.load_text(MACHINE + "\n" + FOLLOW, "dsl"))
    rules["declarations"][2]["subject"] = "parcels"
    with pytest.raises(RuleError) as info:
        load_json(rules)
    assert info.value.pointer == "/declarations/2/subject"


def test_a_mapping_writes_refund_statuses_the_follow_declarations_know() -> None:
    text = """\
source shop { platform taobao }

mapping shop {
    order_id = tid
    refunds = each orders where present(refund_id) {
        refund_id = refund_id
        status = refund_status map { "WAIT_SELLER_AGREE": "requsted", "SUCCESS": "success", "CLOSED": "退款关闭" }
    }
}
"""
    assert problems(text) == [
        "f.op:7:59: 'requsted' is not a refund status (one of requested, agreed, success, refused, closed, or "
        "退款申请中、已同意退款、退款成功、已拒绝、退款关闭); did you mean 'requested'?"]
