"""Every builder form and call is covered by the session, CSRF and role checks: no session →
the login page (or 401 for the pages' JSON calls); a session without the CSRF token → 400 and
nothing changes; a role the route does not allow → 403; the allowed role with the token works."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from engine.storage.models import ApiToken, Ruleset, RulesetVersion, User
from tests.builder.conftest import csrf_of

R = "promotion_apparel_festival"

# (method, path, form or JSON body, is_json, roles allowed, status for an allowed call)
FORMS = [
    ("POST", "/rulesets", {"name": "new_one", "title": "新的"}, False, ("admin", "ops"), 302),
    ("POST", f"/rulesets/{R}/publish", {"note": "x"}, False, ("admin", "ops"), 302),
    ("POST", f"/rulesets/{R}/rollback", {"to_version": 1}, False, ("admin", "ops"), 422),
    ("POST", "/templates/promotion_apparel_festival/import", {"ruleset": "copy_of_festival"}, False,
     ("admin", "ops"), 302),
    ("POST", f"/rulesets/{R}/live", {"content": ""}, True, ("admin", "ops", "warehouse", "finance", "cs", "cs_lead"), 200),
    ("POST", f"/rulesets/{R}/format", {"content": "channel wms wms { url env WMS_URL }"}, True, ("admin", "ops"), 200),
    ("POST", f"/rulesets/{R}/simulate", {"content": "", "order": "{}"}, True,
     ("admin", "ops", "warehouse", "finance", "cs", "cs_lead"), 422),
    ("POST", f"/rulesets/{R}/mappings/douyin/rows", {"content": "", "rows": []}, True, ("admin", "ops"), 422),
    ("POST", f"/rulesets/{R}/mappings/douyin/preview", {"content": "", "payload": "{}"}, True,
     ("admin", "ops", "warehouse", "finance", "cs", "cs_lead"), 200),
    ("POST", f"/rulesets/{R}/what-changes", {"content": "", "n": 10}, True,
     ("admin", "ops", "warehouse", "finance", "cs", "cs_lead"), 200),
    ("POST", f"/rulesets/{R}/forms/promotion/apparel_festival", {"content": "", "model": {}}, True, ("admin", "ops"), 422),
    ("POST", f"/rulesets/{R}/machines/aftersales", {"content": "", "machine": {}}, True, ("admin", "ops"), 422),
    ("POST", "/users", {"username": "new_user", "role": "cs", "password": "long-enough-1"}, False, ("admin",), 302),
    ("POST", "/users/1/active", {"active": "0"}, False, ("admin",), 302),
    ("POST", "/users/1/password", {"password": "another-password"}, False, ("admin",), 302),
    ("POST", "/users/1/tokens", {"name": "erp"}, False, ("admin",), 201),
    ("POST", "/users/1/tokens/1/revoke", {}, False, ("admin",), 404),
]
PAGES = [("/rulesets", ("admin", "ops", "cs")), (f"/rulesets/{R}", ("admin", "ops", "cs")),
         (f"/rulesets/{R}/diff?a=0&b=0", ("admin", "ops", "cs")), ("/templates", ("admin", "ops", "cs")),
         ("/users", ("admin",))]


@pytest.fixture
def target_user(services: Any) -> None:
    """User 1 (the one the user forms act on) is a plain 客服 account."""
    from engine.auth.users import create_user

    with services.db.transaction() as s:
        create_user(s, "target_cs", "cs", "target-password", clock=services.clock)


def _send(client: Any, method: str, path: str, body: dict[str, Any], is_json: bool, csrf: str | None) -> Any:
    if is_json:
        headers = {"X-CSRFToken": csrf} if csrf else {}
        return client.open(path, method=method, json=body, headers=headers)
    data = dict(body)
    if csrf:
        data["csrf_token"] = csrf
    return client.open(path, method=method, data=data)


def _counts(services: Any) -> tuple[int, ...]:
    with services.db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) or 0 for t in (Ruleset, RulesetVersion, User, ApiToken))


@pytest.mark.parametrize("method,path,body,is_json,allowed,ok_status", FORMS, ids=[f[1] for f in FORMS])
def test_every_form_checks_session_csrf_and_role(app: Any, services: Any, signed_in: Any, festival: str,
                                                 target_user: None, method: str, path: str, body: dict[str, Any],
                                                 is_json: bool, allowed: tuple[str, ...], ok_status: int) -> None:
    anonymous = app.test_client()
    resp = _send(anonymous, method, path, body, is_json, None)
    if is_json:
        assert resp.status_code == 401
    else:
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]

    allowed_client = signed_in(allowed[0])
    before = _counts(services)
    resp = _send(allowed_client, method, path, body, is_json, None)
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    assert _counts(services) == before

    refused_role = next((r for r in ("cs", "warehouse", "ops") if r not in allowed), None)
    if refused_role is not None:
        client = signed_in(refused_role)
        before = _counts(services)
        resp = _send(client, method, path, body, is_json, csrf_of(client.get("/").data))
        assert resp.status_code == 403
        assert "无权" in resp.get_data(as_text=True)
        assert _counts(services) == before

    resp = _send(allowed_client, method, path, body, is_json, csrf_of(allowed_client.get("/").data))
    assert resp.status_code == ok_status, resp.get_data(as_text=True)[:500]


@pytest.mark.parametrize("path,allowed", PAGES, ids=[p[0] for p in PAGES])
def test_pages_need_a_session_and_the_role(app: Any, signed_in: Any, festival: str, path: str,
                                           allowed: tuple[str, ...]) -> None:
    resp = app.test_client().get(path)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")
    for role in ("admin", "ops", "cs"):
        resp = signed_in(role).get(path)
        assert resp.status_code == (200 if role in allowed else 403), (role, resp.status_code)


def test_buttons_follow_the_role(signed_in: Any, festival: str) -> None:
    ops = signed_in("ops").get(f"/rulesets/{R}").get_data(as_text=True)
    cs = signed_in("cs").get(f"/rulesets/{R}").get_data(as_text=True)
    for button in (">发布</button>", ">保存草稿</button>", ">格式化</button>", ">检查</button>"):
        assert button in ops and button not in cs
    assert ">试算</button>" in ops and ">试算</button>" in cs
    assert ">用户</a>" not in ops
    assert ">用户</a>" in signed_in("admin").get("/rulesets").get_data(as_text=True)


def test_the_builder_assets_are_served_to_anyone_and_nothing_outside_their_folder(app: Any) -> None:
    client = app.test_client()  # not signed in: the sign-in page needs its stylesheet
    css = client.get("/builder-static/builder.css")
    assert css.status_code == 200 and css.mimetype == "text/css" and b"{" in css.data
    script = client.get("/builder-static/vendor/editor.js")
    assert script.status_code == 200 and script.mimetype in ("text/javascript", "application/javascript")
    assert client.get("/builder-static/../login.py").status_code == 404
    assert client.get("/builder-static/no-such-file.js").status_code == 404
