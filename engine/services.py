"""The per-process service container and the composition root: settings, database, clock,
Redis, the outbox handlers, the connectors the engine is handed, and each area's process-wide
state as typed fields.

Entry points (API, builder, CLI, worker, demo) build one :class:`Services` with
:meth:`Services.build` and pass it down; the Flask app keeps it in
``app.extensions["orderpulse"]``. :meth:`Services.build` is where ``connectors/`` is wired in
(default outbox handlers, stock connector factories, callback crypto): the engine's areas import
no connector and reach them only through :attr:`Services.ports` and :attr:`Services.handlers`.

A new area adds its process-wide state as one line, ``name = PerProcess(builder)`` with a typed
``builder(services) -> Type`` (built on first use, once per container), and its connector seams as a
field of :class:`engine.ports.ConnectorPorts` — never a string-keyed dictionary.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from engine.clock import Clock, SystemClock
from engine.config import Settings
from engine.outbox.registry import HandlerRegistry
from engine.ports import ConnectorPorts
from engine.storage.db import Database

T = TypeVar("T")

if TYPE_CHECKING:
    import redis as redis_lib

    from engine.auth.token_cache import BearerTokens
    from engine.inventory.channels import ChannelRegistry
    from engine.inventory.service import InventoryService
    from engine.inventory.sources import SourceConnectors
    from engine.orders.ports import RegionResolver
    from engine.orders.sources import OrderClientsKept
    from engine.outbox.wake import OutboxWake
    from engine.workflow.ports import ActionCarrier, ActionHandover
    from engine.workflow.registry import MachineRegistry


class PerProcess(Generic[T]):
    """One area's process-wide state on :class:`Services`, typed: built by ``build(services)`` on
    first use, once (under the container's lock), then read as a plain attribute."""

    def __init__(self, build: Callable[[Services], T]) -> None:
        self.build = build
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, services: None, owner: type) -> PerProcess[T]: ...

    @overload
    def __get__(self, services: Services, owner: type) -> T: ...

    def __get__(self, services: Services | None, owner: type) -> T | PerProcess[T]:
        if services is None:
            return self
        with services._lock:
            built: T | None = services.__dict__.get(self.name)
            if built is None:
                built = self.build(services)
                services.__dict__[self.name] = built  # later reads find it before this descriptor
        return built


# Builders of the per-area state: each imports its area only when first used.
def _machine_registry(services: Services) -> MachineRegistry:
    from engine.workflow.registry import MachineRegistry

    return MachineRegistry()


def _inventory(services: Services) -> InventoryService:
    from engine.inventory.service import build_inventory

    return build_inventory(services.settings, services.db, services.clock)


def _channel_registry(services: Services) -> ChannelRegistry:
    from engine.inventory.channels import ChannelRegistry

    return ChannelRegistry()


def _order_clients(services: Services) -> OrderClientsKept:
    from engine.orders.sources import OrderClientsKept

    return OrderClientsKept()


def _outbox_wake(services: Services) -> OutboxWake:
    from engine.outbox.wake import install

    return install(services.db)


def _pipeline_wake(services: Services) -> OutboxWake:
    from engine.orders.pipeline_wake import install_pipeline_wake

    return install_pipeline_wake(services.db)


def _stock_push_wake(services: Services) -> OutboxWake:
    from engine.inventory.push_wake import install_push_wake

    return install_push_wake(services.db)


def _bearer_tokens(services: Services) -> BearerTokens:
    from engine.auth.token_cache import bearer_tokens

    return bearer_tokens(services.db, services.settings.redis_url, services.settings.redis_prefix)


def _source_connectors(services: Services) -> SourceConnectors:
    from engine.inventory.sources import SourceConnectors

    return SourceConnectors()


def _order_ship_action(session: Any, services: Services, ticket: Any, action: str) -> ActionCarrier | None:
    """The order ticket's action bound to ``shipped``, pressed by a person, ships the order."""
    from engine.orders.ticket_ship import claim_ship_action

    return claim_ship_action(session, services, ticket, action)


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    handlers: HandlerRegistry = field(default_factory=HandlerRegistry)
    ports: ConnectorPorts = field(default_factory=ConnectorPorts)
    # the address → region resolver cleaning uses (None: engine.orders.regions.default_resolver())
    region_resolver: RegionResolver | None = None
    # actions of tickets another area carries out (engine.workflow.ports.ActionHandover), in order
    action_handovers: list[ActionHandover] = field(default_factory=list)
    _redis: redis_lib.Redis | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Services:
        """The composition root: the container with the connectors' defaults wired in, then the
        plug-in handler modules of ``ORDERPULSE_HANDLER_MODULES`` (which may replace a default)."""
        from connectors.handlers import register_defaults
        from connectors.wiring import default_ports

        services = cls(settings=settings, db=Database(settings.database_url), clock=clock or SystemClock(),
                       ports=default_ports())
        register_defaults(services.handlers)
        services.action_handovers.append(_order_ship_action)
        services.handlers.load_modules(settings.handler_modules)
        services.outbox_wake  # noqa: B018 - hooks the engine now, so every commit of outbox rows signals
        services.pipeline_wake  # noqa: B018 - likewise for the order pipeline's rows and stock ledger
        services.stock_push_wake  # noqa: B018 - and for the stock push relay's markers
        services.bearer_tokens  # noqa: B018 - every process renews the auth version when it changes tokens
        return services

    # ------------------------------------------------------------------ per-area process state
    # (no annotation: these are descriptors on the class, not dataclass fields)
    machines = PerProcess(_machine_registry)  # compiled machines of published versions
    inventory = PerProcess(_inventory)  # the inventory service, with the Redis gate when configured
    stock_channels = PerProcess(_channel_registry)  # stock connectors registered in this process
    source_connectors = PerProcess(_source_connectors)  # stock connectors built from published sources
    order_clients = PerProcess(_order_clients)  # order clients built from published sources
    outbox_wake = PerProcess(_outbox_wake)  # wakes the dispatcher when outbox rows commit
    pipeline_wake = PerProcess(_pipeline_wake)  # wakes the order pipeline when its work commits
    stock_push_wake = PerProcess(_stock_push_wake)  # wakes the stock push relay when push markers commit
    bearer_tokens = PerProcess(_bearer_tokens)  # token → principal, kept while the auth version holds

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

