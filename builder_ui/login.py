"""Builder sign-in and sign-out (session cookie, CSRF-protected form, rate-limited failures)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_wtf.csrf import generate_csrf

from builder_ui import pages
from engine.auth.access import public, session_user
from engine.auth.sessions import SESSION_KEY, end_session, start_session
from engine.auth.users import check_password
from engine.logs import get_logger
from engine.redaction import mask_secret

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
    with services.db.transaction() as s:
        user = check_password(s, username, password)
        sid = start_session(s, user, services.clock.now()) if user is not None else None
    if sid is None:
        # what was typed may be a password or a token typed in the wrong field: log it masked
        log.warning("login_failed", username=mask_secret(username), remote=request.remote_addr)
        html = render_template("login.html", error="用户名或密码错误", csrf_token=generate_csrf(), user=None)
        return html, 401
    session.clear()
    session.permanent = True  # the cookie expires with the session's absolute lifetime
    session[SESSION_KEY] = sid
    log.info("login_ok", username=username)  # a known account's name, not a typed secret
    target = request.args.get("next", "")
    if not (target.startswith("/") and not target.startswith("//")):
        target = url_for("builder.home")
    return redirect(target)


@bp.post("/logout")
@public
def logout() -> Any:
    current_app.extensions["csrf"].protect()
    sid = session.get(SESSION_KEY)
    if isinstance(sid, str):
        services = current_app.extensions["orderpulse"]
        with services.db.transaction() as s:
            end_session(s, sid, services.clock.now())
    session.clear()
    return redirect(url_for("builder.login_form"))


@bp.get("/")
@public
def home() -> Any:
    user = session_user()
    if user is None:
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
    # the builder's stylesheets and scripts (/builder-static/...) are public: the sign-in page needs them
    send_static = app.view_functions["builder.static"]

    def static(filename: str) -> Any:
        return send_static(filename=filename)

    app.view_functions["builder.static"] = public(static)


def _register_pages() -> None:
    """The page families share this blueprint (one static folder, one set of error pages)."""
    from builder_ui import catalogue, editor, machine_form, mapping_form, rulesets, sandbox, users, whatif

    for area in (rulesets, editor, mapping_form, machine_form, whatif, sandbox, catalogue, users):
        area.register(bp)
    from builder_ui import boards

    boards.register(bp)
    from builder_ui import desk

    desk.register(bp)
    pages.install_error_pages(bp)


_register_pages()
