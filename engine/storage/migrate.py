"""Schema migrations: ``orderpulse db upgrade`` and the automatic upgrade of ``serve``/``demo``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from engine.storage.db import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the database to ``revision``; safe to call on every start."""
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def make_revision(db: Database, message: str) -> None:
    """Developer helper: autogenerate a migration against an up-to-date database."""
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)
