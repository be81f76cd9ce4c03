"""The per-process service container: settings, database, clock, Redis and handler registry.

Entry points (API, builder, CLI, worker) build one :class:`Services` and pass it down; the
Flask app keeps it in ``app.extensions["orderpulse"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.storage.db import Database

if TYPE_CHECKING:
    import redis as redis_lib

    from engine.orders.ports import PlatformOrderClient
    from engine.outbox.registry import HandlerRegistry

# platform, credentials (app_key, app_secret, access_token … by name), the clock requests are
# signed with (unix seconds) → the platform's order client, or None for a platform without one
OrderClientFactory = Callable[[str, Mapping[str, str], Callable[[], float]], "PlatformOrderClient | None"]


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    handlers: "HandlerRegistry | None" = None
    extras: dict[str, Any] = field(default_factory=dict)
    order_clients: OrderClientFactory | None = None  # set by the composition root (connectors' table)
    _redis: "redis_lib.Redis | None" = None

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> "Services":
        from engine.outbox.registry import HandlerRegistry

        services = cls(settings=settings, db=Database(settings.database_url), clock=clock or SystemClock())
        services.handlers = HandlerRegistry.with_defaults(settings.handler_modules)
        from connectors.order_clients import build_order_client

        services.order_clients = build_order_client
        return services

    @property
    def redis(self) -> "redis_lib.Redis | None":
        """A Redis client when ``ORDERPULSE_REDIS_URL`` is set, else None."""
        if self.settings.redis_url is None:
            return None
        if self._redis is None:
            import redis as redis_lib

            self._redis = redis_lib.Redis.from_url(
                self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
            )
        return self._redis

    def redis_ok(self) -> bool | None:
        """True/False when Redis is configured, None when it is not."""
        client = self.redis
        if client is None:
            return None
        try:
            return bool(client.ping())
        except Exception:
            return False
