"""Marshmallow schemas of the rulesets API: request bodies and responses (they also feed the
OpenAPI document). Shapes only; no behaviour.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.api import ErrorBody
from engine.rulesets.service import NAME_PATTERN
from engine.rulesets.validation import FORMATS
from engine.values import INT32_MAX

_FORMAT = validate.OneOf(FORMATS)


class RulesetCreateSchema(Schema):
    # NAME_PATTERN anchored as JSON Schema reads a pattern; the service refuses a trailing newline too
    name = fields.Str(required=True, validate=validate.Regexp(
        "^" + NAME_PATTERN.pattern.removesuffix("\\Z") + "$",
        error="use letters, digits, '_', '-' or '.' (at most 128)"))
    title = fields.Str(load_default="", validate=validate.Length(max=256))
    content = fields.Str(load_default="", metadata={"description": "initial draft content"})
    format = fields.Str(load_default="dsl", validate=_FORMAT)


class DraftPutSchema(Schema):
    content = fields.Str(required=True)
    format = fields.Str(load_default=None, validate=_FORMAT,
                        metadata={"description": "default: keep the draft's format"})
    revision = fields.Int(
        load_default=None,
        strict=True,
        validate=validate.Range(min=1, max=INT32_MAX),
        metadata={"description": "the draft revision this edit is based on; "
                                 "409 stale_revision when the draft changed since"},
    )


class CheckSchema(Schema):
    content = fields.Str(load_default=None, metadata={"description": "content to check; default: the draft"})
    format = fields.Str(load_default=None, validate=_FORMAT)


class PublishSchema(Schema):
    base_version = fields.Int(
        load_default=None,
        strict=True,
        validate=validate.Range(min=0, max=INT32_MAX),
        metadata={"description": "latest published version the caller saw (0: none); 409 stale_base when it moved"},
    )
    revision = fields.Int(
        load_default=None,
        strict=True,
        validate=validate.Range(min=1, max=INT32_MAX),
        metadata={"description": "draft revision the caller saw; 409 stale_revision when the draft changed"},
    )
    note = fields.Str(load_default="", validate=validate.Length(max=2000))


class RollbackSchema(Schema):
    to_version = fields.Int(required=True, strict=True, validate=validate.Range(min=1, max=INT32_MAX))
    base_version = fields.Int(load_default=None, strict=True, validate=validate.Range(min=0, max=INT32_MAX))
    note = fields.Str(load_default="", validate=validate.Length(max=2000))


class RulesetSchema(Schema):
    name = fields.Str()
    title = fields.Str()
    latest_version = fields.Int(metadata={"description": "0 when nothing is published yet"})
    draft_revision = fields.Int()
    draft_format = fields.Str()
    draft_base_version = fields.Int()
    draft_updated_by = fields.Str()
    draft_updated_at = fields.DateTime()
    created_by = fields.Str()
    created_at = fields.DateTime()


class DraftSchema(Schema):
    ruleset = fields.Str(attribute="name")
    title = fields.Str()
    content = fields.Str(attribute="draft_content")
    format = fields.Str(attribute="draft_format")
    revision = fields.Int(attribute="draft_revision")
    base_version = fields.Int(attribute="draft_base_version",
                              metadata={"description": "published version the draft was last based on"})
    latest_version = fields.Int()
    updated_by = fields.Str(attribute="draft_updated_by")
    updated_at = fields.DateTime(attribute="draft_updated_at")


class VersionSummarySchema(Schema):
    version = fields.Int()
    format = fields.Str()
    checksum = fields.Str(metadata={"description": "sha256:<hex> of the UTF-8 content"})
    published_by = fields.Str()
    published_at = fields.DateTime()
    rolled_back_from = fields.Int(allow_none=True)
    note = fields.Str()


class VersionSchema(VersionSummarySchema):
    content = fields.Str()


class ProblemSchema(Schema):
    message = fields.Str()
    line = fields.Int(metadata={"description": "1-based line in DSL content (0: not applicable)"})
    col = fields.Int()
    pointer = fields.Str(metadata={"description": "JSON pointer into JSON content"})
    code = fields.Str()
    severity = fields.Str()


class CheckResultSchema(Schema):
    ok = fields.Bool()
    problems = fields.List(fields.Nested(ProblemSchema))


class AuditSchema(Schema):
    action = fields.Str(metadata={"description": "create, draft, publish or rollback"})
    actor = fields.Str()
    at = fields.DateTime()
    version = fields.Int(allow_none=True, metadata={"description": "version published, or the draft's base version"})
    diff = fields.Str(metadata={"description": "unified diff of the content"})


ErrorBodySchema = ErrorBody  # the API's one error body (engine.api)
