"""Machines built from published ruleset versions, one per (ruleset, version, machine), reused
by every ticket on that version.

A :class:`CompiledMachine` holds the declaration, one ``transitions.Machine`` (built once, with
no model attached: tickets are plain objects handed to its events), the compiled guards and
lookup tables. :class:`MachineRegistry` caches them; published versions are immutable, so the
cache never needs invalidating. Only reading published versions happens here; nothing writes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session
from transitions import Machine

from dsl import model as m
from engine.auth.roles import normalize_role
from engine.errors import Conflict, NotFound
from engine.storage.models import Ruleset, RulesetVersion
from engine.workflow.expressions import Compiled, compile_expression, compile_guard


def parse_ruleset_content(content: str, fmt: str, filename: str = "<ruleset>") -> m.Ruleset:
    """The declaration model of a stored ruleset version (DSL text or its JSON form)."""
    if fmt == "json":
        from dsl.json_io import load_json

        return load_json(content, filename)
    from dsl.parser import parse_text

    return parse_text(content, filename)


class Ticket:
    """The object a ``transitions`` machine moves: only a ``state`` attribute."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


@dataclass
class CompiledAction:
    decl: m.Action
    roles: frozenset[str]
    guard: Any  # Callable[[Env], bool] | None
    set_values: dict[int, Compiled] = field(default_factory=dict)
    to_values: dict[int, Compiled] = field(default_factory=dict)
    call_args: dict[int, list[Compiled]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.decl.name


def _compile_effects(effects: tuple[m.Effect, ...], target: CompiledAction, fields: dict[str, str]) -> None:
    for i, effect in enumerate(effects):
        if isinstance(effect, m.SetField):
            target.set_values[i] = compile_expression(effect.value, fields)
        elif isinstance(effect, m.Notify) and effect.to is not None:
            target.to_values[i] = compile_expression(effect.to, fields)
        elif isinstance(effect, m.CallEffect):
            target.call_args[i] = [compile_expression(a, fields) for a in effect.args]


class CompiledMachine:
    """One machine declaration of one published version, ready to run tickets."""

    def __init__(self, ruleset: str, version: int, decl: m.MachineDecl, rules: m.Ruleset) -> None:
        self.ruleset = ruleset
        self.version = version
        self.decl = decl
        self.rules = rules
        self.name = decl.name
        self.label = f"{ruleset}@{version}"
        self.states: dict[str, m.State] = {s.name: s for s in decl.states}
        self.initial = decl.initial or (decl.states[0].name if decl.states else "")
        self.fields: dict[str, m.DataField] = {f.name: f for f in decl.data}
        self.channels: dict[str, m.ChannelDecl] = {
            d.name: d for d in rules.declarations if isinstance(d, m.ChannelDecl)
        }
        types = {f.name: f.type for f in decl.data}
        self.actions: dict[str, CompiledAction] = {}
        for action in decl.actions:
            roles = frozenset(r for r in (normalize_role(b) or b for b in action.by))
            compiled = CompiledAction(action, roles, compile_guard(action.when, types))
            _compile_effects(action.effects, compiled, types)
            self.actions[action.name] = compiled
        self.deadline_handlers: dict[str, tuple[m.DeadlineHandler, CompiledAction]] = {}
        for handler in decl.deadline_handlers:
            holder = CompiledAction(m.Action(name=f"deadline:{handler.state}", sources=(handler.state,),
                                             target=handler.state), frozenset(), None)
            _compile_effects(handler.effects, holder, types)
            self.deadline_handlers[handler.state] = (handler, holder)
        self.machine = Machine(
            model=None,
            states=list(self.states) or [self.initial],
            initial=self.initial,
            transitions=[
                {"trigger": a.name, "source": list(a.sources), "dest": a.target} for a in decl.actions
            ],
            auto_transitions=False,
            send_event=True,
        )
        self._events = self.machine.events

    def is_final(self, state: str) -> bool:
        decl = self.states.get(state)
        return bool(decl and decl.final)

    def move(self, state: str, action: str) -> str:
        """Run ``action`` from ``state`` through the transitions machine; the new state."""
        ticket = Ticket(state)
        self._events[action].trigger(ticket)
        return ticket.state

    def owner_role(self, state: str) -> str | None:
        decl = self.states.get(state)
        if decl is None or decl.owner is None:
            return None
        return normalize_role(decl.owner) or decl.owner


_RULESETS = cast(Table, Ruleset.__table__)
# Oldest ruleset first: when names were duplicated before publishing refused duplicates, the
# ruleset that declared a name first keeps it (deterministic, and a newer ruleset cannot take it).
_PUBLISHED = (select(_RULESETS.c.name, _RULESETS.c.latest_version).where(_RULESETS.c.latest_version > 0)
              .order_by(_RULESETS.c.id))


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


def registry_of(services: Any) -> MachineRegistry:
    """The process-wide registry kept on the services container."""
    reg = services.extras.get("workflow.registry")
    if reg is None:
        reg = services.extras.setdefault("workflow.registry", MachineRegistry())
    return reg  # type: ignore[no-any-return]
