"""用户 page (管理员): a disabled user can no longer sign in nor use their tokens; a reset
password replaces the old one; a weak password is refused in Chinese; an administrator cannot
disable their own account."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from engine.auth.users import create_user, issue_token
from engine.storage.models import User
from tests.builder.conftest import csrf_of
from tests.conftest import auth


def _login(app: Any, username: str, password: str) -> int:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.77.0.1"
    token = csrf_of(client.get("/login").data)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}).status_code


def test_disable_and_reset_password(app: Any, services: Any, signed_in: Any) -> None:
    with services.db.transaction() as s:
        user = create_user(s, "zhou_cw", "finance", "旧密码-2026-abc", clock=services.clock)
        token = issue_token(s, user, clock=services.clock)
        user_id = user.id
    admin = signed_in("admin")
    csrf = csrf_of(admin.get("/users").data)

    resp = admin.post(f"/users/{user_id}/password", data={"csrf_token": csrf, "password": "123"})
    assert resp.status_code == 422 and "密码至少 8 位" in resp.get_data(as_text=True)
    resp = admin.post(f"/users/{user_id}/password", data={"csrf_token": csrf, "password": "新密码-2026-xyz"})
    assert resp.status_code == 302
    assert _login(app, "zhou_cw", "旧密码-2026-abc") == 401
    assert _login(app, "zhou_cw", "新密码-2026-xyz") == 302

    resp = admin.post(f"/users/{user_id}/active", data={"csrf_token": csrf, "active": "0"})
    assert resp.status_code == 302
    page = admin.get("/users").get_data(as_text=True)
    row = re.search(r'<tr data-user="zhou_cw">.*?</tr>', page, re.DOTALL).group(0)
    assert "已停用" in row and ">启用</button>" in row
    assert _login(app, "zhou_cw", "新密码-2026-xyz") == 401
    assert app.test_client().get("/api/v1/rulesets", headers=auth(token)).status_code == 401

    with services.db.session() as s:
        admin_id = s.scalar(select(User.id).where(User.username == admin.username))
    resp = admin.post(f"/users/{admin_id}/active", data={"csrf_token": csrf, "active": "0"})
    assert resp.status_code == 409 and "不能停用或降级自己的账号" in resp.get_data(as_text=True)
    assert admin.get("/users").status_code == 200
