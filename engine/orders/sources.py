"""Order sources: which published ``source`` declarations pull orders and how often, and the
order client of each, built through the factory the composition root put in
``Services.order_clients`` (this module imports no connector).

A source ``source taobao { platform taobao  credentials env A, env B, env C  pull orders
every 60s }`` gets the client of platform ``taobao`` with the credentials read from the
environment in declared order (app key, app secret, access token, shop). Clients are kept per
process and rebuilt when the declaration or the environment values change; a source whose
variables are missing gets no client (a warning names them, never their values).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.inventory.sources import CREDENTIAL_KEYS, published_sources
from engine.logs import get_logger
from engine.orders.ports import PlatformOrderClient

if TYPE_CHECKING:
    from dsl.model import SourceDecl
    from engine.services import Services

log = get_logger(__name__)

_CLIENTS = "orders.clients"
_WARNED = "orders.clients.warned"


@dataclass(frozen=True)
class OrderSource:
    """A published source that pulls orders every ``every`` seconds (None: push only)."""

    name: str
    platform: str
    every: int | None
    decl: Any


def order_sources(services: Services) -> dict[str, OrderSource]:
    """Every published source by name (the first of a repeated name wins)."""
    with services.db.session() as s:
        decls = published_sources(s)
    out: dict[str, OrderSource] = {}
    for decl in decls:
        if decl.name in out:
            continue
        every = next((int(p.every) for p in decl.pulls if p.what == "orders"), None)
        out[decl.name] = OrderSource(decl.name, decl.platform or decl.name, every, decl)
    return out


def _credentials(services: Services, decl: SourceDecl, environ: Mapping[str, str]) -> dict[str, str] | None:
    missing = [ref.var for ref in decl.credentials if not environ.get(ref.var)]
    if missing:
        warned: set[tuple[str, ...]] = services.extras.setdefault(_WARNED, set())
        if (decl.name, *missing) not in warned:  # once per process, not at every tick
            warned.add((decl.name, *missing))
            log.warning("order client not built: environment variables missing", source=decl.name, missing=missing)
        return None
    return {name: environ[ref.var] for name, ref in zip(CREDENTIAL_KEYS, decl.credentials)}


def order_client(services: Services, source: OrderSource,
                 environ: Mapping[str, str] | None = None) -> PlatformOrderClient | None:
    """The order client of ``source`` (kept per process), or None when the platform has no
    order client or its credentials are missing."""
    if services.order_clients is None:
        raise RuntimeError("services.order_clients is not set: build services with Services.build")
    credentials = _credentials(services, source.decl, os.environ if environ is None else environ)
    if credentials is None:
        return None
    key = hashlib.sha256(repr((source.platform, sorted(credentials.items()))).encode()).hexdigest()
    cache: dict[str, tuple[str, PlatformOrderClient | None]] = services.extras.setdefault(_CLIENTS, {})
    kept = cache.get(source.name)
    if kept is not None and kept[0] == key:
        return kept[1]
    try:
        client = services.order_clients(source.platform, credentials, lambda: services.clock.now().timestamp())
    except Exception as exc:  # noqa: BLE001 - one bad source must not stop the others
        log.warning("order client not built", source=source.name, platform=source.platform, error=str(exc))
        client = None
    cache[source.name] = (key, client)
    return client
