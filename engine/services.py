"""The per-process service container and the composition root: settings, database, clock,
Redis, the outbox handlers, the connectors the engine is handed, and each area's process-wide
state as typed fields.

Entry points (API, builder, CLI, worker, demo) build one :class:`Services` with
:meth:`Services.build` and pass it down; the Flask app keeps it in
``app.extensions["orderpulse"]``. :meth:`Services.build` is where ``connectors/`` is wired in
(default outbox handlers, stock connector factories, callback crypto): the engine's areas import
no connector and reach them only through :attr:`Services.ports` and :attr:`Services.handlers`.

A new area adds its process-wide state as one typed, lazily built property below (a private
``_name: Type | None`` field and a property building it once under the container's lock) and its
connector seams as a field of
:class:`engine.ports.ConnectorPorts` — never a string-keyed dictionary.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.outbox.registry import HandlerRegistry
from engine.ports import ConnectorPorts
from engine.storage.db import Database

if TYPE_CHECKING:
    import redis as redis_lib

    from engine.inventory.channels import ChannelRegistry
    from engine.inventory.service import InventoryService
    from engine.inventory.sources import SourceConnectors
    from engine.workflow.registry import MachineRegistry
    from engine.workflow.service import FifoLock

@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    handlers: HandlerRegistry = field(default_factory=HandlerRegistry)
    ports: ConnectorPorts = field(default_factory=ConnectorPorts)
    _redis: redis_lib.Redis | None = None
    _machines: MachineRegistry | None = field(default=None, repr=False)
    _workflow_write_lock: FifoLock | None = field(default=None, repr=False)
    _inventory: InventoryService | None = field(default=None, repr=False)
    _stock_channels: ChannelRegistry | None = field(default=None, repr=False)
    _source_connectors: SourceConnectors | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Services:
        """The composition root: the container with the connectors' defaults wired in, then the
        plug-in handler modules of ``ORDERPULSE_HANDLER_MODULES`` (which may replace a default)."""
        from connectors.handlers import register_defaults
        from connectors.wiring import default_ports

        services = cls(settings=settings, db=Database(settings.database_url), clock=clock or SystemClock(),
                       ports=default_ports())
        register_defaults(services.handlers)
        services.handlers.load_modules(settings.handler_modules)
        return services

    # ------------------------------------------------------------------ per-area process state
    # Each is built on first use, once per process (double-checked under the container's lock).

    @property
    def machines(self) -> MachineRegistry:
        """Compiled machines of published versions (engine.workflow.registry)."""
        if self._machines is None:
            from engine.workflow.registry import MachineRegistry

            with self._lock:
                if self._machines is None:
                    self._machines = MachineRegistry()
        return self._machines

    @property
    def workflow_write_lock(self) -> FifoLock:
        """The SQLite writers' queue of the workflow (engine.workflow.service.write_transaction)."""
        if self._workflow_write_lock is None:
            from engine.workflow.service import FifoLock

            with self._lock:
                if self._workflow_write_lock is None:
                    self._workflow_write_lock = FifoLock()
        return self._workflow_write_lock

    @property
    def inventory(self) -> InventoryService:
        """The inventory service, with the Redis gate when Redis is configured."""
        if self._inventory is None:
            from engine.inventory.service import build_inventory

            with self._lock:
                if self._inventory is None:
                    self._inventory = build_inventory(self.settings, self.db, self.clock)
        return self._inventory

    @property
    def stock_channels(self) -> ChannelRegistry:
        """The stock connectors registered in this process, by channel (engine.inventory.channels)."""
        if self._stock_channels is None:
            from engine.inventory.channels import ChannelRegistry

            with self._lock:
                if self._stock_channels is None:
                    self._stock_channels = ChannelRegistry()
        return self._stock_channels

    @property
    def source_connectors(self) -> SourceConnectors:
        """The stock connectors built from the published sources (engine.inventory.sources)."""
        if self._source_connectors is None:
            from engine.inventory.sources import SourceConnectors

            with self._lock:
                if self._source_connectors is None:
                    self._source_connectors = SourceConnectors()
        return self._source_connectors

    # ------------------------------------------------------------------ Redis

    @property
    def redis(self) -> redis_lib.Redis | None:
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
