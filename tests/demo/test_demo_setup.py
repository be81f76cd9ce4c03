"""The demo's set-up: accounts for every role and every ruleset template published, twice
without harm."""

from __future__ import annotations

from sqlalchemy import select

from engine.demo import DEMO_USERS, ensure_demo_users, publish_demo_templates
from engine.storage.models import Ruleset, User
from engine.templates import catalogue


def test_demo_setup_is_idempotent_and_publishes_every_ruleset_template(services) -> None:
    ensure_demo_users(services)
    first = publish_demo_templates(services)
    expected = sorted(t.name for t in catalogue() if t.kind == "ruleset")
    assert sorted(first) == expected
    ensure_demo_users(services)
    assert publish_demo_templates(services) == []
    with services.db.session() as s:
        roles = sorted(u.role for u in s.scalars(select(User)))
        versions = {r.name: r.latest_version for r in s.scalars(select(Ruleset))}
    assert roles == sorted(role for _, role, _ in DEMO_USERS)
    assert versions == {name: 1 for name in expected}
