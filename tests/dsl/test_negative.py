"""Broken rule files: each case pins the exact line, column and message of every error.

Inputs are small valid declarations with one thing broken, as a merchant would break them.
"""

from __future__ import annotations

import json

import pytest

from dsl import RuleError, check, load_json, parse_text, to_json

PROMO = '''promotion p {
    order a > b
    tier a pick best {
        rule "r1" when current_total >= ¥300 { amount_off ¥40 }
    }
    tier b {
        rule "r2" when customer.level == "金卡" { percent_off 5% }
    }
}
'''
MACHINE = '''channel 群 wecom { key env K }
hook h signed { secret env S }
machine m {
    data { order_id: text, note: text? }
    initial 新建
    state 新建 owner 客服 deadline 1h
    state 完成 final
    action 完成它 from 新建 to 完成 by 客服 requires note
}
'''
CASES: dict[str, str] = {
 # syntax
 "syntax_missing_brace": "promotion p {\n    order a\n",
 "syntax_bad_char": "promotion p {\n    order a @ b\n}\n",
 "syntax_power": 'risk r {\n    when 9**9**9 > 1\n    then flag "x"\n}\n',
 "syntax_malformed_number": 'risk r {\n    when count(orders within 7days) > 1\n    then flag "x"\n}\n',
 "syntax_unknown_keyword": "promtion p {\n}\n",
 "syntax_empty_parens": 'risk r {\n    when ().__class__.__bases__\n    then flag "x"\n}\n',
 "syntax_chained_compare": 'risk r {\n    when 1 < 2 < 3\n    then flag "x"\n}\n',
 "syntax_unterminated_string": 'risk r {\n    when buyer_phone == "abc\n    then flag "x"\n}\n',
 "money_three_decimals": PROMO.replace("¥40", "¥40.123"),
 "percent_three_decimals": PROMO.replace("5%", "5.125%"),
 "plain_decimal": PROMO.replace("¥300", "1.5"),
 "deadline_not_duration": MACHINE.replace("deadline 1h", "deadline 5"),
 "pull_not_duration": 'source s {\n    platform douyin\n    pull orders every ¥60\n}\n',
 "state_option_twice": MACHINE.replace("owner 客服 deadline 1h", "owner 客服 owner 仓储"),
 "nesting_too_deep": 'risk r {\n    when ' + "(" * 70 + "1" + ")" * 70 + ' > 0\n    then flag "x"\n}\n',
 # names
 "unknown_field_suggest": PROMO.replace("customer.level", "customer.levle"),
 "unknown_top_field_suggest": PROMO.replace("current_total >=", "curent_total >="),
 "unknown_field_no_suggest": PROMO.replace("customer.level", "wallet"),
 "unknown_function": PROMO.replace('customer.level == "金卡"', 'lowr(customer.level) == "金卡"'),
 "dunder_name": PROMO.replace("customer.level", "__class__"),
 "dunder_call": PROMO.replace('customer.level == "金卡"', '__import__("os") == 1'),
 "field_of_text": PROMO.replace("customer.level", "customer.level.name"),
 "line_field_in_order_scope": PROMO.replace("customer.level", "category"),
 "mapping_bad_target": 'source s {\n    platform douyin\n}\nmapping s {\n    buyer_phon = post_tel\n}\n',
 "mapping_bad_line_target": 'source s {\n    platform douyin\n}\nmapping s {\n    lines = each items { sku = a }\n}\n',
 "mapping_unknown_source": 'mapping nowhere {\n    order_id = id\n}\n',
 "unknown_platform": 'source s {\n    platform douyn\n}\n',
 # units / types
 "money_vs_duration": PROMO.replace("current_total >= ¥300", "current_total >= 5h"),
 "money_vs_percent": PROMO.replace("current_total >= ¥300", "current_total >= 15%"),
 "text_vs_money": PROMO.replace('customer.level == "金卡"', 'customer.level == ¥5'),
 "money_plus_duration": PROMO.replace("current_total >= ¥300", "current_total + 1h >= ¥300"),
 "money_times_money": PROMO.replace("current_total >= ¥300", "current_total * red_packet >= ¥300"),
 "condition_not_bool": PROMO.replace("current_total >= ¥300", "current_total"),
 "and_not_bool": PROMO.replace("current_total >= ¥300", "current_total >= ¥300 and red_packet"),
 "amount_off_not_money": PROMO.replace("amount_off ¥40", "amount_off 5h"),
 "percent_over_100": PROMO.replace("5%", "150%"),
 "function_arity": PROMO.replace('customer.level == "金卡"', 'lower(customer.level, "x") == "金卡"'),
 "in_not_list": PROMO.replace('customer.level == "金卡"', '"x" in red_packet'),
 "order_bool": PROMO.replace('customer.level == "金卡"', 'presale > true'),
 # promotions
 "duplicate_tier_in_order": PROMO.replace("order a > b", "order a > b > a"),
 "unknown_tier_in_order": PROMO.replace("order a > b", "order a > bb"),
 "tier_missing_from_order": PROMO.replace("order a > b", "order a"),
 "duplicate_tier": PROMO.replace("tier b {", "tier a {").replace("order a > b", "order a"),
 "bad_pick": PROMO.replace("pick best", "pick bset"),
 "duplicate_rule": PROMO.replace('"r2"', '"r1"'),
 "every_off_bigger": PROMO.replace("amount_off ¥40", "every ¥100 off ¥200"),
 "exclusion_unknown_tier": PROMO.replace("    tier b {", '    exclude lines tagged "秒杀" from store_coupon\n    tier b {'),
 "exclusion_unknown_rule": PROMO.replace("    tier b {", '    exclude rule "r1" with rule "r3"\n    tier b {'),
 "aggregate_in_promotion": PROMO.replace("current_total >= ¥300", "count(orders by buyer_phone within 1h) > 1"),
 # machines
 "unknown_initial": MACHINE.replace("initial 新建", "initial 新的"),
 "no_initial": MACHINE.replace("    initial 新建\n", ""),
 "unknown_role": MACHINE.replace("owner 客服", "owner 客户"),
 "unknown_role_english": MACHINE.replace("owner 客服", "owner cs_leed"),
 "unknown_by_role": MACHINE.replace("by 客服", "by 老板"),
 "outside_party_by": MACHINE.replace("by 客服", "by 消费者"),
 "unknown_action_state": MACHINE.replace("to 完成 by", "to 完结 by"),
 "unreachable_state": MACHINE.replace("    state 完成 final\n", "    state 完成 final\n    state 孤岛 owner 仓储\n    action 出岛 from 孤岛 to 完成 by 仓储\n"),
 "dead_end_state2": MACHINE.replace("    state 完成 final\n", "    state 完成 final\n    state 卡住 owner 仓储\n    action 卡 from 新建 to 卡住 by 客服\n"),
 "unknown_hook": MACHINE.replace("requires note", "requires note via webhook hh"),
 "unknown_requires": MACHINE.replace("requires note", "requires notes"),
 "unknown_data_in_when": MACHINE.replace("requires note", 'requires note when nots == "x"'),
 "unknown_channel": MACHINE.replace("requires note", 'requires note then notify 群聊 "好了"'),
 "unknown_placeholder": MACHINE.replace("requires note", 'requires note then notify 群 "单 {idd} 好了"'),
 "leaves_final": MACHINE.replace("    action 完成它", "    action 重开 from 完成 to 新建 by 客服\n    action 完成它"),
 "duplicate_state": MACHINE.replace("    state 完成 final\n", "    state 完成 final\n    state 完成 final\n"),
 "bad_data_type": MACHINE.replace("note: text?", "note: txt?"),
 # alerts / risk
 "risk_window_zero": 'risk r {\n    when count(orders by buyer_phone within 0s) >= 5\n    then flag "x"\n}\n',
 "risk_unknown_key": 'risk r {\n    when count(orders by buyer_phon within 1h) >= 5\n    then flag "x"\n}\n',
 "alert_unknown_return_field": 'channel c wecom { key env K }\nalert a {\n    measure count(returns where reasn == "x") per week\n    when change_vs_previous > 15%\n    notify c "up {change}"\n}\n',
 "alert_bad_period": 'channel c wecom { key env K }\nalert a {\n    measure count(returns) per fortnight\n    when change_vs_previous > 15%\n    notify c "up"\n}\n',
 "alert_percent_vs_count": 'channel c wecom { key env K }\nalert a {\n    measure count(returns) per week\n    when change_vs_previous > 15\n    notify c "up"\n}\n',
 "channel_bad_type": 'channel c wecome { key env K }\n',
 "duplicate_channel": 'channel c wecom { key env K }\nchannel c feishu { webhook env W }\n',
}
MACHINE_DL = MACHINE.replace("    action 完成它", "    on deadline 完成 notify 群 \"超时\"\n    action 完成它")
CASES["deadline_handler_no_deadline"] = MACHINE_DL


EXPECTED: dict[str, list[tuple[int, int, str]]] = {'syntax_missing_brace': [(2,
                           12,
                           "unexpected end of file; expected '>', 'exclude', 'freight', 'gift', "
                           "'order', 'price_check', 'tier', '}'")],
 'syntax_bad_char': [(2, 13, "unexpected character '@'")],
 'syntax_power': [(2, 12, "unexpected '*' (there is no power operator)")],
 'syntax_malformed_number': [(2,
                              30,
                              'malformed number (units are ¥ or 元 for money, % and s/m/h/d)')],
 'syntax_unknown_keyword': [(1,
                             1,
                             "unexpected 'promtion'; expected 'alert', 'channel', 'cleaning', "
                             "'follow', 'fulfillment', 'hook', 'machine', 'mapping', …")],
 'syntax_empty_parens': [(2,
                          11,
                          "unexpected ')'; expected '(', '-', '[', a money amount, a name, a "
                          'number, a string')],
 'syntax_chained_compare': [(2,
                             16,
                             "unexpected '<'; expected ')', '+', ',', '-', ']', 'action', 'and', "
                             "'by', …")],
 'syntax_unterminated_string': [(2, 25, 'unexpected character \'"\'')],
 'money_three_decimals': [(4, 59, 'money has at most 2 decimal places, got 40.123')],
 'percent_three_decimals': [(7, 61, 'percent has at most 2 decimal places, got 5.125')],
 'plain_decimal': [(4,
                    41,
                    'plain number 1.5 must be whole; write money as ¥1.5, a percent as 1.5%')],
 'deadline_not_duration': [(6, 32, 'expected duration like 60s, got 5')],
 'pull_not_duration': [(3, 23, "unexpected '¥60'; expected a number")],
 'state_option_twice': [(6, 23, "'owner' given twice in state 新建")],
 'nesting_too_deep': [(2, 73, 'brackets nest deeper than 64 levels')],
 'unknown_field_suggest': [(7,
                            24,
                            "unknown field 'customer.levle'; did you mean 'customer.level'?")],
 'unknown_top_field_suggest': [(4,
                                24,
                                "unknown field 'curent_total'; did you mean 'current_total'?")],
 'unknown_field_no_suggest': [(7, 24, "unknown field 'wallet'")],
 'unknown_function': [(7, 24, "unknown function 'lowr'; did you mean 'lower'?")],
 'dunder_name': [(7, 24, "'__class__' is not allowed: names may not start with '_'")],
 'dunder_call': [(7, 24, "'__import__' is not allowed: names may not start with '_'")],
 'field_of_text': [(7, 24, "'customer.level' is text and has no field 'name'")],
 'line_field_in_order_scope': [(7, 24, "unknown field 'category'")],
 'mapping_bad_target': [(5, 5, "unknown order field 'buyer_phon'; did you mean 'buyer_phone'?")],
 'mapping_bad_line_target': [(5, 26, "unknown order field 'sku'; did you mean 'sku_id'?")],
 'mapping_unknown_source': [(1, 1, "mapping 'nowhere' names no declared source")],
 'unknown_platform': [(2, 14, "unknown platform 'douyn'; did you mean 'douyin'?")],
 'money_vs_duration': [(4, 24, 'cannot compare money with duration')],
 'money_vs_percent': [(4, 24, 'cannot compare money with percent')],
 'text_vs_money': [(7, 24, 'cannot compare text with money')],
 'money_plus_duration': [(4, 24, 'cannot add money and duration')],
 'money_times_money': [(4, 24, 'cannot multiply money by money')],
 'condition_not_bool': [(4, 24, 'condition must be bool, got money')],
 'and_not_bool': [(4, 50, "'and' needs conditions, got money")],
 'amount_off_not_money': [(4, 59, 'amount_off must be money, got duration')],
 'percent_over_100': [(7, 49, 'percent_off must be between 0% and 100%')],
 'function_arity': [(7, 24, 'lower() takes 1 argument, got 2')],
 'in_not_list': [(7, 31, "'in' needs a list or text, got money")],
 'order_bool': [(7, 24, "'>' cannot order bool values")],
 'duplicate_tier_in_order': [(2, 19, "tier 'a' appears twice in the order")],
 'unknown_tier_in_order': [(2, 15, "unknown tier 'bb' in the order; did you mean 'b'?"),
                           (6, 5, "tier 'b' is missing from the order")],
 'tier_missing_from_order': [(6, 5, "tier 'b' is missing from the order")],
 'duplicate_tier': [(6, 5, "tier 'a' is declared twice")],
 'bad_pick': [(3, 17, "pick must be best, first or all, got 'bset'; did you mean 'best'?")],
 'duplicate_rule': [(7, 9, "rule 'r1' is declared twice")],
 'every_off_bigger': [(4, 48, 'the discount cannot exceed the step it is given for')],
 'exclusion_unknown_tier': [(6, 36, "unknown tier 'store_coupon'")],
 'exclusion_unknown_rule': [(6, 5, "unknown rule 'r3'")],
 'aggregate_in_promotion': [(4,
                             24,
                             "'count(… orders …)' is only allowed in alerts and risk rules")],
 'unknown_initial': [(5, 13, "initial state '新的' is not declared")],
 'no_initial': [(3, 1, "machine 'm' has no initial state")],
 'unknown_role': [(6, 20, "unknown role '客户'")],
 'unknown_role_english': [(6, 20, "unknown role 'cs_leed'; did you mean 'cs_lead'?")],
 'unknown_by_role': [(8, 33, "unknown role '老板'")],
 'outside_party_by': [(8,
                       33,
                       "'消费者' is an outside party and cannot act by login; use 'via webhook'")],
 'unknown_action_state': [(7, 5, "state '完成' is unreachable from initial state '新建'"),
                          (8, 27, "action '完成它' refers to unknown state '完结'")],
 'unreachable_state': [(8, 5, "state '孤岛' is unreachable from initial state '新建'")],
 'dead_end_state2': [(8, 5, "state '卡住' is not final and has no action leading out")],
 'unknown_hook': [(8, 62, "unknown hook 'hh'; did you mean 'h'?")],
 'unknown_requires': [(8,
                       45,
                       "action '完成它' requires unknown data field 'notes'; did you mean 'note'?")],
 'unknown_data_in_when': [(8, 55, "unknown field 'nots'; did you mean 'note'?")],
 'unknown_channel': [(8, 62, "unknown channel '群聊'; did you mean '群'?")],
 'unknown_placeholder': [(8, 55, "unknown placeholder '{idd}'; did you mean 'id'?")],
 'leaves_final': [(8, 20, "action '重开' leaves final state '完成'")],
 'duplicate_state': [(8, 5, "state '完成' is declared twice")],
 'bad_data_type': [(4, 34, "unknown type 'txt'; did you mean 'text'?")],
 'risk_window_zero': [(2, 10, 'window must be positive')],
 'risk_unknown_key': [(2, 26, "unknown orders field 'buyer_phon'; did you mean 'buyer_phone'?")],
 'alert_unknown_return_field': [(3, 33, "unknown returns field 'reasn'; did you mean 'reason'?")],
 'alert_bad_period': [(3, 32, "unknown period 'fortnight'; use hour, day, week or month")],
 'alert_percent_vs_count': [(4, 10, 'cannot compare percent with count')],
 'channel_bad_type': [(1, 11, "unknown channel type 'wecome'; did you mean 'wecom'?")],
 'duplicate_channel': [(2, 1, "channel 'c' is declared twice")],
 'deadline_handler_no_deadline': [(8, 17, "state '完成' has no deadline")]}


def diagnostics_of(text: str) -> list[tuple[int, int, str]]:
    try:
        found = check(parse_text(text, "broken.op"))
    except RuleError as exc:
        found = exc.diagnostics
    return [(d.line, d.col, d.message) for d in found]


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_input_reports_exact_position_and_message(case: str) -> None:
    assert diagnostics_of(CASES[case]) == EXPECTED[case]


def test_every_case_has_an_expectation() -> None:
    assert set(CASES) == set(EXPECTED)
    assert len(CASES) >= 40


def test_many_errors_in_one_file_are_all_reported() -> None:
    text = PROMO.replace("customer.level", "customer.levle").replace("¥300", "5h")
    found = diagnostics_of(text)
    assert found == [(4, 24, "cannot compare money with duration"),
                     (7, 24, "unknown field 'customer.levle'; did you mean 'customer.level'?")]


def test_error_text_has_location_source_line_and_caret() -> None:
    text = PROMO.replace("customer.level", "customer.levle")
    (diag,) = check(parse_text(text, "rules/p.op"))
    lines = diag.format().splitlines()
    assert lines[0] == "rules/p.op:7:24: unknown field 'customer.levle'; did you mean 'customer.level'?"
    assert lines[1] == '        rule "r2" when customer.levle == "金卡" { percent_off 5% }'
    # "r2" is ASCII, so the caret sits under column 24
    assert lines[2] == " " * 23 + "^"


def test_caret_counts_chinese_characters_as_two_cells() -> None:
    text = 'risk 疑似黄牛 {\n    when count(orders by 手机 within 1h) >= 5\n    then flag "x"\n}\n'
    (diag,) = check(parse_text(text, "r.op"))
    assert (diag.line, diag.col) == (2, 26)
    assert diag.caret == " " * 25 + "^"


def _valid_promotion_json() -> dict:
    return to_json(parse_text(PROMO, "p.op"))


def json_errors(obj: dict) -> list[tuple[str, str]]:
    with pytest.raises(RuleError) as info:
        load_json(json.dumps(obj, ensure_ascii=False), "p.json")
    return [(d.pointer, d.message) for d in info.value.diagnostics]


def test_json_wrong_type_carries_pointer() -> None:
    obj = _valid_promotion_json()
    obj["declarations"][0]["tiers"][1]["rules"][0]["discount"]["percent"] = "5%"
    assert json_errors(obj) == [("/declarations/0/tiers/1/rules/0/discount/percent",
                                 'expected integer, got "5%"')]


def test_json_bad_enum_carries_pointer() -> None:
    obj = _valid_promotion_json()
    obj["declarations"][0]["tiers"][0]["pick"] = "worst"
    assert json_errors(obj) == [("/declarations/0/tiers/0/pick",
                                 '"worst" is not one of "best", "first", "all"')]


def test_json_missing_field_carries_pointer() -> None:
    obj = _valid_promotion_json()
    del obj["declarations"][0]["tiers"][0]["rules"][0]["discount"]
    assert json_errors(obj) == [("/declarations/0/tiers/0/rules/0",
                                 "'discount' is required")]


def test_json_unknown_kind_and_bad_name_are_both_reported() -> None:
    obj = _valid_promotion_json()
    obj["declarations"][0]["name"] = "has space"
    obj["declarations"].append({"kind": "promo", "name": "x"})
    assert json_errors(obj) == [
        ("/declarations/0/name", '"has space" is not a valid name'),
        ("/declarations/1/kind", '"promo" is not one of "source", "mapping", "cleaning", '
                                 '"promotion", "machine", "hook", "channel", "alert", "risk", "follow", '
                                 '"fulfillment"'),
    ]


def test_json_syntax_error_has_line_and_column() -> None:
    with pytest.raises(RuleError) as info:
        load_json('{"kind": "ruleset",\n "declarations": [}', "p.json")
    assert (info.value.line, info.value.col) == (2, 19)
    assert info.value.message.startswith("invalid JSON: ")


def test_check_error_on_json_input_carries_pointer() -> None:
    obj = _valid_promotion_json()
    obj["declarations"][0]["tiers"][1]["rules"][0]["when"]["left"]["path"] = ["customer", "levle"]
    (diag,) = check(load_json(obj, "p.json"))
    assert diag.pointer == "/declarations/0/tiers/1/rules/0/when/left"
    assert diag.format() == ("p.json:/declarations/0/tiers/1/rules/0/when/left: unknown field "
                             "'customer.levle'; did you mean 'customer.level'?")
