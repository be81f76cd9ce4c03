"""Per-route access declarations and request authentication.

Every API view declares who may call it with :func:`allow` (staff roles) or :func:`public`.
Callers authenticate with ``Authorization: Bearer <token>`` or, from the builder, with the
login session (then unsafe methods must carry the CSRF token). No token → 401; a role not
declared on the route → 403. The check runs from a ``before_request`` hook
(:func:`enforce_declared_access`), before any other view decorator, and again in the
``allow`` wrapper. A route that declares nothing is refused (deny by default).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Request, current_app, g
from flask import request as flask_request
from flask import session as flask_session

from engine.auth.roles import STAFF_ROLES
from engine.auth.sessions import SESSION_KEY, resolve_session
from engine.auth.users import Principal
from engine.errors import Forbidden, Unauthorized
from engine.storage.models import User

F = TypeVar("F", bound=Callable[..., Any])

ROLES_ATTR = "__orderpulse_roles__"
PUBLIC = "public"


def public(view: F) -> F:
    """Declare a route open to anyone (health, OpenAPI document, login page)."""
    setattr(view, ROLES_ATTR, PUBLIC)
    return view


def allow(*roles: str) -> Callable[[F], F]:
    """Declare the staff roles allowed to call a route; authenticates and checks on each call."""
    unknown = [r for r in roles if r not in STAFF_ROLES]
    if unknown or not roles:
        raise ValueError(f"unknown roles in route declaration: {unknown}")
    allowed = frozenset(roles)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check_access(allowed)
            return view(*args, **kwargs)

        setattr(wrapper, ROLES_ATTR, allowed)
        return wrapper  # type: ignore[return-value]

    return decorate


def declared_roles(view: Callable[..., Any]) -> frozenset[str] | str | None:
    return getattr(view, ROLES_ATTR, None)


def check_access(allowed: frozenset[str]) -> Principal:
    """Authenticate the caller and require one of the ``allowed`` roles (401 / 403)."""
    principal = authenticate()
    if principal is None:
        raise Unauthorized("missing or invalid API token", code="unauthorized")
    if principal.role not in allowed:
        raise Forbidden(
            f"role {principal.role} ({STAFF_ROLES[principal.role]}) may not call this route; "
            f"allowed: {', '.join(sorted(allowed))}",
            code="forbidden",
        )
    return principal


def enforce_declared_access() -> None:
    """``before_request`` hook: check the matched route's declaration before any view
    decorator runs, so a caller who may not call a route never reaches body parsing (an
    anonymous call gets 401, not a validation error) whatever the decorator order."""
    endpoint = flask_request.endpoint
    view = current_app.view_functions.get(endpoint) if endpoint else None
    if view is None:
        return  # no route matched: the 404/405 follows
    declared = declared_roles(view)
    if isinstance(declared, frozenset):
        check_access(declared)
    elif declared != PUBLIC:
        # Deny by default: a route that declares neither roles nor ``public`` is closed.
        raise Forbidden(f"route {endpoint} declares no access; it is closed", code="undeclared_access")


def current_principal() -> Principal:
    principal: Principal | None = g.get("principal")
    if principal is None:
        raise Unauthorized("not authenticated")
    return principal


def authenticate() -> Principal | None:
    """Resolve the caller from a bearer token or the builder session (CSRF-checked)."""
    context = g._get_current_object()  # the proxies looked up once
    if "principal" in context:
        known: Principal | None = context.principal
        return known
    request: Request = flask_request._get_current_object()  # type: ignore[attr-defined]
    services = current_app.extensions["orderpulse"]
    header = request.headers.get("Authorization", "")
    principal: Principal | None = None
    if header[:7].lower() == "bearer ":
        principal = services.bearer_tokens.principal(header[7:].strip())
    elif SESSION_KEY in flask_session:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            current_app.extensions["csrf"].protect()
        user = session_user()
        if user is not None:
            principal = Principal(user.id, user.username, user.role, "session")
    context.principal = principal
    return principal


def session_user() -> User | None:
    """The user of the builder session in the request's cookie, when the session still stands
    (server-side: not signed out, not idle or expired, user not disabled)."""
    sid = flask_session.get(SESSION_KEY)
    if not isinstance(sid, str):
        return None
    services = current_app.extensions["orderpulse"]
    settings = services.settings
    # the idle clock is written on every request: take SQLite's write lock at BEGIN, so two
    # requests at once wait for each other instead of failing to upgrade a read to a write
    with services.db.transaction(immediate=True) as s:
        user = resolve_session(s, sid, services.clock.now(), idle_seconds=settings.session_idle_seconds,
                               absolute_seconds=settings.session_absolute_seconds)
        if user is not None:
            s.expunge(user)
    if user is None:
        flask_session.clear()
    return user
