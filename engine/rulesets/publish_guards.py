"""What must be checked or done when a ruleset version is published or rolled back.

Across rulesets: the names of hooks, channels, machines and sources are unique over all
published rulesets (a second declaration is refused, naming the ruleset that owns the name;
only a word-for-word identical hook or channel may be declared again, as templates do),
and who may publish a version follows the declaration kinds it holds (:data:`PUBLISH_MATRIX`).
The workflow area refuses a version that removes a state open tickets are in
(unless the machine maps it with ``migrate OLD to NEW``), and moves mapped tickets after
the version is written. The rulesets service calls :func:`before_publish` and
:func:`after_publish` only; it knows nothing else of the areas.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dsl import model as m
from dsl.errors import RuleError
from engine.auth.roles import STAFF_ROLES
from engine.errors import Conflict, Forbidden, Unprocessable
from engine.rulesets import published

# Declarations whose names are global: webhooks and channels are reached by name, machines
# are opened by name, sources are the shops' connections.
UNIQUE_KINDS: tuple[str, ...] = ("hook", "channel", "machine", "source")
SHAREABLE_KINDS: tuple[str, ...] = ("hook", "channel")

# Who may publish (or roll back to) a version holding each kind of declaration. Hooks fire
# actions without a login, channels and sources hold the addresses secrets go to: 管理员 only.
PUBLISH_MATRIX: dict[str, frozenset[str]] = {
    "hook": frozenset({"admin"}),
    "channel": frozenset({"admin"}),
    "source": frozenset({"admin"}),
    "mapping": frozenset({"admin", "ops"}),
    "cleaning": frozenset({"admin", "ops"}),
    "promotion": frozenset({"admin", "ops"}),
    "machine": frozenset({"admin", "ops"}),
    "alert": frozenset({"admin", "ops"}),
    "risk": frozenset({"admin", "ops"}),
    "follow": frozenset({"admin", "ops"}),
    "fulfillment": frozenset({"admin", "ops"}),
}


def parse_model(content: str, fmt: str, filename: str) -> m.Ruleset | None:
    """The declaration model of the content being published (through :mod:`engine.rulesets.published`,
    so the new version's model is cached before anyone asks for it); None when it does not parse."""
    try:
        return published.model_for(content, fmt, filename=filename)
    except RuleError:
        return None


def check_publisher(model: m.Ruleset | None, role: str | None) -> None:
    """403 when ``role`` may not publish one of the kinds ``model`` declares (None: a trusted
    caller such as the command line, which has the server's own rights)."""
    if model is None or role is None:
        return
    refused = sorted({d.kind for d in model.declarations if role not in PUBLISH_MATRIX.get(d.kind, frozenset())})
    if refused:
        needs = sorted({r for k in refused for r in PUBLISH_MATRIX.get(k, frozenset())})
        raise Forbidden(
            f"role {role} ({STAFF_ROLES.get(role, role)}) may not publish a ruleset declaring "
            f"{', '.join(refused)}; that needs {', '.join(f'{r} ({STAFF_ROLES[r]})' for r in needs)}",
            code="publish_forbidden",
            details=[{"path": "/content", "message": f"declares {kind}", "kind": kind} for kind in refused],
        )


def check_unique_names(session: Session, name: str, model: m.Ruleset) -> None:
    """409 ``name_taken`` when another published ruleset declares a hook, channel, machine or
    source of the same name."""
    mine = {(d.kind, d.name): d for d in model.declarations if d.kind in UNIQUE_KINDS}
    if not mine:
        return
    taken: list[dict[str, str]] = []
    for ref in published.latest_versions(session):  # oldest ruleset first, models cached by checksum
        if ref.name == name:
            continue
        try:
            theirs = published.model_of(session, ref)
        except RuleError:
            continue
        for d in theirs.declarations:
            if (d.kind, d.name) in mine and not _shared_word_for_word(d, mine[(d.kind, d.name)]):
                taken.append({"path": "/content", "message": f"{d.kind} {d.name} is declared by ruleset {ref.name}",
                              "kind": d.kind, "name": d.name, "ruleset": ref.name})
    if taken:
        first = taken[0]
        raise Conflict(
            f"ruleset {name!r} cannot be published: {first['kind']} {first['name']} is already declared by "
            f"published ruleset {first['ruleset']!r}; names of hooks, channels, machines and sources are "
            f"unique across rulesets",
            code="name_taken",
            details=taken,
        )


def _shared_word_for_word(theirs: m.Declaration, ours: m.Declaration) -> bool:
    """A hook or channel may be declared again word for word (the after-sales templates share
    one DingTalk approval callback and their notification groups): the same type, the same env
    references and the same bindings reach the same place and fire the same way, whichever
    ruleset is read. Any other second declaration of a name is refused."""
    return theirs.kind in SHAREABLE_KINDS and theirs == ours


def before_publish(session: Session, name: str, model: m.Ruleset | None, role: str | None = None) -> None:
    if model is None:
        return
    check_publisher(model, role)
    check_unique_names(session, name, model)
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
