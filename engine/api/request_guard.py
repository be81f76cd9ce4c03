"""The one step every request body and every path or query parameter passes before a view runs.

Registered once as a ``before_request`` hook (after the access check), so every route — also
routes added later — inherits it:

- size: the route's body limit (by kind, see :func:`body_kind`) is compared with
  ``Content-Length`` before anything is read (413), and set as the request's
  ``max_content_length`` so a chunked body is cut off at the same limit while it is read;
- type: a non-empty body on a JSON route must say ``Content-Type: application/json`` (415);
- syntax: the body must be UTF-8 JSON without lone surrogates, ``NaN``/``Infinity`` or more
  than :data:`MAX_DEPTH` levels of nesting (400);
- values: no string holds a NUL byte and no integer lies outside 64 bits (422, with the JSON
  pointer of the field and its bounds); path and query parameters get the same string check;
  a query parameter the API document does not declare, or one given twice where the document
  declares a single value, is refused (422).

Routes that must see their raw bytes (signed webhooks: the signature is checked before
anything is parsed) declare ``@body_kind("hook")``; they parse afterwards with
:func:`parse_json_bytes`, the same strict parser. This module owns no business rule.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, Request, current_app
from flask import request as flask_request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from engine.api.rule_paths import openapi_path
from engine.config import DEFAULT_BODY_LIMITS
from engine.errors import ApiError, Unprocessable, json_pointer

F = TypeVar("F", bound=Callable[..., Any])

BODY_KIND_ATTR = "__orderpulse_body_kind__"
MAX_DEPTH = 64
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

JSON_KINDS = frozenset({"api", "ruleset"})


class BadRequestBody(ApiError):
    status = 400
    code = "malformed_body"


def body_kind(kind: str) -> Callable[[F], F]:
    """Declare which body limit and handling a route gets: ``api`` (default for ``/api/v1``),
    ``ruleset`` (large JSON), ``hook`` (raw bytes, parsed by the view) or ``form``."""
    if kind not in DEFAULT_BODY_LIMITS:
        raise ValueError(f"unknown body kind {kind!r}; one of {sorted(DEFAULT_BODY_LIMITS)}")

    def decorate(view: F) -> F:
        setattr(view, BODY_KIND_ATTR, kind)
        return view

    return decorate


def route_body_kind(view: Callable[..., Any] | None, path: str) -> str:
    declared = getattr(view, BODY_KIND_ATTR, None) if view is not None else None
    if declared:
        return str(declared)
    return "api" if path.startswith("/api/") else "form"


def guard_request() -> None:
    """``before_request`` hook: size, type and syntax of the body; strings in the path and query."""
    # the request and app behind Flask's context proxies, looked up once (each proxy access costs)
    request: Request = flask_request._get_current_object()  # type: ignore[attr-defined]
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    view = app.view_functions.get(request.endpoint) if request.endpoint else None
    kind = route_body_kind(view, request.path)
    limits: Mapping[str, int] = app.config.get("ORDERPULSE_BODY_LIMITS") or DEFAULT_BODY_LIMITS
    limit = limits.get(kind, DEFAULT_BODY_LIMITS[kind])
    request.max_content_length = limit  # a chunked body is cut off at the limit while read
    length = request.content_length
    if length is not None and length > limit:
        raise _too_large(length, limit)
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str):
            check_text(value, f"path parameter {name}", [name])
    rule = request.url_rule
    declared = declared_query(rule.rule if rule else None, request.method) if request.args else None
    seen: set[str] = set()
    for name, value in request.args.items(multi=True):
        check_text(name, "query parameter name", [name])
        check_text(value, f"query parameter {name}", [name])
        if declared is None:
            continue
        if name not in declared:
            raise Unprocessable(f"unknown query parameter {name[:40]!r}; this route takes: "
                                f"{', '.join(sorted(declared)) or 'none'}", code="unknown_parameter",
                                details=[{"path": json_pointer([name]), "message": "unknown query parameter"}])
        if name in seen and not declared[name]:
            raise Unprocessable(f"query parameter {name!r} is given more than once; it takes one value "
                                "(several values go comma-separated where the route allows them)",
                                code="repeated_parameter",
                                details=[{"path": json_pointer([name]), "message": "given more than once"}])
        seen.add(name)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if length is None and kind != "form":
        # no Content-Length (chunked): the stream stops at the limit; a body that reached it
        # was cut off, so it is refused rather than parsed short
        body = request.get_data(cache=True)
        if len(body) >= limit:
            raise _too_large(None, limit)
    if kind not in JSON_KINDS:
        return
    body = request.get_data(cache=True)
    if not body:
        return
    if not request.is_json:
        raise ApiError(f"send the body as application/json (got {request.mimetype or 'no Content-Type'})",
                       code="unsupported_media_type", status=415)
    parse_json_bytes(body)


def _too_large(length: int | None, limit: int) -> ApiError:
    size = f"{length} bytes" if length is not None else "larger than the limit"
    return ApiError(f"request body is {size}; this route accepts at most {limit} bytes",
                    code="body_too_large", status=413,
                    details=[{"path": "", "message": f"at most {limit} bytes", "limit": limit}])


def declared_query(rule: str | None, method: str) -> Mapping[str, bool] | None:
    """The query parameters the API document declares for a route, each with whether it may be
    repeated (an array); None: not an API route in the document, nothing is refused. Built once
    per app from the document, so a route's ``@blp.arguments(..., location="query")`` is both
    what it documents and what it accepts."""
    if rule is None:
        return None
    cache: dict[tuple[str, str], dict[str, bool]] | None = current_app.extensions.get("orderpulse_query_names")
    if cache is None:
        cache = {}
        api = current_app.extensions.get("orderpulse_api")
        doc = api.spec.to_dict() if api is not None else {}

        def query(params: list[dict[str, Any]]) -> dict[str, bool]:
            return {p["name"]: (p.get("schema") or {}).get("type") == "array" for p in params if p.get("in") == "query"}

        for path, item in doc.get("paths", {}).items():
            shared = query(item.get("parameters", []))
            for verb, operation in item.items():
                if isinstance(operation, dict) and verb in ("get", "put", "post", "patch", "delete"):
                    cache[(path, verb)] = {**shared, **query(operation.get("parameters", []))}
        current_app.extensions["orderpulse_query_names"] = cache
    return cache.get((openapi_path(rule), method.lower()))


def parse_json_bytes(body: bytes) -> Any:
    """Strictly parse a JSON body: 400 for bytes that are not UTF-8 JSON (or nest deeper than
    :data:`MAX_DEPTH`, or hold lone surrogates / non-finite numbers); 422 for a NUL byte in a
    string or an integer outside 64 bits, naming the field."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequestBody(f"request body is not UTF-8 (byte {err.start})") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise BadRequestBody(f"request body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as err:  # JSONDecodeError, and Python's int-string length limit
        raise BadRequestBody(f"request body is not valid JSON: {err}") from None
    check_value(value)
    return value


def check_value(value: Any) -> None:
    """Walk a parsed JSON value (iteratively): depth, strings and integers, as described above."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise BadRequestBody(f"request body nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, child in item.items():
                check_text(key, "field name", path + [key])
                stack.append((child, path + [key]))
        elif isinstance(item, list):
            stack.extend((child, path + [i]) for i, child in enumerate(item))
        elif isinstance(item, str):
            check_text(item, "value", path)
        elif isinstance(item, int) and not isinstance(item, bool) and not INT64_MIN <= item <= INT64_MAX:
            pointer = json_pointer(path)
            raise Unprocessable(f"{pointer or 'body'}: integer out of range [{INT64_MIN}, {INT64_MAX}]",
                                code="out_of_range",
                                details=[{"path": pointer, "message": "integer out of range",
                                          "minimum": INT64_MIN, "maximum": INT64_MAX}])


def check_text(value: str, what: str, path: list[str | int]) -> None:
    """400 for a lone surrogate (not text at all), 422 for a NUL byte (no column stores one)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequestBody(f"{what} {json_pointer(path)} holds a lone surrogate (not valid Unicode text)",
                                 details=[{"path": json_pointer(path), "message": "lone surrogate"}]) from None
    if "\x00" in value:
        raise Unprocessable(f"{what} {json_pointer(path)} holds a NUL character",
                            code="invalid_character",
                            details=[{"path": json_pointer(path), "message": "NUL character not allowed"}])


class PathIntegerOutOfRange(HTTPException):
    """An integer path parameter beyond the 64-bit columns it addresses (422, not a 500)."""

    code = 422

    def __init__(self, value: str) -> None:
        super().__init__(f"path parameter {value[:30]} is out of range [0, {INT64_MAX}]")
        self.details = [{"path": "", "message": "integer out of range", "minimum": 0, "maximum": INT64_MAX}]


class BoundedIntegerConverter(IntegerConverter):
    """The ``int`` URL converter, refusing ids beyond 64 bits with 422 instead of handing them
    to the database. Installed as the app's ``int`` converter, so every ``<int:...>`` route has it."""

    def to_python(self, value: str) -> int:
        if len(value) > 19 or int(value) > INT64_MAX:
            raise PathIntegerOutOfRange(value)
        return int(value)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value
