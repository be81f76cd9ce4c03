"""Platform stock connectors built from the published rules' ``source`` declarations.

A source such as ::

    source douyin "抖音小店" {
        platform douyin
        credentials env DOUYIN_APP_KEY, env DOUYIN_APP_SECRET, env DOUYIN_ACCESS_TOKEN
        pull stock every 90s
    }

gives the channel ``douyin`` a stock connector for the push relay and the snapshot puller, built
by the factory the composition root wired in for the platform (``Services.ports.stock_connectors``;
this module imports no connector). Credentials are read from the environment, in the
declared order: app key, app secret, then what the platform needs next (see
:data:`CREDENTIAL_KEYS`); the secrets never appear in the rules or in the logs. The API is the
platform's gateway unless ``ORDERPULSE_<PLATFORM>_BASE_URL`` points elsewhere (read by the
factory) (the demo and the
tests point it at the fake platforms; the merchant's own mini-program shop always needs it).

Connectors registered by hand (tests, plug-ins) are left alone; the ones built here follow
the published sources: built when a source is published, rebuilt when it changes, dropped when
it goes. A source whose variables are missing gets no connector and a warning naming them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from dsl import RuleError, model
from engine.inventory.channels import StockConnector, StockConnectorFactory
from engine.logs import get_logger
from engine.rulesets import published

if TYPE_CHECKING:
    from dsl.model import SourceDecl
    from engine.services import Services

log = get_logger(__name__)

# What the declared credentials are, by position.
CREDENTIAL_KEYS = ("app_key", "app_secret", "access_token", "shop")

def published_sources(session: Session) -> list[SourceDecl]:
    """Every ``source`` of the current published version of each ruleset (models from
    :mod:`engine.rulesets.published`, parsed once per version; a version that no longer parses
    declares none)."""
    out: list[SourceDecl] = []
    for ref in published.latest_versions(session):
        try:
            rules = published.model_of(session, ref)
        except RuleError:
            continue
        out.extend(d for d in rules.declarations if isinstance(d, model.SourceDecl))
    return out


def declared_pull_intervals(session: Session) -> dict[str, int]:
    """``{channel or source name: seconds}`` from ``pull stock every …`` of published sources."""
    out: dict[str, int] = {}
    for source in published_sources(session):
        for pull in source.pulls:
            if pull.what == "stock":
                for name in {source.name, source.platform or source.name}:
                    out[name] = int(pull.every)
    return out


def connector_for(source: SourceDecl, factories: Mapping[str, StockConnectorFactory],
                  environ: Mapping[str, str] | None = None) -> StockConnector | None:
    """The stock connector ``source`` declares, or None (with a warning) when it cannot be built."""
    env = os.environ if environ is None else environ
    platform = source.platform or source.name
    factory = factories.get(platform)
    if factory is None:
        return None  # a source of orders only (e.g. a custom platform): no stock API
    missing = [ref.var for ref in source.credentials if not env.get(ref.var)]
    if missing:
        log.warning("stock connector not built: environment variables missing", source=source.name,
                    platform=platform, missing=missing)
        return None
    credentials = {name: env[ref.var] for name, ref in zip(CREDENTIAL_KEYS, source.credentials)}
    try:
        return factory(platform, credentials, env)
    except Exception as exc:  # noqa: BLE001 - one bad source must not stop the others
        log.warning("stock connector not built", source=source.name, platform=platform, error=str(exc))
        return None


@dataclass
class SourceConnectors:
    """The connectors this process built from the published sources (``Services.source_connectors``)."""

    signature: tuple[Any, ...] | None = None
    connectors: dict[str, StockConnector] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)  # the dispatcher and the scheduler both sync
    checked_at: float = float("-inf")


def sync_source_connectors(services: Services, *, max_age: float = 0.0) -> list[str]:
    """Bring the process's source-built connectors in line with the published sources;
    returns the channels that have one. With ``max_age``, a check made less than that many
    seconds ago stands (the push handler runs once per delivery)."""
    built = services.source_connectors
    if max_age and time.monotonic() - built.checked_at < max_age:
        return sorted(built.connectors)
    with services.db.session() as s:
        sources = published_sources(s)
    built.checked_at = time.monotonic()
    signature = tuple((d.name, d.platform, tuple(r.var for r in d.credentials)) for d in sources)
    with built.lock:
        if built.signature != signature:
            _rebuild(services, built, sources, signature)
        return sorted(built.connectors)


def _rebuild(services: Services, built: SourceConnectors, sources: list[SourceDecl],
             signature: tuple[Any, ...]) -> None:
    registry = services.stock_channels
    wanted: dict[str, StockConnector] = {}
    for source in sources:
        platform = source.platform or source.name
        if platform in wanted:
            log.warning("two published sources declare one platform; the first is used",
                        platform=platform, ignored=source.name)
            continue
        connector = connector_for(source, services.ports.stock_connectors)
        if connector is not None:
            wanted[platform] = connector
    for channel, old in built.connectors.items():
        if channel not in wanted and registry.get(channel) is old:
            registry.unregister(channel)
    for channel, connector in wanted.items():
        current = registry.get(channel)
        if current is None or current is built.connectors.get(channel):
            registry.register(connector)
    built.signature = signature
    built.connectors = {c: conn for c, conn in wanted.items() if registry.get(c) is conn}
