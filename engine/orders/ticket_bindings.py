"""Which tickets follow the platform, decided over the ``follow`` declarations of published
rulesets: the pure half of :mod:`engine.orders.order_tickets`.

A :class:`CompiledFollow` is one ``follow`` declaration of one published version with its
expressions compiled (``when``, the ticket data of ``open``, each status's payload).
:func:`choose` picks the declaration that serves an order (or one of its refunds): one whose
``when`` holds wins over one without a ``when``; :func:`statuses_passed` says which platform
statuses an order (or refund) passed going from one status to another, in the order it passed
them, so an order that arrives already shipped fires what payment and shipment fire.

No SQL, no Flask, no I/O: what a merchant declares decides; nothing here names a template.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dsl import model as m
from dsl import order_model as om
from dsl.compiler import compile_condition, compile_expression
from engine.lru import BoundedCache

__all__ = ["CompiledFollow", "StatusStep", "choose", "compile_follow", "statuses_passed"]

Fn = Callable[..., Any]


@dataclass(frozen=True)
class StatusStep:
    """What one platform status fires: the actions in order and their payload expressions."""

    status: str
    actions: tuple[str, ...]
    payload: tuple[tuple[str, Fn], ...]


@dataclass(frozen=True)
class CompiledFollow:
    """One ``follow`` declaration of ``ruleset``@``version``, ready to evaluate."""

    ruleset: str
    version: int
    decl: m.FollowDecl
    when: Fn | None
    open_with: tuple[tuple[str, Fn], ...]
    steps: dict[str, StatusStep]

    @property
    def subject(self) -> str:
        return self.decl.subject

    @property
    def machine(self) -> str:
        return self.decl.machine

    def applies(self, order: Mapping[str, Any], refund: Mapping[str, Any] | None = None) -> bool:
        return self.when is None or bool(self.when(order, _ctx(refund)))

    def ticket_data(self, order: Mapping[str, Any], refund: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The ticket's data when it opens (fields whose value is missing are left out)."""
        return _evaluate(self.open_with, order, refund)

    def payload(self, step: StatusStep, order: Mapping[str, Any],
                refund: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return _evaluate(step.payload, order, refund)


def _ctx(refund: Mapping[str, Any] | None) -> dict[str, Any]:
    return {"refund": refund} if refund is not None else {}


def _evaluate(pairs: tuple[tuple[str, Fn], ...], order: Mapping[str, Any],
              refund: Mapping[str, Any] | None) -> dict[str, Any]:
    ctx = _ctx(refund)
    out: dict[str, Any] = {}
    for name, fn in pairs:
        value = fn(order, ctx)
        if value is not None and value != "":
            out[name] = value
    return out


_compiled: BoundedCache[tuple[str, str], CompiledFollow] = BoundedCache(256)


def compile_follow(ruleset: str, version: int, checksum: str, decl: m.FollowDecl) -> CompiledFollow:
    """``decl`` compiled (cached by the published content's checksum and the declaration's name)."""
    return _compiled.get_or_build((checksum, decl.name), lambda: _compile(ruleset, version, decl))


def _compile(ruleset: str, version: int, decl: m.FollowDecl) -> CompiledFollow:
    scope = "refund" if decl.subject == "refunds" else "follow"
    canonical = om.canonical_refund_status if decl.subject == "refunds" else om.canonical_status

    def pairs(bindings: tuple[m.Binding, ...]) -> tuple[tuple[str, Fn], ...]:
        return tuple((b.name, compile_expression(b.value, scope)) for b in bindings)

    steps: dict[str, StatusStep] = {}
    for sa in decl.statuses:
        status = canonical(sa.status)
        if status is not None:
            steps[status] = StatusStep(status, sa.actions, pairs(sa.payload))
    when = compile_condition(decl.when, scope) if decl.when is not None else None
    return CompiledFollow(ruleset, version, decl, when, pairs(decl.open_with), steps)


def choose(candidates: Sequence[CompiledFollow], order: Mapping[str, Any],
           refund: Mapping[str, Any] | None = None) -> CompiledFollow | None:
    """The declaration that serves ``order`` (or its ``refund``): the first whose ``when``
    holds, else the first without a ``when``; None when none serves it."""
    fallback = None
    for follow in candidates:
        if follow.when is None:
            fallback = fallback or follow
        elif follow.applies(order, refund):
            return follow
    return fallback


def statuses_passed(previous: str | None, current: str | None, *, refunds: bool = False,
                    paid: bool = False, shipped: bool = False) -> list[str]:
    """The platform statuses passed going from ``previous`` (None: nothing seen yet) to
    ``current``, in order. Along the path (待付款 → … → 已完成, or a refund's 申请 → 同意 → 成功)
    every status between them; a status off the path (cancelled, a refund refused or closed)
    after the path statuses the order had reached (``paid``/``shipped`` say how far a cancelled
    order had come). Nothing when ``current`` lies behind ``previous`` (a stale version)."""
    path = om.REFUND_PATH if refunds else om.STATUS_PATH
    if current is None or current == previous:
        return []
    if previous is not None and previous not in path:
        return []  # the subject already left the path (cancelled, closed): nothing follows
    start = path.index(previous) + 1 if previous is not None else 0
    if current in path:
        end = path.index(current)
        return list(path[start:end + 1]) if end >= start else []
    reached = -1
    if refunds:
        reached = start - 1
    elif shipped:
        reached = path.index("shipped")
    elif paid:
        reached = path.index("awaiting_shipment")
    return [*path[start:reached + 1], current]
