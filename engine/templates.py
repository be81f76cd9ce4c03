"""The templates library: the catalogue of standard e-commerce templates, importing one as a
ruleset draft (HTTP ``GET /templates``, ``GET /templates/{name}``, ``POST /templates/{name}/import``
and ``orderpulse templates list|import NAME``).

The files live in the ``templates_library`` package (data only); ``catalogue.json`` lists them.
Importing never publishes: it creates the ruleset (or replaces its draft) so the user can edit,
check and publish it through the rulesets service. Data lists (``*.json`` such as
``return_reasons``) are served as they are and cannot be imported as rulesets.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

import click
from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.api.openapi import success
from engine.auth.access import allow, current_principal
from engine.auth.roles import ALL_STAFF
from engine.errors import ApiError, NotFound, Unprocessable
from engine.storage.models import Ruleset

PACKAGE = "templates_library"


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    version: int
    file: str

    @property
    def kind(self) -> str:
        return "ruleset" if self.file.endswith(".op") else "data"

    def content(self) -> str:
        return resources.files(PACKAGE).joinpath(self.file).read_text(encoding="utf-8")

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "description": self.description,
                "version": self.version, "file": self.file, "kind": self.kind}


def catalogue() -> list[Template]:
    """Every catalogue entry, in catalogue order."""
    raw = json.loads(resources.files(PACKAGE).joinpath("catalogue.json").read_text(encoding="utf-8"))
    return [Template(e["name"], e["title"], e.get("description", ""), int(e.get("version", 1)), e["file"])
            for e in raw]


def find_template(name: str) -> Template:
    for template in catalogue():
        if template.name == name:
            return template
    known = ", ".join(t.name for t in catalogue())
    raise NotFound(f"no template {name}; known: {known}", code="unknown_template")


def import_template(session: Session, name: str, *, actor: str, now: Any, ruleset: str | None = None) -> dict[str, Any]:
    """Create ruleset ``ruleset`` (default: the template name) with the template as its draft,
    or replace the draft of an existing one. Nothing is published."""
    from engine.rulesets import service as rulesets

    template = find_template(name)
    if template.kind != "ruleset":
        raise Unprocessable(f"template {name} is a data list, not a ruleset; read it with GET /templates/{name}",
                            code="not_importable")
    target = ruleset or template.name
    content = template.content()
    exists = session.scalar(select(Ruleset.id).where(Ruleset.name == target)) is not None
    if exists:
        row = rulesets.put_draft(session, target, content=content, fmt="dsl", actor=actor, now=now)
    else:
        row = rulesets.create_ruleset(session, name=target, title=template.title, content=content, fmt="dsl",
                                      actor=actor, now=now)
    return {"ruleset": row.name, "template": template.name, "created": not exists,
            "draft": {"content": row.draft_content, "format": row.draft_format, "revision": row.draft_revision,
                      "base_version": row.draft_base_version}}


# --------------------------------------------------------------------------- HTTP

blp = Blueprint("templates", __name__, url_prefix="/templates",
                description="Standard e-commerce templates: list, read, import as a ruleset draft")


class TemplateOut(Schema):
    name = fields.String()
    title = fields.String()
    description = fields.String()
    version = fields.Integer()
    file = fields.String()
    kind = fields.String()


class ImportBody(Schema):
    ruleset = fields.String(load_default=None, metadata={"description": "ruleset name (default: the template's)"})


@blp.route("", methods=["GET"])
@allow(*ALL_STAFF)
@blp.response(200, TemplateOut(many=True))
def list_templates() -> list[dict[str, Any]]:
    """The catalogue."""
    return [t.summary() for t in catalogue()]


@blp.route("/<name>", methods=["GET"])
@allow(*ALL_STAFF)
@blp.doc(**success("the template's summary with its content"))
def read_template(name: str) -> Any:
    """One template with its content (DSL text, or the data list as JSON)."""
    template = find_template(name)
    body = template.summary()
    body["content"] = template.content() if template.kind == "ruleset" else json.loads(template.content())
    return body


@blp.route("/<name>/import", methods=["POST"])
@allow("admin", "ops")
@blp.arguments(ImportBody())
@blp.response(201)
def import_route(body: dict[str, Any], name: str) -> dict[str, Any]:
    """Import template NAME as a ruleset draft (edit, check and publish it afterwards)."""
    services = current_app.extensions["orderpulse"]
    with services.db.transaction(immediate=True) as session:
        return import_template(session, name, actor=current_principal().username, now=services.clock.now(),
                               ruleset=body.get("ruleset"))


# --------------------------------------------------------------------------- CLI


@click.group("templates")
def templates_cli() -> None:
    """The templates library."""


@templates_cli.command("list")
def cli_list() -> None:
    """List the catalogue."""
    for t in catalogue():
        click.echo(f"{t.name:<28} v{t.version}  {t.kind:<7}  {t.title}")


@templates_cli.command("import")
@click.argument("name")
@click.option("--as", "ruleset", default=None, help="ruleset name (default: the template's)")
def cli_import(name: str, ruleset: str | None) -> None:
    """Import template NAME as a ruleset draft."""
    from engine.config import Settings
    from engine.services import Services
    from engine.storage.migrate import upgrade

    services = Services.build(Settings.from_env())
    upgrade(services.db)
    try:
        with services.db.transaction(immediate=True) as session:
            out = import_template(session, name, actor="cli", now=services.clock.now(), ruleset=ruleset)
    except ApiError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    verb = "created" if out["created"] else "updated the draft of"
    click.echo(f"{verb} ruleset {out['ruleset']} from template {name} (draft revision {out['draft']['revision']}); "
               "publish it to use it")
