"""Storage: the database handle, typed ORM models and migrations."""

from engine.storage.db import Database

__all__ = ["Database"]
