"""User accounts and API tokens: creation, password checks, token lookup.

Passwords are hashed with Argon2id (argon2-cffi); API tokens are random 256-bit strings
stored only as their SHA-256 digest, each bound to one user.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.auth.roles import STAFF_ROLES, normalize_role
from engine.clock import Clock, SystemClock
from engine.errors import ApiError, Conflict
from engine.storage.models import ApiToken, User

if TYPE_CHECKING:
    from engine.storage.db import Database

_hasher = PasswordHasher()
TOKEN_PREFIX = "op_"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    user_id: int
    username: str
    role: str
    via: str  # "token" or "session"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str | None = None,
    *,
    display_name: str = "",
    clock: Clock | None = None,
) -> User:
    code = normalize_role(role)
    if code not in STAFF_ROLES:
        raise ApiError(
            f"unknown role {role!r}; choose one of: "
            + ", ".join(f"{k} ({v})" for k, v in STAFF_ROLES.items()),
            code="unknown_role",
            details=[{"path": "/role", "message": "unknown role"}],
        )
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", code="user_exists")
    user = User(
        username=username,
        display_name=display_name or username,
        role=code,
        password_hash=_hasher.hash(password) if password else None,
        active=True,
        created_at=(clock or SystemClock()).now(),
    )
    session.add(user)
    session.flush()
    return user


def issue_token(session: Session, user: User, name: str = "", *, clock: Clock | None = None) -> str:
    """Create a token for ``user``; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=hash_token(token),
            prefix=token[:10],
            name=name,
            created_at=(clock or SystemClock()).now(),
        )
    )
    session.flush()
    return token


# The caller a bearer token stands for: the token joined to its active user.
_PRINCIPAL_FOR_DIGEST_SQL = (
    "SELECT users.id, users.username, users.role FROM api_tokens JOIN users ON users.id = api_tokens.user_id "
    "WHERE api_tokens.token_hash = ? AND api_tokens.revoked_at IS NULL AND users.active = ?"
)


def principal_for_bearer(db: Database, token: str) -> Principal | None:
    """The caller ``token`` stands for, read from the database (never cached here: a revoked
    token or a deactivated user is refused from the next request on; requests go through
    :mod:`engine.auth.token_cache`, which keeps that promise)."""
    return principal_for_digest(db, hash_token(token))


def principal_for_digest(db: Database, digest: str) -> Principal | None:
    """The caller of the token whose SHA-256 digest is ``digest``, in one round trip with no
    pool checkout: it reads on a kept raw connection (engine/storage/raw.py)."""
    rows = db.raw_reads.fetch(_PRINCIPAL_FOR_DIGEST_SQL, (digest, True))
    if not rows:
        return None
    user_id, username, role = rows[0]
    return Principal(user_id, username, role, "token")


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when there is no user, made on first use, not at import."""
    return _hasher.hash("not-a-real-password")


def check_password(session: Session, username: str, password: str) -> User | None:
    dummy = _dummy_hash()  # before the lookup, so the first miss costs no more than a hit
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not user.password_hash:
        # Spend the same time as a real check so usernames cannot be probed by timing.
        try:
            _hasher.verify(dummy, password)
        except (VerificationError, InvalidHashError):
            pass
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def set_password(session: Session, user: User, password: str, *, clock: Clock | None = None) -> int:
    """Change ``user``'s password and end every builder session they had (a stolen cookie
    stops working with the old password); how many sessions ended."""
    from engine.auth.sessions import end_user_sessions

    user.password_hash = _hasher.hash(password)
    session.flush()
    return end_user_sessions(session, user.id, (clock or SystemClock()).now(), "password_changed")


def set_active(session: Session, user: User, active: bool, *, clock: Clock | None = None) -> int:
    """Enable or disable ``user``; disabling ends their sessions (their tokens stop working
    from the next request, see :func:`principal_for_bearer`); how many sessions ended."""
    from engine.auth.sessions import end_user_sessions

    user.active = active
    session.flush()
    return 0 if active else end_user_sessions(session, user.id, (clock or SystemClock()).now(), "user_disabled")


def hash_password(password: str) -> str:
    """The Argon2id hash stored for ``password``."""
    return _hasher.hash(password)
