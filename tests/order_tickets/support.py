"""Publishing templates and edited rule texts for the ticket tests (as the command line does)."""

from __future__ import annotations

from importlib import resources
from typing import Any


def template_text(name: str) -> str:
    """The text of template ``name`` as the library ships it."""
    return resources.files("templates_library").joinpath(f"{name}.op").read_text(encoding="utf-8")


def publish(services: Any, *templates: str) -> None:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction(immediate=True) as s:
        for name in templates:
            import_template(s, name, actor="admin", now=services.clock.now())
            rulesets.publish(s, name, actor="admin", now=services.clock.now(), note="test")


def publish_content(services: Any, name: str, content: str) -> None:
    from engine.rulesets import service as rulesets

    with services.db.transaction(immediate=True) as s:
        rulesets.put_draft(s, name, content=content, actor="admin", now=services.clock.now())
        rulesets.publish(s, name, actor="admin", now=services.clock.now(), note="edited")
