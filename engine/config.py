"""Settings read from the environment (``ORDERPULSE_*``).

Owns the names and defaults of every setting; nothing here opens a connection.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_OUTBOX_LEASE_SECONDS = 60.0

# Request body limits per kind of route, in bytes (see engine.api.request_guard).
DEFAULT_BODY_LIMITS: dict[str, int] = {
    "api": 256 * 1024,        # ordinary JSON requests
    "ruleset": 1024 * 1024,   # ruleset drafts and checks carry whole rule files
    "hook": 64 * 1024,        # anonymous signed webhooks: small, checked before parsing
    "form": 16 * 1024,        # the builder's login and logout forms
}


def _default_database_url() -> str:
    return f"sqlite:///{Path.cwd() / 'orderpulse.db'}"


@dataclass(frozen=True)
class Settings:
    """Process-wide configuration; build it with :meth:`from_env` or directly in tests."""

    database_url: str = field(default_factory=_default_database_url)
    redis_url: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    handler_modules: tuple[str, ...] = ()
    login_rate_limit: str = "5 per minute"
    redis_prefix: str = "op:"
    # How long a claimed outbox row stays reserved for a dispatcher before another may retry it.
    outbox_lease_seconds: float = DEFAULT_OUTBOX_LEASE_SECONDS
    # The declared channel (``channel 仓储群 feishu {…}`` in a published ruleset) that receives
    # inventory alerts; None: alerts are only logged.
    inventory_alert_channel: str | None = None
    testing: bool = False
    # Served behind a reverse proxy that sets X-Forwarded-Proto/-For (ORDERPULSE_PROXY_FIX=1):
    # trust one hop, so the session cookie is marked Secure when the client used https.
    proxy_fix: bool = False
    # Request body limits in bytes per kind of route (engine.api.request_guard); each may be set
    # with ORDERPULSE_MAX_BODY_<KIND> (API, RULESET, HOOK, FORM).
    body_limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_BODY_LIMITS))
    # Builder sessions end after this long without a request, and this long after sign-in.
    session_idle_seconds: float = 30 * 60
    session_absolute_seconds: float = 12 * 3600

    @classmethod
    def from_env(cls, **overrides: object) -> "Settings":
        env = os.environ
        values: dict[str, object] = {
            "database_url": env.get("ORDERPULSE_DATABASE_URL") or _default_database_url(),
            "redis_url": env.get("ORDERPULSE_REDIS_URL") or None,
            "secret_key": env.get("ORDERPULSE_SECRET_KEY") or _persistent_secret(),
            "handler_modules": tuple(
                m.strip() for m in env.get("ORDERPULSE_HANDLER_MODULES", "").split(",") if m.strip()
            ),
            "login_rate_limit": env.get("ORDERPULSE_LOGIN_RATE_LIMIT", "5 per minute"),
            "redis_prefix": env.get("ORDERPULSE_REDIS_PREFIX", "op:"),
            "outbox_lease_seconds": _positive_seconds(env, "ORDERPULSE_OUTBOX_LEASE_SECONDS",
                                                      DEFAULT_OUTBOX_LEASE_SECONDS),
            "inventory_alert_channel": env.get("ORDERPULSE_INVENTORY_ALERT_CHANNEL", "").strip() or None,
            "proxy_fix": env.get("ORDERPULSE_PROXY_FIX", "").strip().lower() in ("1", "true", "yes"),
            "body_limits": {kind: int(_positive_seconds(env, f"ORDERPULSE_MAX_BODY_{kind.upper()}", default,
                                                         "bytes"))
                            for kind, default in DEFAULT_BODY_LIMITS.items()},
            "session_idle_seconds": _positive_seconds(env, "ORDERPULSE_SESSION_IDLE_SECONDS", 30 * 60),
            "session_absolute_seconds": _positive_seconds(env, "ORDERPULSE_SESSION_ABSOLUTE_SECONDS", 12 * 3600),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


def _positive_seconds(env: Mapping[str, str], name: str, default: float, unit: str = "seconds") -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of {unit}, got {raw!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be positive")
    return value


def _persistent_secret() -> str:
    """A secret kept beside the embedded database so sessions survive a restart."""
    path = Path.cwd() / ".orderpulse-secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_hex(32)
        path.write_text(value)
        path.chmod(0o600)
        return value
