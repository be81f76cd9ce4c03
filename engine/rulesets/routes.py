"""HTTP routes of versioned rulesets under ``/api/v1/rulesets`` (flask-smorest blueprint).

Thin entry points: authenticate and authorize (``@allow``), parse the body with the schemas,
open the transaction, call :mod:`engine.rulesets.service`. Every staff role may read; admin and
ops may create, edit, check, publish and roll back — ops only versions without hooks, channels
or sources (see ``publish_guards.PUBLISH_MATRIX``). Published versions have no update or
delete route: they are immutable.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from engine.api.request_guard import body_kind
from engine.auth.access import allow, current_principal
from engine.auth.roles import ALL_STAFF
from engine.rulesets import service
from engine.rulesets.schemas import (
    AuditSchema,
    CheckResultSchema,
    CheckSchema,
    DraftPutSchema,
    DraftSchema,
    ErrorBodySchema,
    PublishSchema,
    RollbackSchema,
    RulesetCreateSchema,
    RulesetSchema,
    VersionSchema,
    VersionSummarySchema,
)
from engine.rulesets.validation import has_errors

blp = Blueprint(
    "rulesets",
    __name__,
    url_prefix="/rulesets",
    description="Versioned rulesets: draft, check, publish (immutable, checksummed), rollback, audit log.",
)

READERS = ALL_STAFF
EDITORS = ("admin", "ops")


def _services() -> Any:
    return current_app.extensions["orderpulse"]


def _actor() -> str:
    return current_principal().username


@blp.route("", methods=["GET"])
@allow(*READERS)
@blp.response(200, RulesetSchema(many=True))
def list_rulesets() -> Any:
    """List rulesets with their latest version and draft state."""
    with _services().db.session() as s:
        return service.list_rulesets(s)


@blp.route("", methods=["POST"])
@allow(*EDITORS)
@body_kind("ruleset")  # whole rule files: the larger body limit
@blp.arguments(RulesetCreateSchema())
@blp.response(201, DraftSchema)
@blp.alt_response(409, schema=ErrorBodySchema, description="a ruleset with this name exists")
def create_ruleset(args: dict[str, Any]) -> Any:
    """Create a ruleset with its initial draft (nothing is published yet)."""
    svc = _services()
    with svc.db.transaction(immediate=True) as s:
        return service.create_ruleset(
            s, name=args["name"], title=args["title"], content=args["content"], fmt=args["format"],
            actor=_actor(), now=svc.clock.now(),
        )


@blp.route("/<name>", methods=["GET"])
@allow(*READERS)
@blp.response(200, RulesetSchema)
@blp.alt_response(404, schema=ErrorBodySchema)
def get_ruleset(name: str) -> Any:
    """One ruleset's summary."""
    with _services().db.session() as s:
        return service.get_ruleset(s, name)


@blp.route("/<name>/draft", methods=["GET"])
@allow(*READERS)
@blp.response(200, DraftSchema)
@blp.alt_response(404, schema=ErrorBodySchema)
def get_draft(name: str) -> Any:
    """The editable draft with its revision and base version."""
    with _services().db.session() as s:
        return service.get_ruleset(s, name)


@blp.route("/<name>/draft", methods=["PUT"])
@allow(*EDITORS)
@body_kind("ruleset")  # whole rule files: the larger body limit
@blp.arguments(DraftPutSchema())
@blp.response(200, DraftSchema)
@blp.alt_response(404, schema=ErrorBodySchema)
@blp.alt_response(409, schema=ErrorBodySchema, description="stale_revision: the draft changed since `revision`")
def put_draft(args: dict[str, Any], name: str) -> Any:
    """Replace the draft; pass `revision` to refuse overwriting someone else's edit."""
    svc = _services()
    with svc.db.transaction(immediate=True) as s:
        return service.put_draft(
            s, name, content=args["content"], fmt=args["format"], revision=args["revision"],
            actor=_actor(), now=svc.clock.now(),
        )


@blp.route("/<name>/check", methods=["POST"])
@allow(*EDITORS)
@body_kind("ruleset")  # whole rule files: the larger body limit
@blp.arguments(CheckSchema())
@blp.response(200, CheckResultSchema)
@blp.alt_response(404, schema=ErrorBodySchema)
def check_ruleset(args: dict[str, Any], name: str) -> Any:
    """Validate the draft (or the given content) and list every problem; changes nothing."""
    with _services().db.session() as s:
        problems = service.check_ruleset(s, name, content=args["content"], fmt=args["format"])
    return {"ok": not has_errors(problems), "problems": problems}


@blp.route("/<name>/publish", methods=["POST"])
@allow(*EDITORS)
@blp.arguments(PublishSchema())
@blp.response(201, VersionSchema)
@blp.alt_response(404, schema=ErrorBodySchema)
@blp.alt_response(403, schema=ErrorBodySchema,
                  description="publish_forbidden: the draft declares kinds the role may not publish")
@blp.alt_response(409, schema=ErrorBodySchema,
                  description="stale_base, stale_revision, unchanged, version_conflict or name_taken")
@blp.alt_response(422, schema=ErrorBodySchema,
                  description="invalid_ruleset: the draft has problems (details carry line/col or pointer)")
def publish(args: dict[str, Any], name: str) -> Any:
    """Publish the draft as a new immutable, checksummed version."""
    svc = _services()
    with svc.db.transaction(immediate=True) as s:
        return service.publish(
            s, name, base_version=args["base_version"], revision=args["revision"], note=args["note"],
            actor=_actor(), now=svc.clock.now(), role=current_principal().role,
        )


@blp.route("/<name>/rollback", methods=["POST"])
@allow(*EDITORS)
@blp.arguments(RollbackSchema())
@blp.response(201, VersionSchema)
@blp.alt_response(404, schema=ErrorBodySchema)
@blp.alt_response(403, schema=ErrorBodySchema,
                  description="publish_forbidden: the version declares kinds the role may not publish")
@blp.alt_response(409, schema=ErrorBodySchema, description="stale_base, already_latest or name_taken")
@blp.alt_response(422, schema=ErrorBodySchema, description="unknown_version")
def rollback(args: dict[str, Any], name: str) -> Any:
    """Publish an earlier version's content again as a new version; the draft is reset to it."""
    svc = _services()
    with svc.db.transaction(immediate=True) as s:
        return service.rollback(
            s, name, to_version=args["to_version"], base_version=args["base_version"], note=args["note"],
            actor=_actor(), now=svc.clock.now(), role=current_principal().role,
        )


@blp.route("/<name>/versions", methods=["GET"])
@allow(*READERS)
@blp.response(200, VersionSummarySchema(many=True))
@blp.alt_response(404, schema=ErrorBodySchema)
def list_versions(name: str) -> Any:
    """Published versions, newest first (without content)."""
    with _services().db.session() as s:
        return service.list_versions(s, name)


@blp.route("/<name>/versions/<int:version>", methods=["GET"])
@allow(*READERS)
@blp.response(200, VersionSchema)
@blp.alt_response(404, schema=ErrorBodySchema)
def get_version(name: str, version: int) -> Any:
    """One published version with its content and checksum."""
    with _services().db.session() as s:
        return service.get_version(s, name, version)


@blp.route("/<name>/audit", methods=["GET"])
@allow(*READERS)
@blp.response(200, AuditSchema(many=True))
@blp.alt_response(404, schema=ErrorBodySchema)
def list_audit(name: str) -> Any:
    """Every change, newest first: action, actor, time, version and unified diff."""
    with _services().db.session() as s:
        return service.list_audit(s, name)
