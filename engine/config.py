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
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


def _positive_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
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
