"""Alembic environment: runs migrations against the URL handed over by engine.storage.migrate."""

from __future__ import annotations

from alembic import context

from engine.storage.models import Base
import engine.storage.all_models  # noqa: F401  (registers every area's tables)

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations run through engine.storage.migrate only")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
