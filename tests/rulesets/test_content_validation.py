"""Invalid content is refused at publish with 422 and the problem's position (a line for DSL,
a JSON pointer for JSON), and nothing changes; ``check`` lists problems without changing
anything. Also the validation module itself: positions and messages from the language package."""

from __future__ import annotations

import json

import pytest

from engine.rulesets.validation import Problem, has_errors, validate_content
from tests.rulesets.helpers import L1, Api, text

BROKEN_JSON = json.dumps(
    {"declarations": [{"kind": "channel", "name": "仓储群", "type": "wms", "settings": []}, {"kind": "channel", "type": "sms"}]},
    ensure_ascii=False,
)
BROKEN_DSL, BROKEN_LINE = "channel 仓储群 feishu {\n  webhook env X,\n  secret }\n", 3


@pytest.fixture
def api(client, tokens) -> Api:
    api = Api(client, tokens)
    api.call("POST", "", body={"name": "v", "content": text(L1)})
    assert api.call("POST", "/v/publish", body={})[0] == 201
    return api


def test_invalid_json_draft_is_refused_with_a_pointer_and_nothing_changes(api: Api) -> None:
    assert api.call("PUT", "/v/draft", body={"content": BROKEN_JSON, "format": "json"})[0] == 200
    before = api.snapshot("v")
    status, body = api.call("POST", "/v/publish", body={"base_version": 1})
    assert status == 422, body
    assert body["error"]["code"] == "invalid_ruleset"
    pointers = [d.get("pointer", "") for d in body["error"]["details"]]
    assert any(p.startswith("/declarations/1") for p in pointers), body
    assert all(d["path"] == "/content" for d in body["error"]["details"])
    assert api.snapshot("v") == before
    assert api.get("/v")["latest_version"] == 1


def test_invalid_dsl_draft_is_refused_with_a_line_and_nothing_changes(api: Api) -> None:
    assert api.call("PUT", "/v/draft", body={"content": BROKEN_DSL})[0] == 200
    before = api.snapshot("v")
    status, body = api.call("POST", "/v/publish", body={})
    assert status == 422, body
    first = body["error"]["details"][0]
    assert first["line"] == BROKEN_LINE and first["col"] >= 1
    assert f"line {BROKEN_LINE}:" in body["error"]["message"]
    assert api.snapshot("v") == before


def test_rollback_after_a_refused_publish_still_works(api: Api) -> None:
    api.call("PUT", "/v/draft", body={"content": text(L1, 'risk 夜间下单 { when order.payment.paid_amount >= ¥8000 then flag "夜间下单" }')})
    assert api.call("POST", "/v/publish", body={})[0] == 201
    api.call("PUT", "/v/draft", body={"content": BROKEN_DSL})
    assert api.call("POST", "/v/publish", body={})[0] == 422
    status, v3 = api.call("POST", "/v/rollback", body={"to_version": 1})
    assert status == 201 and v3["content"] == text(L1)


def test_check_lists_problems_and_changes_nothing(api: Api) -> None:
    api.call("PUT", "/v/draft", body={"content": BROKEN_JSON, "format": "json"})
    before = api.snapshot("v")
    status, result = api.call("POST", "/v/check", body={})
    assert status == 200 and result["ok"] is False
    assert any(p["pointer"].startswith("/declarations/1") for p in result["problems"])

    status, result = api.call("POST", "/v/check", body={"content": text(L1), "format": "dsl"})
    assert status == 200 and result == {"ok": True, "problems": []}

    status, result = api.call("POST", "/v/check", body={"content": "{not json", "format": "json"})
    assert status == 200 and result["ok"] is False
    assert result["problems"][0]["line"] == 1 and result["problems"][0]["col"] == 2
    assert api.snapshot("v") == before


def test_check_is_for_editors(api: Api) -> None:
    assert api.call("POST", "/v/check", role="finance", body={})[0] == 403
    assert api.call("POST", "/v/check", role="admin", body={})[0] == 200


# --- the validation module -----------------------------------------------------------------


def test_dsl_syntax_error_has_line_column_and_source_line() -> None:
    (problem,) = validate_content(BROKEN_DSL, "dsl", filename="x.op")
    assert (problem.line, problem.col, problem.code, problem.severity) == (3, 10, "syntax", "error")
    assert problem.source_line == "  secret }"
    assert problem.message.startswith("unexpected '}'")


def test_checker_errors_are_problems_with_suggestions() -> None:
    content = text(
        "promotion p {",
        '    tier a "A" pick best {',
        '        rule "金卡" when customer.levle == "金卡" { percent_off 5% }',
        "    }",
        "}",
    )
    (problem,) = validate_content(content, "dsl")
    assert (problem.line, problem.col, problem.code) == (3, 24, "unknown-name")
    assert "did you mean 'customer.level'?" in problem.message


def test_json_problems_carry_pointers() -> None:
    problems = validate_content(BROKEN_JSON, "json")
    assert problems and all(p.is_error for p in problems)
    assert "/declarations/1" in {p.pointer for p in problems}
    assert any("'name'" in p.message for p in problems if p.pointer == "/declarations/1")


def test_json_syntax_error_has_line_and_column() -> None:
    (problem,) = validate_content('{\n  "declarations": [,]\n}', "json")
    assert (problem.line, problem.col) == (2, 20)
    assert problem.message.startswith("invalid JSON")


def test_valid_content_in_both_forms_has_no_problems() -> None:
    import dsl

    assert validate_content(text(L1), "dsl") == []
    as_json = json.dumps(dsl.to_json(dsl.parse_text(text(L1))), ensure_ascii=False)
    assert validate_content(as_json, "json") == []


def test_unknown_format_is_a_problem() -> None:
    (problem,) = validate_content("x", "yaml")
    assert problem.code == "format" and "dsl, json" in problem.message


def test_warnings_do_not_block() -> None:
    assert has_errors([Problem("advice", severity="warning")]) is False
    assert has_errors([Problem("advice", severity="warning"), Problem("bad")]) is True


def test_problem_details_locate_the_problem() -> None:
    assert Problem("m", line=3, col=5).to_detail() == {
        "path": "/content", "message": "m", "code": "invalid", "severity": "error", "line": 3, "col": 5,
    }
    assert Problem("m", pointer="/declarations/0").to_detail()["pointer"] == "/declarations/0"
