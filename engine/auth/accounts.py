"""User administration use cases (管理员): list users with their tokens, create, disable or
enable, change role, reset a password, issue and revoke API tokens.

Session in, ORM rows out; the caller owns the transaction. Creation and hashing live in
:mod:`engine.auth.users`; this module adds what an administrator changes afterwards. Nothing
here knows about HTTP or pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.auth.roles import STAFF_ROLES, normalize_role
from engine.auth.users import issue_token, set_active, set_password
from engine.clock import Clock
from engine.errors import Conflict, NotFound, Unprocessable
from engine.storage.models import ApiToken, User
from engine.values import INT32_MAX

MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class IssuedToken:
    """A new token: the plain text is shown once and never stored."""

    token: str
    row: ApiToken


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).options(selectinload(User.tokens)).order_by(User.id)))


def get_user(session: Session, user_id: int) -> User:
    # ids are 32-bit columns: a larger one names no user (and must not reach PostgreSQL's int4)
    user = session.get(User, user_id) if 0 < user_id <= INT32_MAX else None
    if user is None:
        raise NotFound(f"user {user_id} does not exist", code="user_not_found")
    return user


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Unprocessable(
            f"password must have at least {MIN_PASSWORD_LENGTH} characters",
            code="weak_password",
            details=[{"path": "/password", "message": f"at least {MIN_PASSWORD_LENGTH} characters"}],
        )


def update_user(
    session: Session,
    user_id: int,
    *,
    acting_user_id: int,
    active: bool | None = None,
    role: str | None = None,
    password: str | None = None,
    display_name: str | None = None,
    clock: Clock | None = None,
) -> User:
    """Change what is given; an administrator cannot disable or demote their own account."""
    user = get_user(session, user_id)
    if role is not None:
        code = normalize_role(role)
        if code not in STAFF_ROLES:
            raise Unprocessable(f"unknown role {role!r}", code="unknown_role",
                                details=[{"path": "/role", "message": "unknown role"}])
        if user.id == acting_user_id and code != user.role:
            raise Conflict("you cannot change your own role", code="own_account",
                           details=[{"path": "/role", "message": "own account"}])
        user.role = code
    if active is not None:
        if user.id == acting_user_id and not active:
            raise Conflict("you cannot disable your own account", code="own_account",
                           details=[{"path": "/active", "message": "own account"}])
        set_active(session, user, active, clock=clock)  # disabling ends the user's sessions
    if password is not None:
        check_new_password(password)
        set_password(session, user, password, clock=clock)  # ends the user's sessions
    if display_name is not None:
        user.display_name = display_name or user.username
    session.flush()
    return user


def create_token(session: Session, user_id: int, *, name: str, clock: Clock) -> IssuedToken:
    user = get_user(session, user_id)
    if not user.active:
        raise Conflict(f"user {user.username!r} is disabled", code="user_disabled")
    plain = issue_token(session, user, name, clock=clock)
    row = session.scalar(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))
    assert row is not None
    return IssuedToken(plain, row)


def revoke_token(session: Session, user_id: int, token_id: int, *, now: datetime,
                 caller_token_hash: str | None = None) -> ApiToken:
    """Revoke one token of the user; refused from the next request on. Revoking twice is a
    no-op. The token the request itself authenticates with (``caller_token_hash``) is kept:
    409 ``own_token``."""
    row = session.get(ApiToken, token_id) if 0 < token_id <= INT32_MAX else None
    if row is None or row.user_id != user_id:
        raise NotFound(f"user {user_id} has no token {token_id}", code="token_not_found")
    if caller_token_hash is not None and row.token_hash == caller_token_hash:
        raise Conflict("this request is authenticated with that token; revoke it with another one",
                       code="own_token", details=[{"path": "/id", "message": "the caller's own token"}])
    if row.revoked_at is None:
        row.revoked_at = now
        session.flush()
    return row
