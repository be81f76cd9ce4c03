"""Builder sign-in: CSRF-protected form, a session that works for the API (with the CSRF
header on unsafe calls), rate-limited failures; passwords stored as Argon2 hashes and API
tokens stored only as digests."""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from engine.auth.users import create_user, issue_token
from engine.storage.models import ApiToken, User

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def li(services) -> str:
    """An ops user 李娜 with password; returns the username."""
    with services.db.transaction() as s:
        create_user(s, "li_na", "运营", "春节-大促-2026", display_name="李娜", clock=services.clock)
    return "li_na"


@pytest.fixture
def browser(app) -> Any:
    """A client with its own address, so rate-limit counters never leak between tests."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    return client


def csrf_from(html: bytes) -> str:
    match = CSRF_FIELD.search(html.decode())
    assert match, "no CSRF field on the page"
    return match.group(1)


def test_login_requires_the_csrf_token(browser, li) -> None:
    resp = browser.post("/login", data={"username": li, "password": "春节-大促-2026"})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["message"] == "The CSRF token is missing."
    resp = browser.post("/login", data={"username": li, "password": "春节-大促-2026", "csrf_token": "forged"})
    assert resp.status_code == 400
    assert browser.get("/api/v1/rulesets").status_code == 401


def test_login_with_csrf_gives_a_session_that_works_for_the_api(browser, li) -> None:
    token = csrf_from(browser.get("/login").data)
    resp = browser.post("/login", data={"username": li, "password": "春节-大促-2026", "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/")

    assert browser.get("/api/v1/rulesets").status_code == 200
    home = browser.get("/")
    assert home.status_code == 200 and "李娜（运营）" in home.data.decode()

    # Unsafe API calls from the session need the CSRF header.
    body = {"name": "from_builder", "content": "channel wms wms { url env WMS_URL }\n"}
    resp = browser.post("/api/v1/rulesets", json=body)
    assert resp.status_code == 400
    resp = browser.post("/api/v1/rulesets", json=body, headers={"X-CSRFToken": csrf_from(home.data)})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["updated_by"] == "li_na"

    browser.post("/logout", data={"csrf_token": csrf_from(browser.get("/").data)})
    assert browser.get("/api/v1/rulesets").status_code == 401


def test_wrong_password_is_refused(browser, li) -> None:
    token = csrf_from(browser.get("/login").data)
    resp = browser.post("/login", data={"username": li, "password": "wrong", "csrf_token": token})
    assert resp.status_code == 401 and "用户名或密码错误" in resp.data.decode()
    assert browser.get("/api/v1/rulesets").status_code == 401


def test_sixth_failed_login_within_a_minute_is_rate_limited(browser, li) -> None:
    token = csrf_from(browser.get("/login").data)
    for attempt in range(5):
        resp = browser.post("/login", data={"username": li, "password": f"guess-{attempt}", "csrf_token": token})
        assert resp.status_code == 401, attempt
    resp = browser.post("/login", data={"username": li, "password": "guess-5", "csrf_token": token})
    assert resp.status_code == 429
    assert resp.get_json()["error"] == {"code": "rate_limited", "details": [], "message": "登录失败次数过多，请稍后再试"}
    # Even the right password waits now.
    resp = browser.post("/login", data={"username": li, "password": "春节-大促-2026", "csrf_token": token})
    assert resp.status_code == 429


def test_successful_logins_do_not_count_towards_the_limit(browser, li) -> None:
    for _ in range(7):
        token = csrf_from(browser.get("/login").data)
        resp = browser.post("/login", data={"username": li, "password": "春节-大促-2026", "csrf_token": token})
        assert resp.status_code == 302


def test_passwords_are_stored_as_argon2id_hashes(services, li) -> None:
    with services.db.session() as s:
        user = s.scalar(select(User).where(User.username == li))
    assert user.role == "ops"
    assert user.password_hash.startswith("$argon2id$")
    assert "春节-大促-2026" not in user.password_hash
    assert PasswordHasher().verify(user.password_hash, "春节-大促-2026")


def test_api_tokens_are_stored_hashed_and_bound_to_their_user(services, client, li) -> None:
    with services.db.transaction() as s:
        user = s.scalar(select(User).where(User.username == li))
        token = issue_token(s, user, name="ci", clock=services.clock)
    with services.db.session() as s:
        rows = s.scalars(select(ApiToken)).all()
        (row,) = rows
        stored = " ".join(str(getattr(row, c.key)) for c in ApiToken.__table__.columns)
        assert token not in stored
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.user.username == li
    resp = client.get("/api/v1/rulesets", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert client.get("/api/v1/rulesets", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
