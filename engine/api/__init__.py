"""The JSON API under ``/api/v1``: the flask-smorest ``Api`` that builds the OpenAPI document
from the routes, and the JSON error shape for every failure.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, jsonify
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from engine.errors import ApiError, error_body, json_pointer

API_PREFIX = "/api/v1"

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def _validation_details(messages: Any, path: list[str | int] | None = None) -> list[dict[str, Any]]:
    """Flatten webargs/marshmallow messages into ``[{"path": "/a/0/b", "message": ...}]``."""
    path = path or []
    out: list[dict[str, Any]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            key_path = path if key in ("json", "query", "headers", "form", "_schema") and not path else path + [key]
            out.extend(_validation_details(value, key_path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out.extend({"path": json_pointer(path), "message": m} for m in messages)
    elif isinstance(messages, list):
        for i, m in enumerate(messages):
            out.extend(_validation_details(m, path + [i]))
    else:
        out.append({"path": json_pointer(path), "message": str(messages)})
    return out


class ErrorInfo(Schema):
    code = fields.Str(required=True)
    message = fields.Str(required=True)
    details = fields.List(fields.Dict(), required=True)


class ErrorBody(Schema):
    """The one error body of the API: ``{"error": {"code", "message", "details": [...]}}``."""

    error = fields.Nested(ErrorInfo, required=True)


class OrderPulseApi(Api):
    """flask-smorest Api whose errors use the contract's JSON shape. The document declares
    that shape (``ErrorBody``) for every error response and has no ``default`` catch-all."""

    ERROR_SCHEMA = ErrorBody
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _openapi_json(self) -> Any:
        """The document, completed with what every route inherits (engine.api.openapi)."""
        from engine.api.openapi import complete_document

        cached = self._app.extensions.get("orderpulse_openapi")
        if cached is None:
            doc = complete_document(self.spec.to_dict(), self._app)
            cached = self._app.extensions["orderpulse_openapi"] = json.dumps(doc, ensure_ascii=False)
        return self._app.response_class(cached, mimetype="application/json")

    def handle_http_exception(self, error: HTTPException) -> Any:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        details = _validation_details(data["messages"]) if "messages" in data else list(getattr(error, "details", []))
        message = error.description or error.name
        if status == 422 and details:
            message = "request body is invalid: " + "; ".join(
                f"{d['path'] or '/'}: {d['message']}" for d in details[:5]
            )
        body = error_body(_HTTP_CODES.get(status, "error"), message, details)
        response = jsonify(body)
        response.status_code = status
        headers = getattr(error, "get_headers", None)
        if status == 405 and headers is not None:
            for k, v in error.get_headers():
                if k.lower() == "allow":
                    response.headers[k] = v
        return response


def init_api(app: Flask) -> OrderPulseApi:
    app.config.setdefault("API_TITLE", "OrderPulse")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = OrderPulseApi(
        app,
        spec_kwargs={
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}
            },
            "security": [{"bearerAuth": []}],
        },
    )

    app.extensions["orderpulse_api"] = api

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Any:
        response = jsonify(err.body())
        response.status_code = err.status
        return response

    return api
