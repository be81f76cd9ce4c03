"""Error types with the data a caller needs, and their JSON shape for the API.

Every API error body is ``{"error": {"code", "message", "details": [...]}}``.
"""

from __future__ import annotations

from typing import Any


class OrderPulseError(Exception):
    """Base of the engine's own errors."""


class ApiError(OrderPulseError):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        code: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Unprocessable(ApiError):
    status = 422
    code = "invalid"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The API's error body; the message passes the one redaction step (engine.redaction)."""
    from engine.redaction import redact

    return {"error": {"code": code, "message": redact(message), "details": details or []}}


def json_pointer(path: list[str | int] | tuple[str | int, ...]) -> str:
    """RFC 6901 pointer for a field path (``["lines", 0, "qty"]`` → ``/lines/0/qty``)."""
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts) if parts else ""
