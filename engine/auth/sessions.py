"""Builder sessions, revocable server-side.

The signed cookie (Flask's session) carries only ``sid``, a random 256-bit id; the
``user_sessions`` row keyed by its SHA-256 digest says whether it still stands. A session ends
on sign-out, on a password change (:func:`end_user_sessions`), when its user is disabled,
after ``session_idle_seconds`` without a request and ``session_absolute_seconds`` after sign-in
(both settings). The cookie is HttpOnly, SameSite=Lax, expires with the absolute lifetime, and
is ``Secure`` whenever the request came over https (directly, or through a proxy trusted with
``ORDERPULSE_PROXY_FIX``).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import update
from sqlalchemy.orm import Session

from engine.storage.models import User, UserSession

SESSION_KEY = "sid"


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per secret key
    (every API call opens the session) and the Secure flag following the request's scheme."""

    def __init__(self) -> None:
        self._serializer: tuple[Any, Any] | None = None

    def get_signing_serializer(self, app: Flask) -> Any:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = self._serializer
        if cached is None or cached[0] != key:
            cached = (key, super().get_signing_serializer(app))
            self._serializer = cached
        return cached[1]

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def start_session(session: Session, user: User, now: datetime) -> str:
    """A new server-side session for ``user``; returns the id to put in the cookie."""
    sid = secrets.token_urlsafe(32)
    session.add(UserSession(id_hash=_digest(sid), user_id=user.id, created_at=now, last_seen_at=now,
                            ended_at=None, ended_reason=""))
    session.flush()
    return sid


def resolve_session(session: Session, sid: str, now: datetime, *, idle_seconds: float,
                    absolute_seconds: float) -> User | None:
    """The active user of session ``sid``, refreshing its idle clock; None (and the session
    ended, with the reason) when it is unknown, ended, idle or too old, or the user is disabled."""
    row = session.get(UserSession, _digest(sid))
    if row is None or row.ended_at is not None:
        return None
    user = session.get(User, row.user_id)
    reason = ""
    if user is None or not user.active:
        reason = "user_disabled"
    elif now - row.last_seen_at > timedelta(seconds=idle_seconds):
        reason = "idle"
    elif now - row.created_at > timedelta(seconds=absolute_seconds):
        reason = "expired"
    if reason:
        row.ended_at, row.ended_reason = now, reason
        return None
    row.last_seen_at = now
    return user


def end_session(session: Session, sid: str, now: datetime, reason: str = "logout") -> None:
    session.execute(update(UserSession).where(UserSession.id_hash == _digest(sid), UserSession.ended_at.is_(None))
                    .values(ended_at=now, ended_reason=reason))


def end_user_sessions(session: Session, user_id: int, now: datetime, reason: str) -> int:
    """End every open session of a user (password changed, user disabled); how many ended."""
    result = session.execute(update(UserSession)
                             .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
                             .values(ended_at=now, ended_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)
