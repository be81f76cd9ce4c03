"""What other areas must check or do when a ruleset version is published or rolled back.

Today: the workflow area refuses a version that removes a state open tickets are in
(unless the machine maps it with ``migrate OLD to NEW``), and moves mapped tickets after
the version is written. The rulesets service calls :func:`before_publish` and
:func:`after_publish` only; it knows nothing else of the areas.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dsl import model as m
from dsl.errors import RuleError
from engine.errors import Unprocessable
from engine.rulesets import published


def parse_model(content: str, fmt: str, filename: str) -> m.Ruleset | None:
    """The declaration model of the content being published (through :mod:`engine.rulesets.published`,
    so the new version's model is cached before anyone asks for it); None when it does not parse."""
    try:
        return published.model_for(content, fmt, filename=filename)
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
