"""What the checker accepts runs, or is refused: an effect naming an operation, an archive target
or a channel type the outbox has no handler for fails `orderpulse check` at its word, instead of
publishing and then dying in the outbox as a dead letter."""

from __future__ import annotations

import dsl

RULES = """channel wms wms { url env WMS_URL }
channel 仓储群 feishu { webhook env H }
machine m {
    data { order_id: text }
    initial 新建
    state 新建 owner 客服
    state 完成 final
    action 入库 from 新建 to 完成 by 客服
        then {effect}
}
"""


def _problems(effect: str) -> list[str]:
    text = RULES.replace("{effect}", effect)
    return [f"{d.line}:{d.col}: {d.message}" for d in dsl.check(dsl.parse_text(text, "rules.op"))]


def test_declared_effects_with_handlers_check_clean() -> None:
    assert _problems('call wms.outbound(order_id), archive finance_voucher, notify 仓储群 "入库 {order_id}"') == []


def test_an_operation_the_wms_does_not_offer_is_refused_at_its_word() -> None:
    assert _problems("call wms.inbound(order_id)") == [
        "9:23: wms channel 'wms' has no operation 'inbound'; it offers: outbound"]


def test_an_unknown_archive_target_is_refused() -> None:
    assert _problems("archive tax_record") == [
        "9:22: unknown archive target 'tax_record'; known: finance_voucher"]


def test_channels_are_used_as_their_declared_type_allows() -> None:
    assert _problems('notify wms "到货"') == [
        "9:21: channel 'wms' is a wms channel and cannot be notified; notify goes to a wecom, feishu, "
        "dingtalk, sms channel"]
    assert _problems("call 仓储群.send(order_id)") == [
        "9:19: channel '仓储群' is a feishu channel, which offers no operations to call; call goes to a wms channel"]


def test_the_same_errors_in_the_json_form_carry_a_pointer() -> None:
    text = RULES.replace("{effect}", "call wms.inbound(order_id)")
    as_json = dsl.to_json_text(dsl.parse_text(text, "rules.op"))
    found = dsl.check(dsl.load_json(as_json, "rules.json"))
    assert [(d.pointer, d.message) for d in found] == [
        ("/declarations/2/actions/0/effects/0/operation", "wms channel 'wms' has no operation 'inbound'; it offers: outbound")]
