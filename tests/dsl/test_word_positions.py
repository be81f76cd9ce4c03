"""Errors about one name inside a list point at that name, not at the enclosing declaration.

Tier names in a promotion's ``order`` and in exclusions, states in ``from``/``to``, roles in
``by``, ``requires`` fields, notify channels, ``call`` targets and ``via webhook`` hooks; and
single names: the initial state, a state's owner, a tier's pick, the state and action of a
deadline handler, ``migrate`` old/new, data field types, a source's platform, channel and hook
types. Each case pins line, column and message in DSL text, and the JSON pointer of the value
for JSON input. Positions never take part in model equality or in the JSON form.
"""

from __future__ import annotations

import pytest

from dsl import RuleError, check, load_json, parse_text, to_json
from dsl import model as m

PROMO = '''promotion p {
    order a >
          b > c
    tier a { rule "r1" { percent_off 5% } }
    tier b { rule "r2" { percent_off 5% } }
    exclude lines tagged "秒杀" from a, bx
}
'''
MACHINE = '''channel 群 wecom { key env K }
channel 仓 wms { url env U }
hook h signed { secret env S }
machine m {
    data { order_id: text, note: text? }
    initial 新建
    state 新建 owner 客服 deadline 1h
    state 处理中 owner 仓储
    state 完成 final
    action 接单 from 新建 to 处理中 by 客服
    action 完成它 from 新建, 处理中 to 完成 by 客服, 仓储 requires order_id, note
        then notify 群 "好了", call 仓.outbound(order_id)
    on deadline 新建 notify 群 "超时"
}
'''


def positions(text: str) -> list[tuple[int, int, str]]:
    try:
        found = check(parse_text(text, "broken.op"))
    except RuleError as exc:  # pragma: no cover - every case below parses
        found = exc.diagnostics
    return [(d.line, d.col, d.message) for d in found]


def test_the_valid_inputs_are_clean() -> None:
    assert positions(PROMO.replace(" bx", " b").replace("b > c", "b")) == []
    assert positions(MACHINE) == []


CASES: dict[str, tuple[str, list[tuple[int, int, str]]]] = {
    # promotion order, across a line break
    "order_unknown_on_next_line": (
        PROMO.replace(", bx", ""),
        [(3, 15, "unknown tier 'c' in the order")]),
    "order_repeat_points_at_second": (
        PROMO.replace("b > c", "b > a").replace(", bx", ""),
        [(3, 15, "tier 'a' appears twice in the order")]),
    "order_two_bad_names": (
        PROMO.replace("order a >", "order aa >").replace(", bx", ""),
        [(2, 11, "unknown tier 'aa' in the order; did you mean 'a'?"),
         (3, 15, "unknown tier 'c' in the order"),
         (4, 5, "tier 'a' is missing from the order")]),
    # exclusions
    "exclusion_second_tier": (
        PROMO.replace("b > c", "b"),
        [(6, 39, "unknown tier 'bx'; did you mean 'b'?")]),
    "exclusion_both_tiers": (
        PROMO.replace("b > c", "b").replace("from a, bx", "from aa, bx"),
        [(6, 36, "unknown tier 'aa'; did you mean 'a'?"),
         (6, 40, "unknown tier 'bx'; did you mean 'b'?")]),
    # from / to
    "from_second_state": (
        MACHINE.replace("from 新建, 处理中 to 完成", "from 新建, 处理 to 完成"),
        [(8, 5, "state '处理中' is not final and has no action leading out"),
         (11, 25, "action '完成它' refers to unknown state '处理'; did you mean '处理中'?")]),
    "to_state": (
        MACHINE.replace("to 处理中 by", "to 处理 by"),
        [(8, 5, "state '处理中' is unreachable from initial state '新建'"),
         (10, 26, "action '接单' refers to unknown state '处理'; did you mean '处理中'?")]),
    "from_final_second": (
        MACHINE.replace("from 新建, 处理中 to 完成", "from 新建, 完成 to 完成"),
        [(8, 5, "state '处理中' is not final and has no action leading out"),
         (11, 25, "action '完成它' leaves final state '完成'")]),
    # by
    "by_second_role": (
        MACHINE.replace("by 客服, 仓储", "by 客服, 老板"),
        [(11, 42, "unknown role '老板'")]),
    "by_outside_party_second": (
        MACHINE.replace("by 客服, 仓储", "by 客服, 消费者"),
        [(11, 42, "'消费者' is an outside party and cannot act by login; use 'via webhook'")]),
    # requires
    "requires_second_field": (
        MACHINE.replace("requires order_id, note", "requires order_id, nots"),
        [(11, 64, "action '完成它' requires unknown data field 'nots'; did you mean 'note'?")]),
    # channels: notify in an action, call target, deadline handler
    "notify_channel_on_then_line": (
        MACHINE.replace('notify 群 "好了"', 'notify 群聊 "好了"'),
        [(12, 21, "unknown channel '群聊'; did you mean '群'?")]),
    "call_target": (
        MACHINE.replace("call 仓.outbound", "call 仓库.outbound"),
        [(12, 34, "unknown channel '仓库'; did you mean '仓'?")]),
    "deadline_handler_channel": (
        MACHINE.replace('notify 群 "超时"', 'notify 群组 "超时"'),
        [(13, 27, "unknown channel '群组'; did you mean '群'?")]),
    # via webhook, on its own line
    "via_webhook_next_line": (
        MACHINE.replace("by 客服\n", "by 客服\n        via webhook hk\n"),
        [(11, 21, "unknown hook 'hk'; did you mean 'h'?")]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_points_at_the_word(case: str) -> None:
    text, expected = CASES[case]
    assert positions(text) == expected


ALERT_AND_RISK = '''channel 群 wecom { key env K }
alert a {
    measure count(returns) per week
    when change_vs_previous > 15%
    notify 群 "ok"
    notify 郡 "up {change}"
}
risk r {
    when count(orders by buyer_phone within 1h) >= 5
    then flag "x" hold, notify 群 "a", notify 裙 "b"
}
'''


def test_alert_and_risk_notify_channels_point_at_the_channel() -> None:
    assert positions(ALERT_AND_RISK) == [
        (6, 12, "unknown channel '郡'"),
        (10, 46, "unknown channel '裙'"),
    ]


# --------------------------------------------------------------------------- JSON input


def json_pointers(text: str, edit: object) -> list[tuple[str, str]]:
    obj = to_json(parse_text(text, "ok.op"))
    edit(obj)  # type: ignore[operator]
    return [(d.pointer, d.message) for d in check(load_json(obj, "rules.json"))]


def test_json_order_error_points_at_the_list_element() -> None:
    def edit(obj: dict) -> None:
        obj["declarations"][0]["order"][1] = "bb"
    text = PROMO.replace("b > c", "b").replace(", bx", "")
    assert json_pointers(text, edit) == [
        ("/declarations/0/order/1", "unknown tier 'bb' in the order; did you mean 'b'?"),
        ("/declarations/0/tiers/1", "tier 'b' is missing from the order"),
    ]


def test_json_exclusion_error_points_at_the_list_element() -> None:
    def edit(obj: dict) -> None:
        obj["declarations"][0]["exclusions"][0]["tiers"][1] = "bx"
    text = PROMO.replace("b > c", "b").replace(", bx", ", b")
    assert json_pointers(text, edit) == [
        ("/declarations/0/exclusions/0/tiers/1", "unknown tier 'bx'; did you mean 'b'?"),
    ]


def test_json_action_errors_point_at_each_name() -> None:
    def edit(obj: dict) -> None:
        action = obj["declarations"][3]["actions"][1]
        action["sources"][1] = "处理"
        action["by"][1] = "老板"
        action["requires"][1] = "nots"
        action["via_webhook"] = "hk"
        action["effects"][0]["channel"] = "群聊"
        action["effects"][1]["target"] = "仓库"
    here = "/declarations/3/actions/1"
    assert sorted(json_pointers(MACHINE, edit)) == sorted([
        (f"{here}/sources/1", "action '完成它' refers to unknown state '处理'; did you mean '处理中'?"),
        (f"{here}/by/1", "unknown role '老板'"),
        (f"{here}/requires/1",
         "action '完成它' requires unknown data field 'nots'; did you mean 'note'?"),
        (f"{here}/via_webhook", "unknown hook 'hk'; did you mean 'h'?"),
        (f"{here}/effects/0/channel", "unknown channel '群聊'; did you mean '群'?"),
        (f"{here}/effects/1/target", "unknown channel '仓库'; did you mean '仓'?"),
        ("/declarations/3/states/1", "state '处理中' is not final and has no action leading out"),
    ])


def test_json_target_state_points_at_target() -> None:
    def edit(obj: dict) -> None:
        obj["declarations"][3]["actions"][0]["target"] = "处理"
    assert ("/declarations/3/actions/0/target",
            "action '接单' refers to unknown state '处理'; did you mean '处理中'?") \
        in json_pointers(MACHINE, edit)


# --------------------------------------------------------------------------- equality


def test_word_positions_do_not_take_part_in_equality_or_json() -> None:
    spaced = MACHINE.replace("from 新建, 处理中 to 完成", "from   新建 ,\n 处理中   to 完成")
    a, b = parse_text(MACHINE), parse_text(spaced)
    assert a == b and hash(a) == hash(b)
    action_a, action_b = a.machines[0].actions[1], b.machines[0].actions[1]
    assert action_a.loc("sources", 1) != action_b.loc("sources", 1)
    assert to_json(a) == to_json(b)
    assert "locs" not in repr(a) and "locs" not in str(to_json(a))
    assert load_json(to_json(a)) == a


def test_loc_falls_back_to_the_node_position() -> None:
    built = m.Action("a", ("x", "y"), "z", line=3, col=5)
    assert built.loc("sources", 1) == m.Loc(3, 5)
    parsed = parse_text(MACHINE).machines[0].actions[1]
    assert parsed.loc("sources", 1) == m.Loc(11, 25)
    assert parsed.loc("sources", 9) == m.Loc(parsed.line, parsed.col)
    assert parsed.loc("target") == m.Loc(11, 32)


# --------------------------------------------------------------------------- single names

HANDLER = "    on deadline 新建 notify 群 \"超时\"\n"
SINGLE_NAMES: dict[str, tuple[str, list[tuple[int, int, str]]]] = {
    "initial_state_on_next_line": (
        MACHINE.replace("initial 新建", "initial\n        新建的"),
        [(7, 9, "initial state '新建的' is not declared; did you mean '新建'?")]),
    "state_owner": (
        MACHINE.replace("owner 仓储", "owner 仓管"),
        [(8, 21, "unknown role '仓管'")]),
    "state_owner_english": (
        MACHINE.replace("owner 仓储", "owner warehose"),
        [(8, 21, "unknown role 'warehose'; did you mean 'warehouse'?")]),
    "tier_pick_on_next_line": (
        PROMO.replace("tier a {", 'tier a "甲" pick\n        bets {').replace(", bx", ""),
        [(3, 15, "unknown tier 'c' in the order"),
         (5, 9, "pick must be best, first or all, got 'bets'; did you mean 'best'?")]),
    "deadline_handler_unknown_state": (
        MACHINE.replace(HANDLER, "    on deadline 新 notify 群 \"超时\"\n"),
        [(13, 17, "on deadline names unknown state '新'; did you mean '新建'?")]),
    "deadline_handler_state_without_deadline": (
        MACHINE.replace(HANDLER, HANDLER + "    on deadline 处理中 notify 群 \"慢\"\n"),
        [(14, 17, "state '处理中' has no deadline")]),
    "deadline_handler_unknown_action": (
        MACHINE.replace(HANDLER, "    on deadline 新建 do 完成 notify 群 \"超时\"\n"),
        [(13, 23, "unknown action '完成'; did you mean '完成它'?")]),
    "deadline_handler_action_from_elsewhere": (
        MACHINE.replace("owner 仓储", "owner 仓储 deadline 2h")
        .replace(HANDLER, HANDLER + "    on deadline 处理中 do 接单\n"),
        [(14, 24, "action '接单' cannot run from state '处理中'")]),
    "migrate_unknown_target": (
        MACHINE.replace(HANDLER, HANDLER + "    migrate 旧状态 to 处理\n"),
        [(14, 20, "migrate target '处理' is not a state; did you mean '处理中'?")]),
    "migrate_same_state_twice": (
        MACHINE.replace(HANDLER, HANDLER + "    migrate 旧状态 to 完成\n    migrate 旧状态 to 新建\n"),
        [(15, 13, "state '旧状态' is migrated twice")]),
    "data_field_type": (
        MACHINE.replace("note: text?", "note: txet?"),
        [(5, 34, "unknown type 'txet'; did you mean 'text'?")]),
    "source_platform": (
        'source 店 "抖店" {\n    pull orders every 60s\n    platform douyn\n}\n',
        [(3, 14, "unknown platform 'douyn'; did you mean 'douyin'?")]),
    "channel_type": (
        MACHINE.replace("channel 仓 wms", "channel 仓 wsm"),
        [(2, 11, "unknown channel type 'wsm'; did you mean 'wms'?")]),
    "hook_type": (
        MACHINE.replace("hook h signed", "hook h signd"),
        [(3, 8, "unknown hook type 'signd'; did you mean 'signed'?")]),
}


@pytest.mark.parametrize("case", sorted(SINGLE_NAMES))
def test_single_name_error_points_at_the_name(case: str) -> None:
    text, expected = SINGLE_NAMES[case]
    assert positions(text) == expected


def test_json_single_name_errors_point_at_each_value() -> None:
    def edit(obj: dict) -> None:
        channel, hook, machine = obj["declarations"][1:4]
        channel["type"] = "wsm"
        hook["type"] = "signd"
        machine["initial"] = "新建的"
        machine["states"][1]["owner"] = "仓管"
        machine["deadline_handlers"][0]["state"] = "新"
        machine["migrations"] = [{"kind": "state_mapping", "old": "旧", "new": "处理"}]
    assert sorted(json_pointers(MACHINE, edit)) == sorted([
        ("/declarations/1/type", "unknown channel type 'wsm'; did you mean 'wms'?"),
        ("/declarations/2/type", "unknown hook type 'signd'; did you mean 'signed'?"),
        ("/declarations/3/initial", "initial state '新建的' is not declared; did you mean '新建'?"),
        ("/declarations/3/states/1/owner", "unknown role '仓管'"),
        ("/declarations/3/deadline_handlers/0/state",
         "on deadline names unknown state '新'; did you mean '新建'?"),
        ("/declarations/3/migrations/0/new",
         "migrate target '处理' is not a state; did you mean '处理中'?"),
    ])


def test_json_platform_points_at_the_value() -> None:
    source = 'source 店 {\n    platform douyin\n}\n'
    obj = to_json(parse_text(source))
    obj["declarations"][0]["platform"] = "douyn"
    assert [(d.pointer, d.message) for d in check(load_json(obj, "s.json"))] == [
        ("/declarations/0/platform", "unknown platform 'douyn'; did you mean 'douyin'?")]
