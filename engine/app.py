"""The Flask application factory: wires services, security, the API and the builder."""

from __future__ import annotations

import functools
from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.api import API_PREFIX, init_api
from engine.api.request_guard import BoundedIntegerConverter, guard_request
from engine.auth.access import enforce_declared_access, public
from engine.auth.sessions import CookieSessions
from engine.config import Settings
from engine.services import Services


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    if services is None:
        services = Services.build(settings or Settings.from_env())
    settings = services.settings
    # No static folder: the builder serves only its packaged assets (from its own blueprint).
    app = Flask("orderpulse", template_folder=None, static_folder=None)
    app.url_map.converters["int"] = BoundedIntegerConverter  # ids beyond 64 bits → 422
    if settings.proxy_fix:
        # Behind a reverse proxy that terminates https: trust one hop of X-Forwarded-For/-Proto/
        # -Host, so request.is_secure (and so the session cookie's Secure flag) is right.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        JSON_AS_ASCII=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        ORDERPULSE_BODY_LIMITS=settings.body_limits,
        PERMANENT_SESSION_LIFETIME=int(settings.session_absolute_seconds),
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
        RATELIMIT_STORAGE_URI=settings.redis_url or "memory://",
        RATELIMIT_KEY_PREFIX=settings.redis_prefix + "ratelimit",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.session_interface = CookieSessions()
    app.extensions["orderpulse"] = services

    csrf = CSRFProtect(app)
    app.extensions["csrf"] = csrf
    limiter = Limiter(get_remote_address, app=app, default_limits=[])
    _scope_limiter_to_builder(app, limiter)
    app.extensions["orderpulse_limiter"] = limiter
    app.before_request(enforce_declared_access)  # access is checked before body parsing
    app.before_request(guard_request)  # then size, type and syntax of the body, for every route

    api = init_api(app)
    _register_blueprints(app, api, limiter)

    # flask-smorest's own document route is public.
    docs_view = app.view_functions.get("api-docs.openapi_json")
    if docs_view is not None:
        def openapi_json() -> Any:
            return docs_view()

        app.view_functions["api-docs.openapi_json"] = public(openapi_json)
    return app


def _scope_limiter_to_builder(app: Flask, limiter: Limiter) -> None:
    """Flask-Limiter hooks itself into every request, but only builder routes (the login form)
    are limited: its hooks move to the ``builder`` blueprint's scope (Flask's documented
    ``{scope: [functions]}`` hook tables), so API requests do not pay for them."""

    def mine(func: Any) -> bool:
        if isinstance(func, functools.partial):
            return bool(func.args) and func.args[0] is limiter
        return getattr(func, "__self__", None) is limiter

    tables: list[dict[Any, list[Any]]] = [app.before_request_funcs, app.after_request_funcs,
                                         app.teardown_request_funcs]
    for table in tables:
        everywhere = table.get(None, [])
        moved = [f for f in everywhere if mine(f)]
        table[None] = [f for f in everywhere if not mine(f)]
        table.setdefault("builder", []).extend(moved)


def _register_blueprints(app: Flask, api: Any, limiter: Limiter) -> None:
    from builder_ui import login
    from engine.api import health
    from engine.api.areas import api_blueprints

    app.register_blueprint(health.bp)
    login.init(app, limiter)
    for blueprint in api_blueprints():
        api.register_blueprint(blueprint, url_prefix=API_PREFIX + (blueprint.url_prefix or ""))
