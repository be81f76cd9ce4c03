"""The list of API blueprints, one per area. Add an area's blueprint here."""

from __future__ import annotations

from flask_smorest import Blueprint


def api_blueprints() -> list[Blueprint]:
    from engine.templates import blp as templates_blp
    from engine.workflow.routes import blueprints as workflow_blueprints

    return [templates_blp, *workflow_blueprints()]
