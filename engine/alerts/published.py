"""The published alerts: every ``alert`` declaration of the current published version of every
ruleset, compiled, with the channels the published rulesets declare.

Asks :mod:`engine.rulesets.published` (the one loader of published versions) for the current
versions and compiles their alerts once per set of versions (cached by the (ruleset, checksum)
pairs). An alert the engine cannot run is left out and logged, never half-run; when two
rulesets declare an alert of the same name, both run (an alert is named by its ruleset).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dsl import model as m
from dsl.errors import RuleError
from engine.alerts.measures import CompiledAlert, compile_alert
from engine.logs import get_logger
from engine.lru import BoundedCache
from engine.rulesets import published

__all__ = ["PublishedAlerts", "alerts_of", "published_alerts"]

log = get_logger(__name__)


@dataclass(frozen=True)
class PublishedAlerts:
    alerts: tuple[CompiledAlert, ...]
    channels: dict[str, m.ChannelDecl]  # every channel the published rulesets declare (first wins)

    def channel(self, alert: CompiledAlert, name: str) -> m.ChannelDecl | None:
        return alert.channels.get(name) or self.channels.get(name)


_cache: BoundedCache[tuple[tuple[str, str], ...], PublishedAlerts] = BoundedCache(16)


def published_alerts(session: Session) -> PublishedAlerts:
    """The alerts that run now."""
    return published.derived(session, _cache, alerts_of, "alerts")


def alerts_of(sources: Iterable[tuple[str, int, m.Ruleset]]) -> PublishedAlerts:
    """The alerts of ``(ruleset, version, model)``, oldest ruleset first."""
    alerts: list[CompiledAlert] = []
    every_channel: dict[str, m.ChannelDecl] = {}
    for ruleset, version, model in sources:
        channels = {d.name: d for d in model.declarations if isinstance(d, m.ChannelDecl)}
        for name, channel in channels.items():
            every_channel.setdefault(name, channel)
        for decl in model.declarations:
            if not isinstance(decl, m.AlertDecl):
                continue
            try:
                alerts.append(compile_alert(decl, ruleset=ruleset, version=version, channels=channels))
            except (RuleError, ValueError) as exc:
                log.error("alert cannot run", ruleset=f"{ruleset}@{version}", alert=decl.name, error=str(exc))
    return PublishedAlerts(tuple(alerts), every_channel)
