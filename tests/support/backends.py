"""Test back ends: a private SQLite file, or a private schema in the PostgreSQL `test`
database, and a private Redis key prefix, so concurrent runs never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def configured_database_url() -> str | None:
    return os.environ.get("ORDERPULSE_DATABASE_URL") or None


def configured_redis_url() -> str | None:
    return os.environ.get("ORDERPULSE_REDIS_URL") or None


def is_postgres_run() -> bool:
    url = configured_database_url()
    return bool(url and url.startswith("postgresql"))


def _psycopg_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


class PostgresSchema:
    """A throw-away schema inside the configured PostgreSQL database."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.schema = f"op_test_{uuid.uuid4().hex[:12]}"
        self._engine = create_engine(_psycopg_url(base_url), isolation_level="AUTOCOMMIT")

    def create(self) -> str:
        with self._engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        return with_search_path(self.base_url, self.schema)

    def drop(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
        self._engine.dispose()


@contextmanager
def private_database_url(folder: Path, name: str) -> Iterator[str]:
    """An empty private database (a PostgreSQL schema when the suite runs on PostgreSQL, else the
    SQLite file ``folder/name.db``), dropped afterwards; yields its URL. Nothing is migrated."""
    url = configured_database_url()
    if not (url and url.startswith("postgresql")):
        yield f"sqlite:///{folder}/{name}.db"
        return
    schema = PostgresSchema(url)
    try:
        yield schema.create()
    finally:
        schema.drop()


class SqliteTemplate:
    """Migrate once, then hand every test its own copy of the migrated file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template = folder / "template.db"

    def build(self) -> None:
        from engine.storage.db import Database
        from engine.storage.migrate import upgrade

        db = Database(f"sqlite:///{self.template}")
        upgrade(db)
        with db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        db.dispose()

    def fresh_url(self) -> str:
        path = self.folder / f"t_{uuid.uuid4().hex[:10]}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"
