"""The machine form's rows are written into the DSL as a targeted change (comments kept): an
action's requires, when and effects, new states, actions and data fields; a row that cannot be
written is refused in Chinese naming the row and field, and the checker's problems in the new
text come back placed on the field they are about."""

from __future__ import annotations

import copy
from typing import Any

from tests.builder.conftest import csrf_of

R = "aftersales_standard"
TEXT = """# 售后（简）
channel 客服组长群 wecom { key env WECOM_CS_LEAD_KEY }
channel 短信 sms { url env SMS_GATEWAY_URL }
channel wms wms { url env WMS_URL }

machine aftersales "标准售后" {
    data { order_id: text, consumer_phone: text?, qc_result: text? }
    initial 待质检
    state 待质检 owner 仓储 deadline 48h  # 仓库两天内质检
    state 待处理 owner 客服组长
    state 已关闭 final
    # 质检结论必须是合格
    action 质检通过 from 待质检 to 待处理 by 仓储 requires qc_result when qc_result == "合格"
        then notify 客服组长群 "售后单 {id} 质检通过，请处理"
    action 关闭 from 待处理 to 已关闭 by 客服
}
"""


def _post(client: Any, rows: dict[str, Any], content: str = TEXT, decl: str = "aftersales") -> Any:
    return client.post(f"/rulesets/{R}/machines/{decl}", json={"content": content, "machine": rows},
                       headers={"X-CSRFToken": csrf_of(client.get("/").data)})


def _rows(client: Any) -> dict[str, Any]:
    resp = client.post(f"/rulesets/{R}/live", json={"content": TEXT}, headers={"X-CSRFToken": csrf_of(client.get("/").data)})
    assert resp.status_code == 200
    machines = resp.get_json()["machines"]
    assert [m["name"] for m in machines] == ["aftersales"]
    return copy.deepcopy(machines[0])


def test_live_check_gives_the_rows_and_what_the_pickers_offer(signed_in: Any, aftersales: str) -> None:
    ops = signed_in("ops")
    resp = ops.post(f"/rulesets/{R}/live", json={"content": TEXT}, headers={"X-CSRFToken": csrf_of(ops.get("/").data)})
    body = resp.get_json()
    rows = body["machines"][0]
    assert rows["actions"][0] == {
        "name": "质检通过", "from": ["待质检"], "to": "待处理", "by": ["仓储"], "requires": ["qc_result"],
        "when": 'qc_result == "合格"', "via": "",
        "effects": [{"kind": "notify", "channel": "客服组长群", "to": "", "message": "售后单 {id} 质检通过，请处理"}]}
    assert rows["states"][0] == {"name": "待质检", "owner": "仓储", "deadline": 172800, "final": False}
    assert rows["problems"] == {} and "<svg" in rows["svg"]
    vocab = body["machine_vocabulary"]
    assert vocab["notify_channels"] == ["客服组长群", "短信"]
    assert vocab["call_channels"] == [{"name": "wms", "operations": ["outbound"]}]
    assert vocab["archive_targets"] == [{"code": "finance_voucher", "label": "财务凭证"}]


def test_requires_when_and_effects_are_written_on_their_own_lines_only(signed_in: Any, aftersales: str) -> None:
    ops = signed_in("ops")
    rows = _rows(ops)
    action = rows["actions"][0]
    action["requires"] = ["qc_result", "consumer_phone"]
    action["when"] = 'qc_result == "合格" or qc_result == "轻微瑕疵"'
    action["effects"] = [{"kind": "notify", "channel": "短信", "to": "consumer_phone", "message": "您的售后单已质检通过"},
                         {"kind": "call", "channel": "wms", "operation": "outbound", "args": "order_id"},
                         {"kind": "archive", "target": "finance_voucher"}]
    resp = _post(ops, rows)
    assert resp.status_code == 200, resp.get_json()
    text = resp.get_json()["content"]
    assert text == TEXT.replace(
        'requires qc_result when qc_result == "合格"\n        then notify 客服组长群 "售后单 {id} 质检通过，请处理"',
        'requires qc_result, consumer_phone when qc_result == "合格" or qc_result == "轻微瑕疵"\n'
        '        then notify 短信 to consumer_phone "您的售后单已质检通过", call wms.outbound(order_id), '
        'archive finance_voucher')
    assert resp.get_json()["machines"][0]["problems"] == {}


def test_states_actions_and_data_fields_are_added_and_removed(signed_in: Any, aftersales: str) -> None:
    ops = signed_in("ops")
    rows = _rows(ops)
    rows["data"].append({"name": "review_note", "type": "text", "optional": True})
    rows["states"].insert(2, {"name": "待复核", "owner": "客服组长", "deadline": 7200, "final": False})
    rows["actions"].append({"name": "复核", "from": ["待处理"], "to": "待复核", "by": ["客服组长"],
                            "requires": ["review_note"], "when": "", "via": "", "effects": []})
    rows["actions"].append({"name": "复核完成", "from": ["待复核"], "to": "已关闭", "by": ["客服组长"],
                            "requires": [], "when": "", "via": "", "effects": []})
    del rows["actions"][1]  # 关闭
    resp = _post(ops, rows)
    assert resp.status_code == 200, resp.get_json()
    text = resp.get_json()["content"]
    assert "    data { order_id: text, consumer_phone: text?, qc_result: text?, review_note: text? }\n" in text
    assert "    state 已关闭 final\n" in text and "    state 待复核 owner 客服组长 deadline 2h\n" in text
    assert "    action 复核 from 待处理 to 待复核 by 客服组长 requires review_note\n" in text
    assert "    action 复核完成 from 待复核 to 已关闭 by 客服组长\n" in text
    assert "action 关闭 " not in text
    assert "# 仓库两天内质检" in text and "    # 质检结论必须是合格\n" in text and text.startswith("# 售后（简）\n")
    assert resp.get_json()["machines"][0]["problems"] == {}
    assert 'data-lane="cs_lead"' in resp.get_json()["machines"][0]["svg"]


def test_checker_problems_come_back_on_the_field_in_chinese(signed_in: Any, aftersales: str) -> None:
    ops = signed_in("ops")
    rows = _rows(ops)
    rows["actions"][0]["requires"] = ["qc_result", "qc_note"]
    rows["actions"][0]["effects"] = [{"kind": "archive", "target": "finance_vouchr"}]
    rows["actions"][1]["to"] = "已完结"
    rows["states"].append({"name": "待复核", "owner": "客服组长", "deadline": 0, "final": False})
    resp = _post(ops, rows)
    assert resp.status_code == 200
    problems = resp.get_json()["machines"][0]["problems"]
    assert problems == {
        "/actions/0/requires": ["错误：动作 质检通过 需要填写的 qc_note 不是已声明的数据字段"],
        "/actions/0/effects/0": ["错误：未知归档目标 finance_vouchr；可用：finance_voucher；你是不是想写 finance_voucher？"],
        "/actions/1/to": ["错误：动作 关闭 引用了未声明的状态 已完结"],
        "/states/2": ["错误：状态 已关闭 从初始状态 待质检 无法到达"],
        "/states/3": ["错误：状态 待复核 不是终态，却没有任何动作离开它", "错误：状态 待复核 从初始状态 待质检 无法到达"],
    }


def test_a_row_that_cannot_be_written_is_named_and_nothing_changes(signed_in: Any, aftersales: str) -> None:
    ops = signed_in("ops")
    rows = _rows(ops)
    rows["actions"][0]["when"] = 'qc_result == "合格" and'
    resp = _post(ops, rows)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["message"].startswith("动作「质检通过」的条件：写法有误：文件意外结束；应为 ")
    assert error["details"] == [{"path": "/machine/actions/0/when", "message": error["message"].split("：", 1)[1]}]
    rows = _rows(ops)
    rows["actions"][0]["effects"] = [{"kind": "notify", "channel": "短信", "to": "", "message": ""}]
    resp = _post(ops, rows)
    assert resp.get_json()["error"]["message"] == "动作「质检通过」的第 1 个效果的通知内容：请填写通知内容"
    rows = _rows(ops)
    rows["states"][0]["name"] = "待 质检"
    resp = _post(ops, rows)
    assert resp.get_json()["error"]["details"][0]["path"] == "/machine/states/0/name"
    resp = _post(ops, _rows(ops), decl="no_such_machine")
    assert resp.status_code == 422 and resp.get_json()["error"]["message"] == "规则文本中没有名为「no_such_machine」的状态机"


def test_only_editors_may_write_the_machine_form(signed_in: Any, aftersales: str) -> None:
    cs = signed_in("cs")
    rows = _rows(cs)
    resp = _post(cs, rows)
    assert resp.status_code == 403


def test_effects_the_form_shows_as_text_are_kept_when_others_are_removed(signed_in: Any, aftersales: str) -> None:
    ops = signed_in("ops")
    text = TEXT.replace('then notify 客服组长群 "售后单 {id} 质检通过，请处理"',
                        'then notify 客服组长群 "售后单 {id} 质检通过，请处理", set qc_result = "合格"')
    resp = ops.post(f"/rulesets/{R}/live", json={"content": text}, headers={"X-CSRFToken": csrf_of(ops.get("/").data)})
    rows = resp.get_json()["machines"][0]
    assert rows["actions"][0]["effects"][1] == {"kind": "kept", "text": 'set qc_result = "合格"'}
    del rows["actions"][0]["effects"][0]
    resp = _post(ops, rows, content=text)
    assert resp.status_code == 200, resp.get_json()
    assert '        then set qc_result = "合格"\n' in resp.get_json()["content"]
