"""The ruleset workspace's server side: publishing a draft with errors is refused with the
checker's errors in Chinese at line:col; a form edit changes only the edited rule's line and
keeps the comments; importing over an existing ruleset asks first and keeps its published
version; the list shows each ruleset's status."""

from __future__ import annotations

import json
import re
from typing import Any

from engine.rulesets import service
from tests.builder.conftest import csrf_of

R = "promotion_apparel_festival"


def test_publish_with_errors_is_refused_with_the_checkers_errors(signed_in: Any, services: Any, festival: str) -> None:
    ops = signed_in("ops")
    with services.db.transaction() as s:
        draft = service.get_ruleset(s, R).draft_content
        service.put_draft(s, R, content=draft.replace('customer.level == "金卡"', 'custmer.levl == "金卡"'),
                          actor="x", now=services.clock.now())
    token = csrf_of(ops.get(f"/rulesets/{R}").data)
    resp = ops.post(f"/rulesets/{R}/publish", data={"csrf_token": token, "note": "试试"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "草稿有 1 处错误，不能发布" in html
    assert "第 9 行第 27 列：unknown field &#39;custmer.levl&#39;; did you mean &#39;customer&#39;?" in html
    with services.db.session() as s:
        assert service.get_ruleset(s, R).latest_version == 0


def test_live_check_answers_in_chinese_with_the_position(signed_in: Any, festival: str) -> None:
    ops = signed_in("ops")
    token = csrf_of(ops.get(f"/rulesets/{R}").data)
    resp = ops.post(f"/rulesets/{R}/live", json={"content": 'promotion p { tier t { rule "r" when custmer.level == "金卡" '
                                                           '{ percent_off 5% } } }'}, headers={"X-CSRFToken": token})
    body = resp.get_json()
    assert body["ok"] is False
    assert body["problems"] == [{"line": 1, "col": 38, "severity": "error", "where": "第 1 行第 38 列", "level": "错误",
                                 "message": "未知字段 custmer.level；你是不是想写 customer？",
                                 "original": "unknown field 'custmer.level'; did you mean 'customer'?"}]
    assert [f["name"] for f in body["forms"]] == ["p"]


def test_a_form_edit_changes_only_the_rule_line_and_keeps_comments(signed_in: Any, services: Any, festival: str) -> None:
    ops = signed_in("ops")
    page = ops.get(f"/rulesets/{R}").get_data(as_text=True)
    data = json.loads(re.search(r'id="workspace-data">(.*?)</script>', page, re.DOTALL).group(1))
    content = data["content"].replace("    tier store_coupon", "    # 店铺券只取一张\n    tier store_coupon")
    content = content.replace('split by amount on lines where category != "礼品卡" }\n        rule "满500减80"',
                              'split by amount on lines where category != "礼品卡" }  # 小额券\n        rule "满500减80"')
    model = data["forms"][0]["model"]
    rule = model["tiers"][1]["rules"][0]
    assert rule["name"] == "满300减40"
    rule["name"] = "满300减50"
    rule["discount"]["amount"]["value"] = 5000
    resp = ops.post(f"/rulesets/{R}/forms/promotion/apparel_festival", json={"content": content, "model": model},
                    headers={"X-CSRFToken": data and csrf_of(page)})
    assert resp.status_code == 200, resp.get_json()
    new = resp.get_json()["content"]
    old_lines, new_lines = content.split("\n"), new.split("\n")
    changed = [(a, b) for a, b in zip(old_lines, new_lines) if a != b]
    assert len(old_lines) == len(new_lines)
    assert changed == [(
        '        rule "满300减40" when current_total >= ¥300 { amount_off ¥40 split by amount on lines where category != "礼品卡" }  # 小额券',
        '        rule "满300减50" when current_total >= ¥300 { amount_off ¥50 split by amount on lines where category != "礼品卡" }  # 小额券',
    )]
    assert resp.get_json()["forms"][0]["model"]["tiers"][1]["rules"][0]["name"] == "满300减50"


def test_import_over_a_published_ruleset_asks_and_keeps_the_published_version(
        signed_in: Any, services: Any, festival: str) -> None:
    with services.db.transaction() as s:
        service.publish(s, R, actor="x", now=services.clock.now())
        service.put_draft(s, R, content="# 我的修改\n", actor="x", now=services.clock.now())
    ops = signed_in("ops")
    token = csrf_of(ops.get("/templates").data)
    resp = ops.post(f"/templates/{R}/import", data={"csrf_token": token, "ruleset": R})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f"规则集 {R} 已存在（已发布 v1）" in html and "已发布的 v1 保持生效" in html
    with services.db.session() as s:
        assert service.get_ruleset(s, R).draft_content == "# 我的修改\n"  # nothing changed yet
    resp = ops.post(f"/templates/{R}/import", data={"csrf_token": token, "ruleset": R, "confirm": "1"})
    assert resp.status_code == 302
    with services.db.session() as s:
        ruleset = service.get_ruleset(s, R)
        assert ruleset.latest_version == 1 and "满300减40" in ruleset.draft_content


def test_the_list_shows_status_version_and_last_change(signed_in: Any, services: Any, festival: str) -> None:
    with services.db.transaction() as s:
        service.create_ruleset(s, name="empty_one", title="空规则集", actor="li_na", now=services.clock.now())
        service.create_ruleset(s, name="published_one", content="channel wms wms { url env WMS_URL }\n",
                               actor="li_na", now=services.clock.now())
        service.publish(s, "published_one", actor="li_na", now=services.clock.now())
        service.publish(s, R, actor="li_na", now=services.clock.now())
        service.put_draft(s, R, content="# 改了\n", actor="wang", now=services.clock.now())
    html = signed_in("cs").get("/rulesets").get_data(as_text=True)
    rows = re.findall(r"<tr>\s*<td><a [^>]+>([^<]+)</a></td>.*?<span class=\"tag \w+\">([^<]+)</span></td>\s*<td>([^<]+)</td>"
                      r"\s*<td>([^<·]+)·", html, re.DOTALL)
    assert [(n, st, v, who.strip()) for n, st, v, who in rows] == [
        ("empty_one", "草稿", "—", "li_na"), ("promotion_apparel_festival", "有未发布修改", "v1", "wang"),
        ("published_one", "已发布", "v1", "li_na")]
