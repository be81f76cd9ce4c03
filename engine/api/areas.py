"""The list of API blueprints, one per area. Add an area's blueprint here."""

from __future__ import annotations

from flask_smorest import Blueprint


def api_blueprints() -> list[Blueprint]:
    return []
