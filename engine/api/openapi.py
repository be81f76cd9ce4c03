"""Completes the generated OpenAPI document with what every route inherits from the shared
request steps, so the document tells the truth for routes added later too:

- the error responses the access hook and the request guard can give on any operation
  (400 malformed body or parameter, 401/403 on role-declared routes, 404 on routes with path
  parameters, 413/415 on routes with a body, 422 bad values), all with the ``ErrorBody`` schema;
- ``security: []`` on public routes;
- the 64-bit bound of ``<int:...>`` path parameters.

Pure over the document and the app's URL map; owns no route.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask

from engine.api.request_guard import INT64_MAX, route_body_kind
from engine.api.rule_paths import openapi_path
from engine.auth.access import PUBLIC, declared_roles

_METHODS = ("get", "put", "post", "delete", "patch")
_BODY_METHODS = frozenset({"put", "post", "patch"})
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_DESCRIPTIONS = {
    400: "malformed body or parameter (not UTF-8 JSON, nested too deep, lone surrogate)",
    401: "missing or invalid credentials",
    403: "the caller's role may not call this route",
    404: "no such resource",
    413: "request body above this route's limit",
    415: "body is not application/json",
    422: "a value is invalid (field path in details)",
    503: "the route is not configured on this server",
}
_ERROR_BODY_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "array", "items": {"type": "object"}}},
    }},
}


def success(description: str, *, media: str = "application/json", status: int = 200) -> dict[str, Any]:
    """``@blp.doc(**success(...))`` declares a view's answer when it returns a plain object (or
    another media type) instead of going through ``@blp.response``."""
    schema: dict[str, Any] = {"type": "object"} if media == "application/json" else {"type": "string"}
    return {"responses": {str(status): {"description": description, "content": {media: {"schema": schema}}}}}


def complete_document(doc: dict[str, Any], app: Flask) -> dict[str, Any]:
    """A copy of ``doc`` with the inherited responses and bounds added (see module docstring)."""
    doc = copy.deepcopy(doc)
    doc.setdefault("components", {}).setdefault("schemas", {}).setdefault("ErrorBody", _ERROR_BODY_SCHEMA)
    views: dict[tuple[str, str], tuple[Any, str]] = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods or ():
            views[(openapi_path(rule.rule), method.lower())] = (app.view_functions[rule.endpoint], rule.rule)
    for path, item in doc.get("paths", {}).items():
        has_path_params = "{" in path
        for param in item.get("parameters", []):
            schema = param.get("schema", {})
            if param.get("in") == "path" and schema.get("type") == "integer":
                schema.setdefault("maximum", INT64_MAX)
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            view, rule = views.get((path, method), (None, path))
            declared = declared_roles(view) if view is not None else None
            statuses = [400, 422]
            if has_path_params:
                statuses.append(404)
            if method in _BODY_METHODS:
                statuses += [413, 415]
            if declared == PUBLIC:
                operation["security"] = []
                if route_body_kind(view, rule) == "hook":
                    statuses += [401, 503]
            else:
                statuses += [401, 403]
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)
            for status, response in responses.items():
                if int(status) >= 400 and "content" not in response:
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
            for status in sorted(statuses):
                responses.setdefault(str(status), {
                    "description": _DESCRIPTIONS[status],
                    "content": {"application/json": {"schema": ERROR_REF}},
                })
    return doc
