"""The checks of a ``machine`` declaration: data fields, states, actions, roles, guards,
reachability, dead ends, deadline handlers, version migrations — and what its effects name: a
declared channel of a type that can take the effect (``notify`` a chat or SMS channel, ``call``
an operation its type offers, ``archive`` a known target, ``open`` a declared machine). What the
checker accepts here runs; what would only die in the outbox is refused with file:line:col.

Stands alone over :class:`dsl.typing.ExpressionTyper`; :mod:`dsl.checker` runs it with the other
declarations' checks.
"""

from __future__ import annotations

import re
from collections import deque

from . import model as m
from . import order_model as om
from .typing import ExpressionTyper, Scope, suggest

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class MachineChecks(ExpressionTyper):
    """Machine checks, and the references to channels and placeholders other declarations share."""

    def __init__(self, ruleset: m.Ruleset) -> None:
        super().__init__(ruleset)
        self.channels = {d.name: d for d in ruleset.declarations if isinstance(d, m.ChannelDecl)}
        self.hooks = {d.name: d for d in ruleset.declarations if isinstance(d, m.HookDecl)}
        self.machines = {d.name: d for d in ruleset.declarations if isinstance(d, m.MachineDecl)}
        self.sources = {d.name: d for d in ruleset.declarations if isinstance(d, m.SourceDecl)}

    def _machine_scope(self, mc: m.MachineDecl) -> Scope:
        data: om.FieldTree = {f.name: f.type for f in mc.data}
        return Scope((data, om.TICKET_CONTEXT), (("payload", "any"), ("order", om.ORDER_FIELDS)),
                     what="field")

    def _check_machine(self, mc: m.MachineDecl) -> None:  # noqa: C901
        state_names = [s.name for s in mc.states]
        states: dict[str, m.State] = {}
        data_names = [f.name for f in mc.data]
        seen_data: set[str] = set()
        for f in mc.data:
            if f.name in seen_data:
                self.error(f, f"data field '{f.name}' is declared twice", code="duplicate")
            seen_data.add(f.name)
            types = ("text", "money", "count", "bool", "time", "duration", "percent")
            if f.type not in types:
                self.error(f.loc("type"), f"unknown type '{f.type}'{suggest(f.type, types)}",
                           code="unknown-name")
        for s in mc.states:
            if s.name in states:
                self.error(s, f"state '{s.name}' is declared twice", code="duplicate")
            states[s.name] = s
            if s.owner is not None and om.canonical_role(s.owner) is None:
                self.error(s.loc("owner"),
                           f"unknown role '{s.owner}'{suggest(s.owner, _all_roles())}",
                           code="unknown-role")
            if s.deadline is not None and s.deadline <= 0:
                self.error(s, "deadline must be positive", code="window")
        if mc.initial is None:
            self.error(mc, f"machine '{mc.name}' has no initial state", code="machine")
        elif mc.initial not in states:
            self.error(mc.loc("initial"), f"initial state '{mc.initial}' is not declared"
                           f"{suggest(mc.initial, state_names)}", code="unknown-state")
        scope = self._machine_scope(mc)
        action_names: set[str] = set()
        edges: dict[str, set[str]] = {}
        for a in mc.actions:
            if a.name in action_names:
                self.error(a, f"action '{a.name}' is declared twice", code="duplicate")
            action_names.add(a.name)
            named = [(a.loc("sources", i), s) for i, s in enumerate(a.sources)]
            for where, name in [*named, (a.loc("target"), a.target)]:
                if name not in states:
                    self.error(where, f"action '{a.name}' refers to unknown state '{name}'"
                                      f"{suggest(name, state_names)}", code="unknown-state")
            for where, src in named:
                if src in states and states[src].final:
                    self.error(where, f"action '{a.name}' leaves final state '{src}'",
                               code="machine")
                edges.setdefault(src, set()).add(a.target)
            for i, role in enumerate(a.by):
                canonical = om.canonical_role(role)
                if canonical is None:
                    self.error(a.loc("by", i), f"unknown role '{role}'"
                                               f"{suggest(role, _all_roles())}",
                               code="unknown-role")
                elif canonical in om.OUTSIDE_PARTIES.values():
                    self.error(a.loc("by", i), f"'{role}' is an outside party and cannot act by "
                                               "login; use 'via webhook'", code="unknown-role")
            for i, req in enumerate(a.requires):
                if req not in seen_data:
                    self.error(a.loc("requires", i), f"action '{a.name}' requires unknown data "
                                                     f"field '{req}'{suggest(req, data_names)}",
                               code="unknown-name")
            if a.via_webhook is not None and a.via_webhook not in self.hooks:
                self.error(a.loc("via_webhook"), f"unknown hook '{a.via_webhook}'"
                              f"{suggest(a.via_webhook, self.hooks)}", code="unknown-name")
            self.expression(a.when, scope, "bool")
            for eff in a.effects:
                self._effect(eff, scope, mc)
        for h in mc.deadline_handlers:
            if h.state not in states:
                self.error(h.loc("state"), f"on deadline names unknown state '{h.state}'"
                              f"{suggest(h.state, state_names)}", code="unknown-state")
            elif states[h.state].deadline is None:
                self.error(h.loc("state"), f"state '{h.state}' has no deadline", code="machine")
            if h.action is not None:
                match = [a for a in mc.actions if a.name == h.action]
                if not match:
                    self.error(h.loc("action"), f"unknown action '{h.action}'"
                                  f"{suggest(h.action, action_names)}", code="unknown-name")
                elif h.state not in match[0].sources:
                    self.error(h.loc("action"),
                               f"action '{h.action}' cannot run from state '{h.state}'",
                               code="machine")
            for eff in h.effects:
                self._effect(eff, scope, mc)
        migrated: set[str] = set()
        for mig in mc.migrations:
            if mig.old in migrated:
                self.error(mig.loc("old"), f"state '{mig.old}' is migrated twice",
                           code="duplicate")
            migrated.add(mig.old)
            if mig.new not in states:
                self.error(mig.loc("new"), f"migrate target '{mig.new}' is not a state"
                                           f"{suggest(mig.new, state_names)}",
                           code="unknown-state")
        if mc.initial in states:
            reached = {mc.initial}
            queue = deque([mc.initial])
            while queue:
                for nxt in edges.get(queue.popleft(), ()):
                    if nxt not in reached:
                        reached.add(nxt)
                        queue.append(nxt)
            for s in mc.states:
                if s.name not in reached:
                    self.error(s, f"state '{s.name}' is unreachable from initial state "
                                  f"'{mc.initial}'", code="unreachable")
        for s in mc.states:
            if not s.final and not edges.get(s.name):
                self.error(s, f"state '{s.name}' is not final and has no action leading out",
                           code="dead-end")

    def _effect(self, eff: m.Effect, scope: Scope, mc: m.MachineDecl | None) -> None:
        if isinstance(eff, m.Notify):
            self._channel_ref(eff.loc("channel"), eff.channel)
            if eff.to is not None:
                self.expression(eff.to, scope, "text", what="recipient")
            allowed = [k for tree in scope.roots for k in tree]
            self._placeholders(eff, eff.message, allowed)
        elif isinstance(eff, m.CallEffect):
            self._call_target(eff)
            for arg in eff.args:
                self.expression(arg, scope)
        elif isinstance(eff, m.Archive):
            if eff.target not in om.ARCHIVE_TARGETS:
                self.error(eff.loc("target"), f"unknown archive target '{eff.target}'; known: "
                                              f"{', '.join(om.ARCHIVE_TARGETS)}"
                                              f"{suggest(eff.target, om.ARCHIVE_TARGETS)}", code="unknown-name")
        elif isinstance(eff, m.SetField):
            if mc is not None:
                names = [f.name for f in mc.data]
                if eff.field not in names:
                    self.error(eff, f"unknown data field '{eff.field}'{suggest(eff.field, names)}",
                               code="unknown-name")
                else:
                    want = next(f.type for f in mc.data if f.name == eff.field)
                    self.expression(eff.value, scope, want, what="value")
        elif isinstance(eff, m.OpenTicket):
            if eff.machine not in self.machines:
                self.error(eff, f"unknown machine '{eff.machine}'"
                                f"{suggest(eff.machine, self.machines)}", code="unknown-name")

    def _channel_ref(self, node: m.Node | m.Loc, name: str) -> None:
        """A channel a ``notify`` names: declared, and of a type that can be notified."""
        channel = self.channels.get(name)
        if channel is None:
            self.error(node, f"unknown channel '{name}'{suggest(name, self.channels)}",
                       code="unknown-name")
        elif channel.type in om.CHANNEL_TYPES and channel.type not in om.NOTIFY_CHANNEL_TYPES:
            self.error(node, f"channel '{name}' is a {channel.type} channel and cannot be notified; notify "
                             f"goes to a {', '.join(om.NOTIFY_CHANNEL_TYPES)} channel", code="channel-type")

    def _call_target(self, eff: m.CallEffect) -> None:
        """``call X.op``: X a declared channel whose type offers ``op``."""
        channel = self.channels.get(eff.target)
        if channel is None:
            self.error(eff.loc("target"), f"unknown channel '{eff.target}'{suggest(eff.target, self.channels)}",
                       code="unknown-name")
            return
        offered = om.CALL_OPERATIONS.get(channel.type)
        if offered is None:
            if channel.type in om.CHANNEL_TYPES:  # an unknown type is reported at the channel
                callable_types = ", ".join(om.CALL_OPERATIONS)
                self.error(eff.loc("target"), f"channel '{eff.target}' is a {channel.type} channel, which offers no "
                                              f"operations to call; call goes to a {callable_types} channel",
                           code="channel-type")
        elif eff.operation not in offered:
            self.error(eff.loc("operation"), f"{channel.type} channel '{eff.target}' has no operation "
                                             f"'{eff.operation}'; it offers: {', '.join(offered)}", code="unknown-name")

    def _placeholders(self, node: m.Node, message: str, allowed: list[str]) -> None:
        for ph in _PLACEHOLDER.findall(message):
            if ph not in allowed:
                self.error(node, f"unknown placeholder '{{{ph}}}'{suggest(ph, allowed)}",
                           code="unknown-name")


def _all_roles() -> list[str]:
    return [*om.ROLES, *om.ROLES.values(), *om.OUTSIDE_PARTIES, *om.OUTSIDE_PARTIES.values()]
