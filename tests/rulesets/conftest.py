"""Ruleset tests authenticate with API tokens only, so their users need no password: this
``tokens`` skips the deliberately slow Argon2 hashing of the shared fixture."""

from __future__ import annotations

import pytest

from engine.services import Services


@pytest.fixture
def tokens(services: Services) -> dict[str, str]:
    from engine.auth.roles import STAFF_ROLES
    from engine.auth.users import create_user, issue_token

    out: dict[str, str] = {}
    with services.db.transaction() as s:
        for role in STAFF_ROLES:
            user = create_user(s, f"user_{role}", role, None, clock=services.clock)
            out[role] = issue_token(s, user, clock=services.clock)
    return out
