"""Machines built from published ruleset versions, one per (ruleset, version, machine), reused
by every ticket on that version.

A :class:`~engine.workflow.machine.CompiledMachine` (the area's pure core) holds the
declaration, its ``transitions.Machine`` and the compiled guards; :class:`MachineRegistry`
caches them; published versions are immutable, so the
cache never needs invalidating. Only reading published versions happens here; nothing writes.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from dsl import model as m
from engine.errors import Conflict, NotFound
from engine.storage.models import Ruleset, RulesetVersion
from engine.workflow.machine import CompiledMachine

if TYPE_CHECKING:
    from engine.services import Services


def parse_ruleset_content(content: str, fmt: str, filename: str = "<ruleset>") -> m.Ruleset:
    """The declaration model of a stored ruleset version (DSL text or its JSON form)."""
    if fmt == "json":
        from dsl.json_io import load_json

        return load_json(content, filename)
    from dsl.parser import parse_text

    return parse_text(content, filename)


_RULESETS = cast(Table, Ruleset.__table__)
_PUBLISHED = select(_RULESETS.c.name, _RULESETS.c.latest_version).where(_RULESETS.c.latest_version > 0)


class MachineRegistry:
    """Cache of compiled machines per (ruleset, version, machine)."""

    def __init__(self) -> None:
        self._machines: dict[tuple[str, int, str], CompiledMachine] = {}
        self._models: dict[tuple[str, int], m.Ruleset] = {}
        self._lock = threading.Lock()
        self._building = threading.RLock()

    def ruleset_model(self, session: Session, ruleset: str, version: int) -> m.Ruleset:
        key = (ruleset, version)
        found = self._models.get(key)
        if found is not None:
            return found
        with self._building:  # one thread parses; the others wait for its result (no stampede)
            found = self._models.get(key)
            if found is not None:
                return found
            return self._load_model(session, ruleset, version)

    def _load_model(self, session: Session, ruleset: str, version: int) -> m.Ruleset:
        key = (ruleset, version)
        row = session.execute(
            select(RulesetVersion.content, RulesetVersion.format)
            .join(Ruleset, Ruleset.id == RulesetVersion.ruleset_id)
            .where(Ruleset.name == ruleset, RulesetVersion.version == version)
        ).first()
        if row is None:
            raise NotFound(f"ruleset {ruleset} has no published version {version}")
        model = parse_ruleset_content(row.content, row.format, f"{ruleset}@{version}")
        with self._lock:
            self._models.setdefault(key, model)
        return self._models[key]

    def compiled(self, session: Session, ruleset: str, version: int, machine: str) -> CompiledMachine:
        key = (ruleset, version, machine)
        found = self._machines.get(key)
        if found is not None:
            return found
        rules = self.ruleset_model(session, ruleset, version)
        with self._building:
            found = self._machines.get(key)
            if found is not None:
                return found
            return self._build_machine(ruleset, version, machine, rules)

    def _build_machine(self, ruleset: str, version: int, machine: str, rules: m.Ruleset) -> CompiledMachine:
        key = (ruleset, version, machine)
        decl = next((d for d in rules.machines if d.name == machine), None)
        if decl is None:
            raise NotFound(f"machine {machine} is not declared in {ruleset}@{version}")
        built = CompiledMachine(ruleset, version, decl, rules)
        with self._lock:
            self._machines.setdefault(key, built)
        return self._machines[key]

    def published_rulesets(self, session: Session) -> list[tuple[str, int]]:
        rows = session.connection().execute(_PUBLISHED).all()  # Core: asked on every webhook
        return [(r.name, r.latest_version) for r in rows]

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
            raise Conflict(f"machine {machine} is declared in several rulesets ({names}); "
                           "name one with ?ruleset=", code="ambiguous_machine")
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
        senders outside a machine, such as inventory alerts). Rulesets may each declare the
        same channel; if their declarations differ, which one is meant is unclear: Conflict."""
        found: list[tuple[m.ChannelDecl, str, int]] = []
        for name, version in sorted(self.published_rulesets(session)):
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
