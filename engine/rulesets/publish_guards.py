"""What other areas must check or do when a ruleset version is published or rolled back.

Today: the workflow area refuses a version that removes a state open tickets are in
(unless the machine maps it with ``migrate OLD to NEW``), and moves mapped tickets after
the version is written. The rulesets service calls :func:`before_publish` and
:func:`after_publish` only; it knows nothing else of the areas.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

import dsl
from dsl import model as m
from dsl.errors import RuleError
from engine.errors import Unprocessable


def parse_model(content: str, fmt: str, filename: str) -> m.Ruleset | None:
    """The declaration model of published content; None when it no longer parses."""
    try:
        if fmt == "json":
            return dsl.load_json(content, filename)
        return dsl.parse_text(content, filename)
    except RuleError:
        return None


def before_publish(session: Session, name: str, model: m.Ruleset | None) -> None:
    if model is None:
        return
    from engine.workflow.versions import check_machine_migration

    problems = check_machine_migration(session, name, model)
    if problems:
        raise Unprocessable(
            f"ruleset {name!r} cannot be published: {problems[0].message}",
            code="open_tickets_in_removed_state",
            details=[p.to_detail() for p in problems],
        )


def after_publish(
    session: Session, name: str, version: int, model: m.Ruleset | None, *, actor: str, now: datetime
) -> None:
    if model is None:
        return
    from engine.workflow.versions import apply_machine_migrations

    apply_machine_migrations(session, name, version, model, actor=actor, now=now)
