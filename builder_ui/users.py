"""用户 pages (管理员 only): create a user with a role, disable / enable, reset a password,
issue and revoke API tokens. A new token is shown once, on the page that follows its creation.

Use cases are :mod:`engine.auth.accounts` and :func:`engine.auth.users.create_user`, the same as
``/api/v1/users``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for

from builder_ui.pages import ADMINS, page, services
from engine.auth import accounts
from engine.auth.access import allow, current_principal
from engine.auth.roles import STAFF_ROLES
from engine.auth.routes import caller_token_hash
from engine.auth.users import create_user
from engine.errors import ApiError

_ERRORS_ZH = {
    "user_exists": "用户名已存在",
    "unknown_role": "未知角色",
    "weak_password": f"密码至少 {accounts.MIN_PASSWORD_LENGTH} 位",
    "own_account": "不能停用或降级自己的账号",
    "user_disabled": "该用户已停用，不能创建令牌",
    "own_token": "不能吊销当前请求正在使用的令牌",
}


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/users", "users", users_page, methods=["GET"])
    bp.add_url_rule("/users", "create_user", create, methods=["POST"])
    bp.add_url_rule("/users/<int:user_id>/active", "set_active", set_active, methods=["POST"])
    bp.add_url_rule("/users/<int:user_id>/password", "reset_password", reset_password, methods=["POST"])
    bp.add_url_rule("/users/<int:user_id>/tokens", "create_token", create_token, methods=["POST"])
    bp.add_url_rule("/users/<int:user_id>/tokens/<int:token_id>/revoke", "revoke_token", revoke_token,
                    methods=["POST"])


def _render(status: int = 200, **extra: Any) -> Any:
    with services().db.session() as s:
        users = accounts.list_users(s)
        s.expunge_all()
    return page("users.html", status, users=users, roles=STAFF_ROLES, active_nav="users", title="用户", **extra)


def _message(err: ApiError) -> str:
    return _ERRORS_ZH.get(err.code, err.message)


def _me() -> int:
    return current_principal().user_id


@allow(*ADMINS)
def users_page() -> Any:
    return _render()


@allow(*ADMINS)
def create() -> Any:
    svc = services()
    form = {k: request.form.get(k, "").strip() for k in ("username", "display_name", "role")}
    password = request.form.get("password", "")
    try:
        if password:
            accounts.check_new_password(password)
        with svc.db.transaction(immediate=True) as s:
            create_user(s, form["username"], form["role"], password or None,
                        display_name=form["display_name"], clock=svc.clock)
    except ApiError as err:
        return _render(422, error=_message(err), form=form)
    flash(f"已创建用户 {form['username']}")
    return redirect(url_for("builder.users"))


@allow(*ADMINS)
def set_active(user_id: int) -> Any:
    if request.form.get("active") not in ("0", "1"):
        return _render(422, error="缺少要设置的状态（启用或停用）")
    active = request.form.get("active") == "1"
    try:
        with services().db.transaction(immediate=True) as s:
            user = accounts.update_user(s, user_id, acting_user_id=_me(), active=active)
            name = user.username
    except ApiError as err:
        return _render(err.status, error=_message(err))
    flash(f"已{'启用' if active else '停用'}用户 {name}")
    return redirect(url_for("builder.users"))


@allow(*ADMINS)
def reset_password(user_id: int) -> Any:
    try:
        with services().db.transaction(immediate=True) as s:
            user = accounts.update_user(s, user_id, acting_user_id=_me(), password=request.form.get("password", ""))
            name = user.username
    except ApiError as err:
        return _render(err.status, error=_message(err))
    flash(f"已重置 {name} 的密码")
    return redirect(url_for("builder.users"))


@allow(*ADMINS)
def create_token(user_id: int) -> Any:
    svc = services()
    try:
        with svc.db.transaction(immediate=True) as s:
            issued = accounts.create_token(s, user_id, name=request.form.get("name", "").strip(), clock=svc.clock)
            shown = {"user_id": user_id, "token": issued.token, "name": issued.row.name}
    except ApiError as err:
        return _render(err.status, error=_message(err))
    return _render(201, new_token=shown)


@allow(*ADMINS)
def revoke_token(user_id: int, token_id: int) -> Any:
    svc = services()
    try:
        with svc.db.transaction(immediate=True) as s:
            row = accounts.revoke_token(s, user_id, token_id, now=svc.clock.now(),
                                       caller_token_hash=caller_token_hash())
            prefix = row.prefix
    except ApiError as err:
        return _render(err.status, error=_message(err))
    flash(f"已吊销令牌 {prefix}…")
    return redirect(url_for("builder.users"))
