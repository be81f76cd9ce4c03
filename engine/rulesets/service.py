"""Versioned rulesets: one editable draft per ruleset and an append-only history of published,
checksummed versions, with an audit row (who, when, unified diff) for every change.

Use cases only: every function takes the caller's SQLAlchemy ``Session`` (the caller owns the
transaction; on SQLite open it with ``immediate=True`` for writes), the acting user's name and
the current time. Nothing here knows about HTTP; errors are :mod:`engine.errors` types.

Concurrency: the draft is guarded by its ``draft_revision`` and publishing by a conditional
``UPDATE rulesets SET latest_version = :base + 1 WHERE latest_version = :base`` (on
PostgreSQL the row lock makes a concurrent publisher wait, then find zero rows → 409), with the
unique ``(ruleset_id, version)`` constraint as the last line of defence.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import ApiError, Conflict, NotFound, Unprocessable
from engine.rulesets import publish_guards, published
from engine.rulesets.history import (
    NO_CONTENT,
    checksum,
    content_diff,
    draft_label,
    version_label,
)
from engine.rulesets.validation import FORMATS, Problem, has_errors, validate_content
from engine.storage.models import Ruleset, RulesetAudit, RulesetVersion

NAME_PATTERN = re.compile(r"\w[\w.\-]{0,127}\Z")


# --- reading ----------------------------------------------------------------------------


def list_rulesets(session: Session) -> list[Ruleset]:
    return list(session.scalars(select(Ruleset).order_by(Ruleset.name)))


def get_ruleset(session: Session, name: str) -> Ruleset:
    """The ruleset (with its draft) named ``name``; 404 when there is none."""
    ruleset = session.scalar(select(Ruleset).where(Ruleset.name == name))
    if ruleset is None:
        raise NotFound(f"ruleset {name!r} does not exist", code="ruleset_not_found")
    return ruleset


def list_versions(session: Session, name: str) -> list[RulesetVersion]:
    """Published versions, newest first."""
    ruleset = get_ruleset(session, name)
    return list(
        session.scalars(
            select(RulesetVersion)
            .where(RulesetVersion.ruleset_id == ruleset.id)
            .order_by(RulesetVersion.version.desc())
        )
    )


def get_version(session: Session, name: str, version: int | None = None) -> RulesetVersion:
    """Published ``version`` of ``name`` (the latest when None); 404 when it does not exist."""
    ruleset = get_ruleset(session, name)
    number = ruleset.latest_version if version is None else version
    # a version number past the column's 32 bits names no version (PostgreSQL would refuse the query)
    row = _version_row(session, ruleset.id, number) if 0 < number <= 2**31 - 1 else None
    if row is None:
        what = f"version {version}" if version is not None else "published version"
        raise NotFound(f"ruleset {name!r} has no {what}", code="version_not_found")
    return row


def list_audit(session: Session, name: str) -> list[RulesetAudit]:
    """Audit rows of ``name``, newest first."""
    ruleset = get_ruleset(session, name)
    return list(
        session.scalars(
            select(RulesetAudit).where(RulesetAudit.ruleset_id == ruleset.id).order_by(RulesetAudit.id.desc())
        )
    )


def check_ruleset(
    session: Session, name: str, *, content: str | None = None, fmt: str | None = None
) -> list[Problem]:
    """Problems in ``content`` (default: the current draft) of ruleset ``name``."""
    ruleset = get_ruleset(session, name)
    text = ruleset.draft_content if content is None else content
    form = fmt or (ruleset.draft_format if content is None else "dsl")
    return validate_content(text, form, filename=_filename(name, form))


# --- changing ---------------------------------------------------------------------------


def create_ruleset(
    session: Session,
    *,
    name: str,
    actor: str,
    now: datetime,
    title: str = "",
    content: str = "",
    fmt: str = "dsl",
) -> Ruleset:
    """A new ruleset whose draft (revision 1) holds ``content``; nothing is published yet."""
    if not NAME_PATTERN.match(name):
        raise Unprocessable(
            f"invalid ruleset name {name!r}: use letters, digits, '_', '-' or '.', at most 128",
            code="invalid_name",
            details=[{"path": "/name", "message": "invalid ruleset name"}],
        )
    _require_format(fmt)
    if session.scalar(select(Ruleset.id).where(Ruleset.name == name)) is not None:
        raise _exists(name)
    ruleset = Ruleset(
        name=name,
        title=title or name,
        draft_content=content,
        draft_format=fmt,
        draft_revision=1,
        draft_base_version=0,
        draft_updated_by=actor,
        draft_updated_at=now,
        created_by=actor,
        created_at=now,
        latest_version=0,
    )
    session.add(ruleset)
    try:
        session.flush()
    except IntegrityError as err:  # created concurrently under the same name
        raise _exists(name) from err
    _audit(session, ruleset, "create", actor, now, None,
           content_diff("", content, NO_CONTENT, draft_label("b", name, 1)))
    return ruleset


def put_draft(
    session: Session,
    name: str,
    *,
    content: str,
    actor: str,
    now: datetime,
    fmt: str | None = None,
    revision: int | None = None,
) -> Ruleset:
    """Replace the draft (``fmt`` None keeps the draft's format). With ``revision``, refuse
    (409 ``stale_revision``) unless it is the draft's current revision. Records the published
    version the draft is now based on. Drafts may be invalid; publishing checks them."""
    ruleset = get_ruleset(session, name)
    fmt = fmt or ruleset.draft_format
    _require_format(fmt)
    current = ruleset.draft_revision
    if revision is not None and revision != current:
        raise _stale_revision(name, revision, current)
    if content == ruleset.draft_content and fmt == ruleset.draft_format:
        return ruleset
    old_content = ruleset.draft_content
    matched = _conditional(
        session,
        update(Ruleset)
        .where(Ruleset.id == ruleset.id, Ruleset.draft_revision == current)
        .values(
            draft_content=content,
            draft_format=fmt,
            draft_revision=current + 1,
            draft_base_version=Ruleset.latest_version,
            draft_updated_by=actor,
            draft_updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if matched != 1:
        raise _stale_revision(name, current, _fresh(session, ruleset.id, Ruleset.draft_revision))
    session.refresh(ruleset)
    diff = content_diff(old_content, content, draft_label("a", name, current), draft_label("b", name, current + 1))
    _audit(session, ruleset, "draft", actor, now, ruleset.draft_base_version or None, diff)
    return ruleset


def publish(
    session: Session,
    name: str,
    *,
    actor: str,
    now: datetime,
    base_version: int | None = None,
    revision: int | None = None,
    note: str = "",
    role: str | None = None,
) -> RulesetVersion:
    """Publish the draft as version latest+1 (immutable, checksummed).

    ``role``: the publishing user's role, checked against what the draft declares
    (:data:`publish_guards.PUBLISH_MATRIX`); None for trusted callers (command line, demo).

    ``base_version``: the published version the caller started from; 409 ``stale_base`` when
    another version was published since. ``revision``: the draft revision the caller saw;
    409 ``stale_revision`` when the draft changed since. Invalid content → 422 with every
    problem; a draft identical to the latest version → 409 ``unchanged``.
    """
    ruleset = get_ruleset(session, name)
    latest = ruleset.latest_version
    if base_version is not None and base_version != latest:
        raise _stale_base(name, base_version, latest)
    if revision is not None and revision != ruleset.draft_revision:
        raise _stale_revision(name, revision, ruleset.draft_revision)
    problems = validate_content(ruleset.draft_content, ruleset.draft_format,
                                filename=_filename(name, ruleset.draft_format), load=published.read)
    if has_errors(problems):
        errors = [p for p in problems if p.is_error]
        raise Unprocessable(
            f"ruleset {name!r} cannot be published: {len(errors)} problem(s), "
            f"first: {_where(errors[0])}{errors[0].message}",
            code="invalid_ruleset",
            details=[p.to_detail() for p in problems],
        )
    previous = _version_row(session, ruleset.id, latest) if latest else None
    if previous is not None and previous.content == ruleset.draft_content and previous.format == ruleset.draft_format:
        raise Conflict(
            f"the draft of {name!r} is identical to the published v{latest}; nothing to publish",
            code="unchanged",
            details=[{"path": "", "message": "draft equals the latest version", "latest_version": latest}],
        )
    return _append_version(
        session, ruleset, expected_latest=latest, previous=previous, content=ruleset.draft_content,
        fmt=ruleset.draft_format, actor=actor, now=now, note=note, action="publish", rolled_back_from=None,
        role=role,
    )


def rollback(
    session: Session,
    name: str,
    *,
    to_version: int,
    actor: str,
    now: datetime,
    base_version: int | None = None,
    note: str = "",
    role: str | None = None,
) -> RulesetVersion:
    """Publish version ``to_version``'s content again as a new version latest+1 (with
    ``rolled_back_from``) and reset the draft to it. History is never rewritten."""
    ruleset = get_ruleset(session, name)
    latest = ruleset.latest_version
    if base_version is not None and base_version != latest:
        raise _stale_base(name, base_version, latest)
    target = _version_row(session, ruleset.id, to_version) if to_version > 0 else None
    if target is None:
        raise Unprocessable(
            f"ruleset {name!r} has no version {to_version} to roll back to (latest is v{latest})",
            code="unknown_version",
            details=[{"path": "/to_version", "message": f"no version {to_version}"}],
        )
    if to_version == latest:
        raise Conflict(
            f"v{to_version} is already the latest version of {name!r}",
            code="already_latest",
            details=[{"path": "/to_version", "message": "already the latest version"}],
        )
    previous = _version_row(session, ruleset.id, latest)
    return _append_version(
        session, ruleset, expected_latest=latest, previous=previous, content=target.content,
        fmt=target.format, actor=actor, now=now, note=note, action="rollback", rolled_back_from=to_version,
        role=role,
    )


# --- internals --------------------------------------------------------------------------


def _append_version(
    session: Session,
    ruleset: Ruleset,
    *,
    expected_latest: int,
    previous: RulesetVersion | None,
    content: str,
    fmt: str,
    actor: str,
    now: datetime,
    note: str,
    action: str,
    rolled_back_from: int | None,
    role: str | None = None,
) -> RulesetVersion:
    name, new = ruleset.name, expected_latest + 1
    model = publish_guards.parse_model(content, fmt, _filename(name, fmt))
    publish_guards.before_publish(session, name, model, role)
    values: dict[str, Any] = {"latest_version": new, "draft_base_version": new}
    if action == "rollback":
        values.update(
            draft_content=content,
            draft_format=fmt,
            draft_revision=Ruleset.draft_revision + 1,
            draft_updated_by=actor,
            draft_updated_at=now,
        )
    matched = _conditional(
        session,
        update(Ruleset)
        .where(Ruleset.id == ruleset.id, Ruleset.latest_version == expected_latest)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if matched != 1:
        raise _stale_base(name, expected_latest, _fresh(session, ruleset.id, Ruleset.latest_version))
    version = RulesetVersion(
        ruleset_id=ruleset.id,
        version=new,
        content=content,
        format=fmt,
        checksum=checksum(content),
        published_by=actor,
        published_at=now,
        rolled_back_from=rolled_back_from,
        note=note,
    )
    session.add(version)
    try:
        session.flush()
    except IntegrityError as err:
        raise Conflict(
            f"version {new} of {name!r} was published concurrently; reload and retry",
            code="version_conflict",
            details=[{"path": "/base_version", "message": "version already exists", "version": new}],
        ) from err
    session.refresh(ruleset)
    old = previous.content if previous is not None else ""
    diff = content_diff(old, content, version_label("a", name, expected_latest), version_label("b", name, new))
    _audit(session, ruleset, action, actor, now, new, diff)
    publish_guards.after_publish(session, name, new, model, actor=actor, now=now)
    return version


def _audit(
    session: Session, ruleset: Ruleset, action: str, actor: str, now: datetime, version: int | None, diff: str
) -> None:
    session.add(RulesetAudit(ruleset_id=ruleset.id, action=action, actor=actor, at=now, version=version, diff=diff))
    session.flush()


def _conditional(session: Session, statement: Any) -> int:
    """Run a conditional UPDATE; the number of rows it matched (0: someone else was first)."""
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount


def _version_row(session: Session, ruleset_id: int, version: int) -> RulesetVersion | None:
    return session.scalar(
        select(RulesetVersion).where(RulesetVersion.ruleset_id == ruleset_id, RulesetVersion.version == version)
    )


def _fresh(session: Session, ruleset_id: int, column: Any) -> int:
    return int(session.scalar(select(column).where(Ruleset.id == ruleset_id)) or 0)


def _filename(name: str, fmt: str) -> str:
    return f"{name}.{'json' if fmt == 'json' else 'op'}"


def _where(problem: Problem) -> str:
    if problem.line:
        return f"line {problem.line}:{problem.col}: "
    if problem.pointer:
        return f"{problem.pointer}: "
    return ""


def _require_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise Unprocessable(
            f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}",
            code="invalid_format",
            details=[{"path": "/format", "message": f"must be one of: {', '.join(FORMATS)}"}],
        )


def _exists(name: str) -> ApiError:
    return Conflict(
        f"ruleset {name!r} already exists",
        code="ruleset_exists",
        details=[{"path": "/name", "message": "already exists"}],
    )


def _stale_base(name: str, base: int, latest: int) -> ApiError:
    return Conflict(
        f"ruleset {name!r} is now at v{latest}, but this change was based on v{base}; reload and retry",
        code="stale_base",
        details=[{"path": "/base_version", "message": "stale base version", "base_version": base,
                  "latest_version": latest}],
    )


def _stale_revision(name: str, revision: int, current: int) -> ApiError:
    return Conflict(
        f"the draft of {name!r} is at revision {current}, but this change was based on revision {revision}; "
        "reload and retry",
        code="stale_revision",
        details=[{"path": "/revision", "message": "stale draft revision", "revision": revision,
                  "current_revision": current}],
    )
