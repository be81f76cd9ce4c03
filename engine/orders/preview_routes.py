"""HTTP route of mapping preview: ``POST /api/v1/mappings/{name}/preview`` (blueprint
``mappings``).

A thin entry point: authenticate (``@allow``, every staff role, as the pricing quote), read the
body (JSON numbers kept exact as decimals; its size, media type and JSON syntax were checked by
the shared request guard, engine/api/request_guard.py), take the rules — the latest published version of
every ruleset, or the draft ``rules`` text — and answer the preview body of
:func:`engine.orders.preview.preview_body`, byte for byte what ``orderpulse map --json``
prints. A payload that does not fit is a 422 ``mapping_failed`` whose detail names the payload
path and the mapping line. Nothing is stored.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from engine.auth.access import allow
from engine.auth.roles import ALL_STAFF
from engine.errors import ApiError, NotFound, Unprocessable
from engine.rulesets.schemas import ErrorBodySchema

from .mapping import MappingFailure
from .preview import (
    RulesInvalid,
    RulesText,
    UnknownMapping,
    order_rules,
    preview_body,
    preview_json,
)

__all__ = ["blp"]

blp = Blueprint("mappings", __name__, url_prefix="/mappings",
                description="Mapping preview: one platform payload → the normalized order it becomes.")


class PreviewBodySchema(Schema):
    mapping = fields.Str()
    ruleset = fields.Dict(metadata={"description": "{name, version, checksum} of the ruleset holding the mapping"})
    order = fields.Dict(metadata={"description": "the normalized order: money integer fen, times ISO 8601 "
                                                 "with offset (UTC), status canonical"})
    dropped = fields.Dict(allow_none=True, metadata={"description": "{cleaning, line, rule} when a drop rule holds"})
    notes = fields.List(fields.Str())


def _read_body() -> Any:
    """The body parsed again with exact decimals (the guard has refused anything that is not
    strict UTF-8 JSON within the API body limit)."""
    data = request.get_data(cache=True)
    if not data:
        raise ApiError("request body is empty; send the platform payload as JSON", code="malformed_body",
                       details=[{"path": "", "message": "empty body"}])
    return json.loads(data.decode("utf-8"), parse_float=Decimal)


def _published_texts() -> list[RulesText]:
    from engine.storage.models import Ruleset, RulesetVersion

    with current_app.extensions["orderpulse"].db.session() as session:
        rows = session.execute(
            select(Ruleset.name, RulesetVersion.content, RulesetVersion.format, RulesetVersion.version,
                   RulesetVersion.checksum)
            .join(RulesetVersion, (Ruleset.id == RulesetVersion.ruleset_id)
                  & (Ruleset.latest_version == RulesetVersion.version))
            .order_by(Ruleset.name)).all()
    return [RulesText(content, name, fmt, version, checksum, f"{name}@v{version}")
            for name, content, fmt, version, checksum in rows]


@blp.route("/<name>/preview", methods=["POST"])
@allow(*ALL_STAFF)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {
    "type": "object", "description": "the platform payload itself (e.g. Taobao `trade`), mapped with the "
                                     "published mapping NAME; or `{\"rules\": TEXT, \"format\": \"dsl\"|\"json\", "
                                     "\"payload\": {...}}` to try draft rules"}}}})
@blp.response(200, PreviewBodySchema)
@blp.alt_response(404, schema=ErrorBodySchema, description="mapping_not_found")
@blp.alt_response(413, schema=ErrorBodySchema, description="body_too_large (above the API body limit)")
@blp.alt_response(422, schema=ErrorBodySchema,
                  description="mapping_failed (details: payload path, mapping line) or invalid_rules "
                              "(details: line/col of each problem)")
def preview(name: str) -> Any:
    """Map one platform payload with mapping NAME and apply the cleaning: the normalized order
    (exact fen, UTC times, canonical status, normalized region and phones) and whether a drop
    rule holds. Nothing is stored."""
    body = _read_body()
    draft = isinstance(body, dict) and isinstance(body.get("rules"), str) and "payload" in body
    if draft:
        fmt = body.get("format") or "dsl"
        if fmt not in ("dsl", "json"):
            raise Unprocessable("`format` is dsl or json", code="invalid",
                                details=[{"path": "/format", "message": "dsl or json"}])
        texts = [RulesText(body["rules"], "draft", fmt)]
        payload = body["payload"]
    else:
        texts = _published_texts()
        payload = body
    try:
        rules = order_rules(texts)
        result = preview_body(rules, name, payload)
    except RulesInvalid as exc:
        raise Unprocessable(exc.message, code="invalid_rules",
                            details=[{"path": "/rules" if draft else "/ruleset",
                                      **{k: v for k, v in p.items() if k != "text"}}
                                     for p in exc.problems]) from None
    except UnknownMapping as exc:
        where = "the draft rules" if draft else "any published ruleset"
        raise NotFound(f"no mapping {name!r} in {where}", code="mapping_not_found",
                       details=[{"path": "/mapping", "message": f"known: {', '.join(exc.known) or 'none'}"}]
                       ) from None
    except MappingFailure as exc:
        raise Unprocessable(str(exc), code="mapping_failed",
                            details=[{"path": exc.path, "mapping": exc.mapping, "line": exc.line,
                                      "col": exc.col, "message": exc.message,
                                      **({"pointer": exc.pointer} if exc.pointer else {})}]) from None
    return Response(preview_json(result), status=200, mimetype="application/json")
