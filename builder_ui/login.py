"""Builder sign-in and sign-out (session cookie, CSRF-protected form, rate-limited failures)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_wtf.csrf import generate_csrf

from builder_ui import pages
from engine.auth.access import public
from engine.auth.users import check_password
from engine.logs import get_logger
from engine.storage.models import User

bp = Blueprint("builder", __name__, template_folder="templates", static_folder="static",
               static_url_path="/builder-static")
log = get_logger(__name__)


@bp.get("/login")
@public
def login_form() -> Any:
    return render_template("login.html", error=None, csrf_token=generate_csrf(), user=None)


@public
def login_submit() -> Any:
    current_app.extensions["csrf"].protect()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    services = current_app.extensions["orderpulse"]
    with services.db.session() as s:
        user = check_password(s, username, password)
    if user is None:
        log.warning("login_failed", username=username, remote=request.remote_addr)
        html = render_template("login.html", error="用户名或密码错误", csrf_token=generate_csrf(), user=None)
        return html, 401
    session.clear()
    session["user_id"] = user.id
    log.info("login_ok", username=username)
    target = request.args.get("next", "")
    if not (target.startswith("/") and not target.startswith("//")):
        target = url_for("builder.home")
    return redirect(target)


@bp.post("/logout")
@public
def logout() -> Any:
    current_app.extensions["csrf"].protect()
    session.clear()
    return redirect(url_for("builder.login_form"))


@bp.get("/")
@public
def home() -> Any:
    user_id = session.get("user_id")
    if user_id is None:
        return redirect(url_for("builder.login_form"))
    services = current_app.extensions["orderpulse"]
    with services.db.session() as s:
        user = s.get(User, user_id)
    if user is None:
        session.clear()
        return redirect(url_for("builder.login_form"))
    return pages.page("home.html", title="工作台")


def init(app: Flask, limiter: Limiter) -> None:
    """Register the builder pages; failed logins are limited per client address."""
    limited = limiter.limit(
        app.config.get("ORDERPULSE_LOGIN_LIMIT") or app.extensions["orderpulse"].settings.login_rate_limit,
        deduct_when=lambda response: response.status_code == 401,
        error_message="登录失败次数过多，请稍后再试",
    )(login_submit)
    app.register_blueprint(bp)
    app.add_url_rule("/login", "builder.login_submit", limited, methods=["POST"])


def _register_pages() -> None:
    """The page families share this blueprint (one static folder, one set of error pages)."""
    from builder_ui import catalogue, editor, rulesets, sandbox, users

    for area in (rulesets, editor, sandbox, catalogue, users):
        area.register(bp)
    pages.install_error_pages(bp)


_register_pages()
