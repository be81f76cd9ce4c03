"""``orderpulse users create NAME --role 财务 --password P --token`` against the test database
prints a token that authenticates as that user."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.auth.users import check_password
from engine.cli import main
from engine.storage.models import User


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    monkeypatch.setenv("ORDERPULSE_DATABASE_URL", database_url)
    monkeypatch.setenv("ORDERPULSE_SECRET_KEY", "cli-test-secret")
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    # The CLI configures logging onto the runner's (now closed) stderr: put things back.
    root.handlers[:] = handlers
    root.setLevel(level)


def test_users_create_with_chinese_role_prints_a_working_token(cli_env, services, client) -> None:
    result = CliRunner().invoke(main, ["users", "create", "zhao_kj", "--role", "财务", "--password", "对账-2026", "--token"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "created user zhao_kj (finance)"
    token = lines[-1]
    assert token.startswith("op_") and len(token) > 40

    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/rulesets", headers=headers).status_code == 200
    resp = client.post("/api/v1/rulesets", headers=headers, json={"name": "nope"})
    assert resp.status_code == 403 and "finance" in resp.get_json()["error"]["message"]

    with services.db.session() as s:
        assert s.scalar(select(User.role).where(User.username == "zhao_kj")) == "finance"
        assert check_password(s, "zhao_kj", "对账-2026") is not None
        assert check_password(s, "zhao_kj", "wrong") is None


def test_users_create_without_token_prints_none(cli_env) -> None:
    result = CliRunner().invoke(main, ["users", "create", "wu", "--role", "cs_lead"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines() == ["created user wu (cs_lead)"]


def test_users_create_refuses_unknown_roles_and_duplicates(cli_env) -> None:
    result = CliRunner().invoke(main, ["users", "create", "x", "--role", "老板"])
    assert result.exit_code == 1
    assert "error: unknown role '老板'" in result.stderr
    assert CliRunner().invoke(main, ["users", "create", "dup", "--role", "ops"]).exit_code == 0
    result = CliRunner().invoke(main, ["users", "create", "dup", "--role", "ops"])
    assert result.exit_code == 1 and "already exists" in result.stderr
