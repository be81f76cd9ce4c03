"""What every builder page shares: the signed-in user, who may see which navigation link and
button, rendering with the layout's context, and the answers to refused requests (no session
→ the login page; a role that may not → a 403 page in Chinese; a missing or stale CSRF token
→ a 400 page saying so).

Access itself is declared on each view with :func:`engine.auth.access.allow`, the same
declaration the API uses, so the server refuses what the page does not show.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, generate_csrf

import dsl
from dsl.errors import RuleError
from engine.auth.access import session_user
from engine.auth.roles import ALL_STAFF, role_label
from engine.errors import ApiError, Forbidden, Unauthorized
from engine.storage.models import User

EDITORS = ("admin", "ops")
READERS = ALL_STAFF
ADMINS = ("admin",)


def services() -> Any:
    return current_app.extensions["orderpulse"]


@functools.lru_cache(maxsize=16)
def parsed(content: str) -> dsl.model.Ruleset | None:
    """``content`` parsed once for all the forms of one answer (None when it does not parse).
    The model is immutable, so the forms may share it."""
    try:
        return dsl.parse_text(content)
    except RuleError:
        return None


def signed_in_user() -> User | None:
    """The signed-in user row (None when there is no valid session); cached per request."""
    if "page_user" in g:
        return g.page_user
    # The session alone (never the CSRF check: error pages render for refused posts too).
    # server-side sessions (engine.auth.sessions): signed out, idle, expired or disabled → None
    user = session_user()
    g.page_user = user
    return user


def may(*roles: str) -> bool:
    """Whether the signed-in user has one of ``roles`` (decides which buttons are shown)."""
    user = signed_in_user()
    return user is not None and user.role in roles


def page(template_name: str, status: int = 200, /, **context: Any) -> tuple[str, int]:
    user = signed_in_user()
    return render_template(
        template_name,
        user=user,
        role_label=role_label(user.role) if user else "",
        csrf_token=generate_csrf(),
        may_edit=may(*EDITORS),
        may_admin=may(*ADMINS),
        active_nav=context.pop("active_nav", ""),
        **context,
    ), status


def install_error_pages(bp: Blueprint) -> None:
    """Refusals on builder pages answer as pages (JSON for the pages' own JSON calls)."""

    def wants_json() -> bool:
        """The pages' own JSON calls and API-style callers (bearer token) get JSON errors."""
        return (request.is_json or request.accept_mimetypes.best == "application/json"
                or "Authorization" in request.headers)

    @bp.errorhandler(Unauthorized)
    def _unauthorized(err: Unauthorized) -> Any:
        if wants_json():
            return {"error": {"code": err.code, "message": "登录已失效，请重新登录", "details": []}}, 401
        return redirect(url_for("builder.login_form", next=request.path))

    @bp.errorhandler(Forbidden)
    def _forbidden(err: Forbidden) -> Any:
        if wants_json():
            return {"error": {"code": err.code, "message": "当前角色无权执行此操作", "details": []}}, 403
        return page("refused.html", 403, title="无权访问", message="当前角色无权执行此操作。")

    @bp.errorhandler(CSRFError)
    def _csrf(err: CSRFError) -> Any:
        if request.endpoint == "builder.login_submit":  # the login form keeps its API-style answer
            return {"error": {"code": "bad_request", "message": err.description, "details": []}}, 400
        message = "页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试。"
        if wants_json():
            return {"error": {"code": "csrf", "message": message, "details": []}}, 400
        return page("refused.html", 400, title="请求被拒绝", message=message)

    @bp.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Any:
        if wants_json():
            return {"error": {"code": err.code, "message": err.message, "details": err.details}}, err.status
        return page("refused.html", err.status, title="操作未完成", message=err.message)
