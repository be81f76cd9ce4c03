"""Workflow fixtures: staff users with API tokens only (no password hashing: the tests act
through tokens, and hashing six passwords per test would dominate the suite's time)."""

from __future__ import annotations

import pytest

from engine.auth.roles import STAFF_ROLES
from engine.auth.users import create_user, issue_token


@pytest.fixture
def tokens(services) -> dict[str, str]:
    out: dict[str, str] = {}
    with services.db.transaction() as s:
        for role in STAFF_ROLES:
            user = create_user(s, f"user_{role}", role, None, clock=services.clock)
            out[role] = issue_token(s, user, clock=services.clock)
    return out
