"""会有什么变化, the ticket path: which machine and which ``follow`` declaration an order would
open its ticket on, and which actions the platform statuses it has passed would fire — under
the published declarations and under a draft's.

:class:`TicketPathReplay` is a comparison of :mod:`engine.rulesets.what_changes`; the choice and
the statuses are the ticket stage's own pure functions (:func:`engine.orders.ticket_bindings.choose`,
:func:`~engine.orders.ticket_bindings.statuses_passed`). Pure: no SQL, no tickets opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dsl import model as m
from dsl import order_model as om
from engine.orders.ticket_bindings import CompiledFollow, choose, compile_follow, statuses_passed
from engine.rulesets.what_changes import ComparisonResult, StoredOrder

__all__ = ["FollowWorld", "TicketPath", "TicketPathReplay", "order_follows", "ticket_path"]


@dataclass(frozen=True)
class FollowWorld:
    """The ``follow … for orders`` declarations of a set of rulesets, in the order the ticket
    stage reads them, and the machines they name (by ruleset and machine name)."""

    follows: tuple[CompiledFollow, ...]
    machines: Mapping[tuple[str, str], m.MachineDecl]


def order_follows(sources: Sequence[tuple[str, int, str, m.Ruleset]]) -> FollowWorld:
    """The :class:`FollowWorld` of ``(ruleset, version, checksum, model)``."""
    follows = tuple(compile_follow(name, version, checksum, decl) for name, version, checksum, model in sources
                    for decl in model.follows if decl.subject == "orders")
    machines = {(name, mc.name): mc for name, _, _, model in sources for mc in model.machines}
    return FollowWorld(follows, machines)


@dataclass(frozen=True)
class TicketPath:
    """Where an order's ticket goes: machine and declaration (None: no ticket), the actions
    the statuses it passed fire, and the state the ticket ends in."""

    machine: str | None
    follow: str | None
    actions: tuple[str, ...]
    state: str | None

    def text(self) -> str:
        if self.machine is None:
            return "不开工单"
        moves = " → ".join(self.actions) or "无动作"
        return f"{self.machine}（{self.follow}）：{moves}，停在 {self.state}"


def ticket_path(world: FollowWorld, doc: Mapping[str, Any]) -> TicketPath:
    """The path the ticket stage would take for ``doc`` arriving now: the declaration
    :func:`choose` picks, and each action bound to the statuses passed that the machine allows
    from the state the ticket is in by then (the stage passes the others over; guards and
    required data are the workflow's checks at run time and are not replayed here)."""
    follow = choose(world.follows, doc)
    if follow is None:
        return TicketPath(None, None, (), None)
    machine = world.machines.get((follow.ruleset, follow.machine))
    state = machine.initial if machine is not None else None
    actions = {a.name: a for a in machine.actions} if machine is not None else {}
    raw = doc.get("status")
    status = om.canonical_status(str(raw)) if raw else None
    fired: list[str] = []
    for passed in statuses_passed(None, status, paid=bool(doc.get("paid_at")), shipped=bool(doc.get("shipped_at"))):
        step = follow.steps.get(passed)
        for name in step.actions if step is not None else ():
            action = actions.get(name)
            if action is not None and state in action.sources:
                fired.append(name)
                state = action.target
    return TicketPath(follow.machine, follow.decl.name, tuple(fired), state)


@dataclass(frozen=True)
class PathChange:
    channel: str
    order_id: str
    status: str
    published: TicketPath
    draft: TicketPath

    @property
    def kind(self) -> str:
        if self.draft.machine is None:
            return "no_ticket"
        if self.published.machine is None:
            return "new_ticket"
        if self.published.machine != self.draft.machine:
            return "machine"
        if self.published.follow != self.draft.follow:
            return "follow"
        return "actions"


_KINDS = (("no_ticket", "不再开工单"), ("new_ticket", "新开工单"), ("machine", "换状态机"),
          ("follow", "换跟随声明"), ("actions", "触发的动作不同"))


class TicketPathReplay:
    """The ticket-path comparison: each order's path under both sets of declarations."""

    key = "ticket"

    def __init__(self, draft: FollowWorld, published: FollowWorld) -> None:
        self.draft = draft
        self.published = published
        self.examined = 0
        self.changes: list[PathChange] = []

    def add(self, order: StoredOrder) -> None:
        channel, order_id, doc = order
        self.examined += 1
        before = ticket_path(self.published, doc)
        after = ticket_path(self.draft, doc)
        if before != after:
            raw = doc.get("status")
            status = om.canonical_status(str(raw)) if raw else None
            label = om.STATUS_LABELS.get(status, str(raw or "")) if status else str(raw or "")
            self.changes.append(PathChange(channel, order_id, label, before, after))

    def totals(self) -> dict[str, int]:
        out = {"changed": len(self.changes)}
        for kind, _ in _KINDS:
            out[kind] = sum(1 for c in self.changes if c.kind == kind)
        return out

    def summary(self) -> str:
        """``4 单工单路径变化：换状态机 1 单，触发的动作不同 3 单``."""
        t = self.totals()
        parts = [f"{label} {t[kind]} 单" for kind, label in _KINDS if t[kind]]
        return f"{t['changed']} 单工单路径变化" + ("：" + "，".join(parts) if parts else "")

    def result(self, shown: int) -> ComparisonResult:
        return ComparisonResult(
            key=self.key, label="工单路径", summary=self.summary(), changed=len(self.changes),
            columns=("渠道", "订单号", "平台状态", "已发布版本", "草稿"),
            rows=tuple((c.channel, c.order_id, c.status, c.published.text(), c.draft.text())
                       for c in self.changes[:shown]),
            table_label="工单路径变化的订单", totals=self.totals())
