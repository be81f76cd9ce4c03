"""Builder sessions are revocable server-side: sign-out, a password change and a disabled user
end them (a copied cookie stops working), as do the idle and absolute lifetimes; the cookie is
Secure when the client came over https through a trusted proxy. Failed sign-ins log the typed
name only masked."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select

from engine.app import create_app
from engine.auth.users import create_user, set_active, set_password
from engine.storage.models import User, UserSession
from tests.auth.test_login import csrf_from

PASSWORD = "春节-大促-2026"


@pytest.fixture
def li(services) -> str:
    with services.db.transaction() as s:
        create_user(s, "li_na", "运营", PASSWORD, display_name="李娜", clock=services.clock)
    return "li_na"


def browser_for(app: Any) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"
    return client


def sign_in(client: Any, username: str, password: str = PASSWORD, **kwargs: Any) -> Any:
    token = csrf_from(client.get("/login", **kwargs).data)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token}, **kwargs)


def cookie_of(client: Any) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app: Any, cookie: str) -> int:
    """A request from another machine that copied the session cookie."""
    thief = browser_for(app)
    thief.set_cookie("session", cookie)
    return thief.get("/api/v1/rulesets").status_code


def test_sign_out_ends_the_session_server_side(app, li) -> None:
    browser = browser_for(app)
    assert sign_in(browser, li).status_code == 302
    copied = cookie_of(browser)
    assert replay(app, copied) == 200
    browser.post("/logout", data={"csrf_token": csrf_from(browser.get("/").data)})
    assert replay(app, copied) == 401


def test_a_password_change_and_a_disabled_user_end_every_session(app, services, li) -> None:
    first, second = browser_for(app), browser_for(app)
    sign_in(first, li)
    sign_in(second, li)
    with services.db.transaction() as s:
        user = s.scalar(select(User).where(User.username == li))
        assert set_password(s, user, "新密码-2027", clock=services.clock) == 2
    assert first.get("/api/v1/rulesets").status_code == 401
    assert second.get("/api/v1/rulesets").status_code == 401
    assert sign_in(first, li).status_code == 401  # the old password no longer works
    assert sign_in(first, li, "新密码-2027").status_code == 302
    copied = cookie_of(first)
    with services.db.transaction() as s:
        user = s.scalar(select(User).where(User.username == li))
        assert set_active(s, user, False, clock=services.clock) == 1
    assert replay(app, copied) == 401
    with services.db.session() as s:
        reasons = sorted(r.ended_reason for r in s.scalars(select(UserSession)))
    assert reasons == ["password_changed", "password_changed", "user_disabled"]


def test_idle_and_absolute_lifetimes(app, services, clock, li) -> None:
    idle, absolute = services.settings.session_idle_seconds, services.settings.session_absolute_seconds
    assert (idle, absolute) == (1800, 43200)
    browser = browser_for(app)
    sign_in(browser, li)
    clock.advance(idle - 60)
    assert browser.get("/api/v1/rulesets").status_code == 200  # activity refreshes the idle clock
    clock.advance(idle + 1)
    assert browser.get("/api/v1/rulesets").status_code == 401

    browser = browser_for(app)
    sign_in(browser, li)
    for _ in range(int(absolute // (idle - 60)) + 1):
        clock.advance(idle - 60)
        status = browser.get("/api/v1/rulesets").status_code
    assert status == 401  # active all along, but past the absolute lifetime
    with services.db.session() as s:
        assert sorted(r.ended_reason for r in s.scalars(select(UserSession))) == ["expired", "idle"]


def test_the_cookie_expires_and_is_secure_behind_an_https_proxy(services, li) -> None:
    plain = browser_for(create_app(services=services))
    sign_in(plain, li)
    cookie = plain.get_cookie("session")
    assert cookie is not None and cookie.http_only and not cookie.secure and cookie.expires is not None

    services.settings = replace(services.settings, proxy_fix=True)
    proxied = browser_for(create_app(services=services))
    # over https, Flask-WTF also wants the form to come from this site (Referer)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", "Referer": "https://localhost/login"}
    resp = sign_in(proxied, li, headers=forwarded)
    assert resp.status_code == 302, resp.data
    set_cookie = resp.headers["Set-Cookie"]
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie and "Expires=" in set_cookie


def test_a_failed_sign_in_logs_the_typed_name_masked(app, li, log_stream) -> None:
    browser = browser_for(app)
    sign_in(browser, "op_live_token_typed_by_mistake", "whatever")
    sign_in(browser, PASSWORD, "oops")  # the password typed into the username field
    events = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    failed = [e for e in events if e["event"] == "login_failed"]
    assert [e["username"] for e in failed] == ["o***", "春***"]
    assert PASSWORD not in log_stream.getvalue() and "typed_by_mistake" not in log_stream.getvalue()
