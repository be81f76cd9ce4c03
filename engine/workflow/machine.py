"""The workflow's pure core: one machine declaration of one published version, compiled, and the
one decision of the area — may this action run on this ticket now, and where does it go?

:meth:`CompiledMachine.check_action` answers a :class:`Move` or a :class:`Refusal`. The
``transitions`` library does the work it is made for: each declared action is a trigger of one
``transitions.Machine`` per version (built once, no model attached; a small decision object is
the model of one call); an action not allowed from the current state is refused by the library
(``MachineError``); the remaining checks — webhook-only, role, required fields, field types,
the ``when`` guard — are the transition's ``conditions`` (the caller's checks, then the guard),
run in that order, the first failing check recording why, over the ticket's data and expression
environment built once per call; an ``after`` callback collects the action's effects for the
caller. The checks run in the order the API documents: known
action, current state, webhook-only, role, required fields, field types, guard.

No SQL, no Flask, no I/O: storage is :mod:`engine.workflow.service`'s, caching of compiled
machines :mod:`engine.workflow.registry`'s, applying effects :mod:`engine.workflow.effects`'.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from transitions import EventData, Machine, MachineError

from dsl import model as m
from dsl.printer import print_expr
from engine.auth.roles import normalize_role
from engine.values import identifier_problem, money_problem
from engine.workflow.expressions import Compiled, compile_expression, compile_guard

INT_TYPES = ("money", "count", "duration", "percent")
TIMER = "timer"
WEBHOOK_PREFIX = "webhook:"


@dataclass(frozen=True)
class Refusal:
    """Why an action may not run now: ``code`` names the check, ``status`` the HTTP answer."""

    status: int
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Move:
    """An allowed action: ``source`` → ``target``, the ticket's data after the payload was
    merged, the expression environment, and the effects to apply (declared order)."""

    action: CompiledAction
    source: str
    target: str
    data: dict[str, Any]
    env: dict[str, Any]
    effects: tuple[m.Effect, ...]


@dataclass
class CompiledAction:
    decl: m.Action
    roles: frozenset[str]
    guard: Compiled | None
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


def check_field_types(fields: Mapping[str, m.DataField], machine: str, values: Mapping[str, Any], *,
                      only_declared: bool) -> list[dict[str, Any]]:
    """Problems with declared data field values (``[{"path", "message"}]``)."""
    problems: list[dict[str, Any]] = []
    for key, value in values.items():
        decl = fields.get(key)
        if decl is None:
            if not only_declared:
                problems.append({"path": f"/{key}", "message": f"machine {machine} declares no data field {key}"})
            continue
        if value is None:
            if not decl.optional:
                problems.append({"path": f"/{key}", "message": f"{key} may not be null"})
            continue
        ok = True
        if decl.type in INT_TYPES:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif decl.type == "bool":
            ok = isinstance(value, bool)
        elif decl.type in ("text", "time"):
            ok = isinstance(value, str)
        if not ok:
            want = "integer" if decl.type in INT_TYPES else ("boolean" if decl.type == "bool" else "string")
            problems.append({"path": f"/{key}", "message": f"{key} is {decl.type}: expected a JSON {want}"})
            continue
        # one rule per kind of value (engine.values): money is 0..10^12 fen; the order id is an
        # identifier that fits its column
        problem = money_problem(value) if decl.type == "money" else \
            identifier_problem(value, 128) if key == "order_id" else None
        if problem is not None:
            problems.append({"path": f"/{key}", "message": f"{key} {problem}"})
    return problems


class _Decision:
    """The model ``transitions`` moves during one :meth:`CompiledMachine.check_action` call."""

    __slots__ = ("state", "payload", "via", "role", "data", "env", "refusal", "effects")

    def __init__(self, state: str, payload: Mapping[str, Any], via: str, role: str | None) -> None:
        self.state = state
        self.payload = payload
        self.via = via
        self.role = role
        self.data: dict[str, Any] = {}
        self.env: dict[str, Any] = {}
        self.refusal: Refusal | None = None
        self.effects: tuple[m.Effect, ...] = ()


Condition = Callable[[EventData], bool]


def _decision(event: EventData) -> _Decision:
    return cast(_Decision, event.model)


class CompiledMachine:
    """One machine declaration of one published version, ready to decide on tickets."""

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
            transitions=[self._transition(self.actions[a.name]) for a in decl.actions],
            auto_transitions=False,
            send_event=True,
        )
        self._events = self.machine.events

    # ------------------------------------------------------------------ the decision

    def check_action(self, state: str, action: str, payload: Mapping[str, Any], *,
                     data: Mapping[str, Any] | None = None, instance_id: int | None = None,
                     via: str = "user", role: str | None = None) -> Move | Refusal:
        """May ``action`` run on a ticket in ``state`` with ``data``, fired ``via`` (``user``,
        ``webhook:<hook>`` or ``timer``) by ``role`` with ``payload``? Nothing is changed."""
        ca = self.actions.get(action)
        if ca is None:
            return Refusal(404, "unknown_action", f"machine {self.name} has no action {action}")
        decision = _Decision(state, payload, via, role)
        merged = dict(data or {})
        merged.update({k: v for k, v in payload.items() if k in self.fields})
        decision.data = merged
        decision.env = {**merged, "payload": payload, "id": instance_id, "state": state, "machine": self.name}
        try:
            moved = self._events[action].trigger(decision)
        except MachineError:
            sources = ca.decl.sources
            return Refusal(409, "wrong_state",
                           f"action {action} is not allowed from state {state} (only from {', '.join(sources)})",
                           [{"check": "state", "state": state, "allowed_from": list(sources)}])
        if not moved:
            assert decision.refusal is not None  # every condition records why it failed
            return decision.refusal
        return Move(ca, state, decision.state, decision.data, decision.env, decision.effects)

    def allowed_actions(self, state: str, role: str | None) -> list[str]:
        """Actions the caller's role could fire from ``state`` (guards not evaluated)."""
        out = []
        for action in self.decl.actions_from(state):
            if action.via_webhook:
                continue
            roles = self.actions[action.name].roles
            if roles and role not in roles:
                continue
            out.append(action.name)
        return out

    def is_final(self, state: str) -> bool:
        decl = self.states.get(state)
        return bool(decl and decl.final)

    def owner_role(self, state: str) -> str | None:
        decl = self.states.get(state)
        if decl is None or decl.owner is None:
            return None
        return normalize_role(decl.owner) or decl.owner

    # ------------------------------------------------------------------ the transitions wiring

    def _transition(self, ca: CompiledAction) -> dict[str, Any]:
        decl = ca.decl
        caller_checks = (_via_allowed(ca), _role_allowed(ca), _required_present(ca), self._types_valid)
        conditions = [_condition(*caller_checks)]  # one condition for the caller's checks, in order
        if ca.guard is not None and decl.when is not None:
            conditions.append(_condition(_guard_holds(ca)))
        return {"trigger": decl.name, "source": list(decl.sources), "dest": decl.target,
                "conditions": conditions, "after": [_collect(ca)]}

    def _types_valid(self, d: _Decision) -> Refusal | None:
        problems = check_field_types(self.fields, self.name, d.payload, only_declared=True)
        if not problems:
            return None
        return Refusal(422, "invalid_data", "payload is invalid: " + "; ".join(
            f"{p['path']}: {p['message']}" for p in problems), problems)


# ---------------------------------------------------------------------- checks run as conditions
# Each check answers None (passes) or the Refusal; :func:`_condition` makes checks one
# ``transitions`` condition that records the first refusal on the decision.

Check = Callable[[_Decision], Refusal | None]


def _condition(*checks: Check) -> Condition:
    def condition(event: EventData) -> bool:
        d = _decision(event)
        for check in checks:
            refusal = check(d)
            if refusal is not None:
                d.refusal = refusal
                return False
        return True

    return condition


def _via_allowed(ca: CompiledAction) -> Check:
    decl = ca.decl

    def via_allowed(d: _Decision) -> Refusal | None:
        hook = decl.via_webhook
        if hook and d.via != WEBHOOK_PREFIX + hook and d.via != TIMER:
            return Refusal(403, "webhook_only", f"action {decl.name} is fired only by webhook {hook}",
                           [{"check": "via", "hook": hook}])
        return None

    return via_allowed


def _role_allowed(ca: CompiledAction) -> Check:
    decl, roles = ca.decl, ca.roles

    def role_allowed(d: _Decision) -> Refusal | None:
        if not roles:
            return None
        if d.via.startswith(WEBHOOK_PREFIX) and decl.via_webhook != d.via.removeprefix(WEBHOOK_PREFIX):
            return Refusal(403, "wrong_role",
                           f"action {decl.name} is for {', '.join(sorted(roles))}; webhook "
                           f"{d.via.removeprefix(WEBHOOK_PREFIX)} may fire only actions declared `via webhook` for "
                           "it or open to everyone",
                           [{"check": "role", "role": d.via, "allowed": sorted(roles)}])
        if d.via == "user" and d.role not in roles:
            return Refusal(403, "wrong_role",
                           f"role {d.role} may not fire {decl.name}; allowed: {', '.join(sorted(roles))}",
                           [{"check": "role", "role": d.role, "allowed": sorted(roles)}])
        return None

    return role_allowed


def _required_present(ca: CompiledAction) -> Check:
    decl = ca.decl

    def required_present(d: _Decision) -> Refusal | None:
        missing = [f for f in decl.requires if d.payload.get(f) in (None, "")]
        if not missing:
            return None
        return Refusal(422, "missing_required", f"action {decl.name} requires {', '.join(missing)}",
                       [{"check": "requires", "path": f"/{f}", "message": f"{f} is required"} for f in missing])

    return required_present


def _guard_holds(ca: CompiledAction) -> Check:
    guard, decl = ca.guard, ca.decl
    assert guard is not None and decl.when is not None
    condition = print_expr(decl.when)

    def guard_holds(d: _Decision) -> Refusal | None:
        if guard(d.env):
            return None
        return Refusal(422, "guard_failed", f"condition of {decl.name} is false: {condition}",
                       [{"check": "when", "condition": condition}])

    return guard_holds


def _collect(ca: CompiledAction) -> Callable[[EventData], None]:
    """The ``after`` callback: the moved decision carries the action's effects, in order."""
    effects = ca.decl.effects

    def collect(event: EventData) -> None:
        _decision(event).effects = effects

    return collect
