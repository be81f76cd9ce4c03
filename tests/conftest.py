"""Shared fixtures: a migrated database per test (SQLite copy or PostgreSQL schema), a
manual clock, the Flask app and client, and users with tokens for each role.

Back end choice follows the environment, as in production: ``ORDERPULSE_DATABASE_URL``
(PostgreSQL when set) and ``ORDERPULSE_REDIS_URL``. Tests marked ``postgres`` or ``redis``
run only when that back end is configured; with ``CI=true`` an unreachable configured back
end fails the run instead of skipping.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import text

from engine.clock import ManualClock
from engine.config import Settings
from engine.services import Services
from engine.storage.models import Base
from tests.support import backends

# Property tests judge behaviour, never speed: on a busy machine input generation may be slow,
# and that is no failure of the code under test.
settings.register_profile("orderpulse", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("orderpulse")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    deselected = []
    keep = []
    for item in items:
        if item.get_closest_marker("postgres") and not backends.is_postgres_run():
            deselected.append(item)
        elif item.get_closest_marker("redis") and not backends.configured_redis_url():
            deselected.append(item)
        else:
            keep.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


def _require(ok: bool, what: str) -> None:
    if ok:
        return
    if backends.IN_CI:
        pytest.fail(f"{what} is configured but not reachable (CI=true: failing, not skipping)")
    pytest.skip(f"{what} not reachable")


@pytest.fixture(scope="session")
def _db_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    url = backends.configured_database_url()
    if url and url.startswith("postgresql"):
        schema = backends.PostgresSchema(url)
        try:
            schema_url = schema.create()
        except Exception as exc:  # noqa: BLE001
            _require(False, f"PostgreSQL ({exc.__class__.__name__})")
        from engine.storage.db import Database
        from engine.storage.migrate import upgrade

        db = Database(schema_url)
        upgrade(db)
        db.dispose()
        yield ("postgres", schema_url)
        schema.drop()
    else:
        template = backends.SqliteTemplate(tmp_path_factory.mktemp("sqlite"))
        template.build()
        yield ("sqlite", template)


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    url = backends.configured_redis_url()
    if url is None:
        return None
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:  # noqa: BLE001
        _require(False, "Redis")
    return url


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    import uuid

    return f"op:test:{uuid.uuid4().hex[:8]}:"


@pytest.fixture
def database_url(_db_backend: Any) -> Iterator[str]:
    kind, handle = _db_backend
    if kind == "sqlite":
        yield handle.fresh_url()
        return
    yield handle
    _truncate_all(handle)


# the schema's sequences owned by a column (serial or identity) that handed out a value
_USED_SEQUENCES = text("""
    SELECT s.relname AS seq, t.relname AS tbl FROM pg_class s
    JOIN pg_namespace n ON n.oid = s.relnamespace
    JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
    JOIN pg_class t ON t.oid = d.refobjid
    WHERE s.relkind = 'S' AND n.nspname = current_schema()
      AND CASE WHEN s.relkind = 'S' THEN pg_sequence_last_value(s.oid) END IS NOT NULL""")


def _truncate_all(url: str) -> None:
    """Empty the session's schema for the next test as TRUNCATE … RESTART IDENTITY CASCADE of
    every table would, touching only what the test used: one probe finds the tables holding
    rows (only they are truncated: a TRUNCATE makes new files for a table and its indexes,
    ~0.2 s for all of them) and the owned sequences that moved (restarted)."""
    from engine.storage.db import Database

    db = Database(url)
    names = [t.name for t in Base.metadata.sorted_tables]
    probe = " UNION ALL ".join(f"SELECT '{n}' WHERE EXISTS (SELECT 1 FROM \"{n}\")" for n in names)
    with db.engine.begin() as conn:
        holding = list(conn.execute(text(probe)).scalars())
        moved = conn.execute(_USED_SEQUENCES).all()
        if holding:
            listed = ", ".join(f'"{n}"' for n in holding)
            conn.execute(text(f"TRUNCATE {listed} RESTART IDENTITY CASCADE"))
        for seq, tbl in moved:
            if tbl not in holding:
                conn.execute(text(f'ALTER SEQUENCE "{seq}" RESTART'))
    db.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings(database_url: str, redis_url: str | None, redis_prefix: str) -> Settings:
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        secret_key="test-secret",
        testing=True,
        handler_modules=("tests.support.handlers",),
    )


@pytest.fixture
def services(settings: Settings, clock: ManualClock) -> Iterator[Services]:
    svc = Services.build(settings, clock=clock)
    yield svc
    svc.db.dispose()


@pytest.fixture
def app(services: Services) -> Any:
    from engine.app import create_app

    return create_app(services=services)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def tokens(services: Services) -> dict[str, str]:
    """One user and API token per staff role: ``tokens["finance"]`` etc."""
    from engine.auth.roles import STAFF_ROLES
    from engine.auth.users import create_user, issue_token

    out: dict[str, str] = {}
    with services.db.transaction() as s:
        for role in STAFF_ROLES:
            # Token-only users: no Argon2 hashing per test (login tests make their own users).
            user = create_user(s, f"user_{role}", role, None, clock=services.clock)
            out[role] = issue_token(s, user, clock=services.clock)
    return out


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """The JSON log lines written during the test (the logging set-up is restored afterwards)."""
    import logging

    import structlog

    from engine.logs import configure_logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(stream=stream)
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.contextvars.clear_contextvars()
