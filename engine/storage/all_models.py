"""Imports every module that defines tables, so metadata and migrations see them all."""

from engine.storage import models  # noqa: F401
