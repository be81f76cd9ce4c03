"""Machines built from published ruleset versions, one per (ruleset, version, machine), reused
by every ticket on that version.

A :class:`~engine.workflow.machine.CompiledMachine` (the area's pure core) holds the
declaration, its ``transitions.Machine`` and the compiled guards; :class:`MachineRegistry`
caches them (bounded, least recently used first out); published versions are immutable, so the
cache never needs invalidating. Models come from :mod:`engine.rulesets.published`, the one
loader of published versions. Only reading happens here; nothing writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from dsl import model as m
from engine.errors import Conflict, NotFound
from engine.lru import BoundedCache
from engine.rulesets import published
from engine.workflow.machine import CompiledMachine

if TYPE_CHECKING:
    from engine.services import Services

CACHE_SIZE = 256  # compiled machines (and version models) kept per process


class MachineRegistry:
    """Cache of compiled machines per (ruleset, version, machine)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._machines: BoundedCache[tuple[str, int, str], CompiledMachine] = BoundedCache(size)
        self._models: BoundedCache[tuple[str, int], m.Ruleset] = BoundedCache(size)

    def ruleset_model(self, session: Session, ruleset: str, version: int) -> m.Ruleset:
        """The model of ``ruleset``'s published ``version`` (from :mod:`engine.rulesets.published`;
        this registry only remembers which model a (ruleset, version) of its database is)."""
        return self._models.get_or_build((ruleset, version), lambda: published.load(session, ruleset, version)[1])

    def compiled(self, session: Session, ruleset: str, version: int, machine: str) -> CompiledMachine:
        key = (ruleset, version, machine)
        found = self._machines.get(key)
        if found is not None:
            return found
        rules = self.ruleset_model(session, ruleset, version)
        return self._machines.get_or_build(key, lambda: self._build_machine(ruleset, version, machine, rules))

    @staticmethod
    def _build_machine(ruleset: str, version: int, machine: str, rules: m.Ruleset) -> CompiledMachine:
        decl = next((d for d in rules.machines if d.name == machine), None)
        if decl is None:
            raise NotFound(f"machine {machine} is not declared in {ruleset}@{version}")
        return CompiledMachine(ruleset, version, decl, rules)

    def published_rulesets(self, session: Session) -> list[tuple[str, int]]:
        """(name, current published version) of every ruleset (asked on every webhook)."""
        return [(v.name, v.version) for v in published.latest_versions(session)]

    def latest(self, session: Session, machine: str, ruleset: str | None = None) -> CompiledMachine:
        """The machine ``machine`` from the current published version of its ruleset."""
        holders = []
        for name, version in self.published_rulesets(session):
            if ruleset is not None and name != ruleset:
                continue
            rules = self.ruleset_model(session, name, version)
            if any(d.name == machine for d in rules.machines):
                holders.append((name, version))
        if not holders:
            raise NotFound(f"no published ruleset declares machine {machine}",
                           code="unknown_machine")
        if len(holders) > 1:
            names = ", ".join(n for n, _ in holders)
            raise Conflict(f"machine {machine} is declared in several rulesets ({names}); name one: "
                           "the body field `ruleset` when opening a ticket, the query parameter "
                           "`ruleset` for the diagram and the metrics", code="ambiguous_machine")
        name, version = holders[0]
        return self.compiled(session, name, version, machine)

    def find_hook(self, session: Session, hook: str) -> tuple[m.HookDecl, str, int]:
        """The declaration of webhook ``hook`` from the current published rulesets."""
        for name, version in self.published_rulesets(session):
            decl = self.ruleset_model(session, name, version).find("hook", hook)
            if isinstance(decl, m.HookDecl):
                return decl, name, version
        raise NotFound(f"no published ruleset declares hook {hook}", code="unknown_hook")

    def find_channel(self, session: Session, channel: str) -> tuple[m.ChannelDecl, str, int]:
        """The declaration of channel ``channel`` from the current published rulesets (for
        senders outside a machine, such as inventory alerts). Publishing refuses a second
        declaration of a name; duplicates published before that rule: if their declarations
        differ, which one is meant is unclear: Conflict."""
        found: list[tuple[m.ChannelDecl, str, int]] = []
        for name, version in self.published_rulesets(session):
            decl = self.ruleset_model(session, name, version).find("channel", channel)
            if isinstance(decl, m.ChannelDecl):
                found.append((decl, name, version))
        if not found:
            raise NotFound(f"no published ruleset declares channel {channel}", code="unknown_channel")
        first = found[0][0]
        differ = [f"{name}@{version}" for decl, name, version in found
                  if (decl.type, frozenset(decl.settings)) != (first.type, frozenset(first.settings))]
        if differ:
            raise Conflict(f"channel {channel} is declared differently in {found[0][1]}@{found[0][2]} and "
                           f"{', '.join(differ)}; make the declarations agree", code="ambiguous_channel")
        return found[0]


def registry_of(services: Services) -> MachineRegistry:
    """The process-wide registry (``Services.machines``)."""
    return services.machines
