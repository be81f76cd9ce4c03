"""Builder page tests over the Flask test client: signed-in clients per role (login form with
its CSRF token), and the CSRF token of a page."""

from __future__ import annotations

import functools
import re
import uuid
from typing import Any

import pytest

from engine.auth.users import create_user

PASSWORD = "节日-大促-2026"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_of(html: bytes | str) -> str:
    text = html.decode() if isinstance(html, bytes) else html
    match = CSRF_META.search(text) or CSRF_FIELD.search(text)
    assert match, "no CSRF token on the page"
    return match.group(1)


@functools.cache
def _password_hash() -> str:
    """One Argon2 hash of PASSWORD for every test user (hashing is deliberately slow)."""
    from engine.auth.users import hash_password

    return hash_password(PASSWORD)


@pytest.fixture
def signed_in(app: Any, services: Any) -> Any:
    """``signed_in("ops")`` → a test client signed in as a new user of that role."""

    def make(role: str) -> Any:
        username = f"{role}_{uuid.uuid4().hex[:6]}"
        with services.db.transaction() as s:
            user = create_user(s, username, role, None, clock=services.clock)
            user.password_hash = _password_hash()
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
        token = csrf_of(client.get("/login").data)
        resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert resp.status_code == 302, resp.data
        client.username = username
        return client

    return make


@pytest.fixture
def festival(services: Any) -> str:
    """The festival promotion template imported as a draft (not published)."""
    from engine.templates import import_template

    with services.db.transaction() as s:
        import_template(s, "promotion_apparel_festival", actor="setup", now=services.clock.now())
    return "promotion_apparel_festival"


@pytest.fixture
def aftersales(services: Any) -> str:
    """The standard after-sales machine template imported as a draft (not published)."""
    from engine.templates import import_template

    with services.db.transaction() as s:
        import_template(s, "aftersales_standard", actor="setup", now=services.clock.now())
    return "aftersales_standard"
