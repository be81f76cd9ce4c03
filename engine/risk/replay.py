"""会有什么变化, flags and holds: stored orders run through a draft's ``risk`` rules and through
the published ones, and the orders that would be flagged or held differently.

:class:`RiskReplay` is a comparison of :mod:`engine.rulesets.what_changes`. For each order it
reads the windows the risk stage reads (:func:`engine.risk.windows.neighbours`: one indexed
statement per order, over the fields both rule sets group by, each with the longer window of
the two) and lets the pure core (:func:`engine.risk.rules.evaluate`) decide under each rule
set. It writes nothing, so it reads the keys as the stage left them: an order is compared only
when every field it is grouped by has stored keys that reach back to the order itself (what the
stage read when it ran); an order grouped by a field no published rule has grouped by yet, or
older than that field's keys, cannot be compared exactly and is counted as skipped, never
guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from engine.risk import windows
from engine.risk.published import RiskRules
from engine.risk.rules import Finding, Neighbour, dimensions_of, evaluate, order_time
from engine.rulesets.what_changes import ComparisonResult, StoredOrder

__all__ = ["RiskOutcome", "RiskReplay"]


@dataclass(frozen=True)
class RiskOutcome:
    """What the rules decide for one order: the flags (rule, flag) and whether it is held."""

    flags: tuple[tuple[str, str], ...]
    held: tuple[str, ...]  # the rules that hold it

    @classmethod
    def of(cls, findings: Sequence[Finding]) -> RiskOutcome:
        return cls(tuple(sorted((f.rule.name, f.rule.decl.flag) for f in findings)),
                   tuple(sorted(f.rule.name for f in findings if f.hold)))

    def text(self) -> str:
        if not self.flags:
            return "通过"
        names = "、".join(sorted({flag for _, flag in self.flags}))
        return f"挂起（{names}）" if self.held else f"标记（{names}）"


@dataclass(frozen=True)
class RiskChange:
    channel: str
    order_id: str
    published: RiskOutcome
    draft: RiskOutcome

    def what(self) -> str:
        parts = []
        if self.draft.held and not self.published.held:
            parts.append("新增挂起")
        elif self.published.held and not self.draft.held:
            parts.append("解除挂起")
        added = {f for _, f in self.draft.flags} - {f for _, f in self.published.flags}
        removed = {f for _, f in self.published.flags} - {f for _, f in self.draft.flags}
        if added:
            parts.append("新增标记 " + "、".join(sorted(added)))
        if removed:
            parts.append("去掉标记 " + "、".join(sorted(removed)))
        if not parts and self.published.held != self.draft.held:
            parts.append("挂起的规则变化")
        return "；".join(parts) or "命中的规则变化"


class RiskReplay:
    """The flags-and-holds comparison (see the module); ``conn`` is the reading transaction."""

    key = "risk"

    def __init__(self, conn: Connection, draft: RiskRules, published: RiskRules, now: datetime) -> None:
        self.conn = conn
        self.draft = draft
        self.published = published
        self.now = now
        self.dimensions = dimensions_of([*draft.rules, *published.rules])
        self.with_docs = bool(draft.doc_dimensions | published.doc_dimensions)
        self.covered = windows.coverage(conn) if self.dimensions else {}
        self.examined = 0
        self.changes: list[RiskChange] = []
        self.skipped = 0

    def add(self, order: StoredOrder) -> None:
        channel, order_id, doc = order
        self.examined += 1
        if not self.draft.rules and not self.published.rules:
            return
        at = order_time(doc) or self.now
        keys = windows.keys_of(doc, self.dimensions)
        wanted = [(dim, keys[dim.name]) for dim in self.dimensions if dim.name in keys]
        for dim, _ in wanted:
            if dim.name not in self.covered or not windows.covers(self.covered[dim.name], at):
                self.skipped += 1
                return
        found = windows.neighbours(self.conn, wanted, at, with_docs=self.with_docs) if wanted else {}
        ref = f"{channel}/{order_id}"
        seen: dict[str, tuple[str | None, Sequence[Neighbour]]] = {}
        for dim in self.dimensions:
            near = found.get(dim.name, [])
            if dim.name in keys and all(n.ref != ref for n in near):
                near = [*near, Neighbour(0, ref, at, doc)]  # the order itself, as the stage counts it
            seen[dim.name] = (keys.get(dim.name), near)
        before = RiskOutcome.of(evaluate(self.published.rules, doc, at, seen))
        after = RiskOutcome.of(evaluate(self.draft.rules, doc, at, seen))
        if before != after:
            self.changes.append(RiskChange(channel, order_id, before, after))

    def summary(self) -> str:
        """``12 单风控结果变化：新增挂起 3 单，解除挂起 1 单，新增标记 5 单，去掉标记 2 单``."""
        counts = self.totals()
        parts = [f"{label} {counts[key]} 单" for key, label in (
            ("held_added", "新增挂起"), ("held_removed", "解除挂起"),
            ("flagged_added", "新增标记"), ("flagged_removed", "去掉标记")) if counts[key]]
        head = f"{len(self.changes)} 单风控结果变化"
        return head + ("：" + "，".join(parts) if parts else "")

    def totals(self) -> dict[str, int]:
        def flags(o: RiskOutcome) -> set[str]:
            return {f for _, f in o.flags}

        return {
            "changed": len(self.changes),
            "held_added": sum(1 for c in self.changes if c.draft.held and not c.published.held),
            "held_removed": sum(1 for c in self.changes if c.published.held and not c.draft.held),
            "flagged_added": sum(1 for c in self.changes if flags(c.draft) - flags(c.published)),
            "flagged_removed": sum(1 for c in self.changes if flags(c.published) - flags(c.draft)),
        }

    def result(self, shown: int) -> ComparisonResult:
        return ComparisonResult(
            key=self.key, label="风控标记与挂起", summary=self.summary(), changed=len(self.changes),
            columns=("渠道", "订单号", "已发布版本", "草稿", "变化"),
            rows=tuple((c.channel, c.order_id, c.published.text(), c.draft.text(), c.what())
                       for c in self.changes[:shown]),
            table_label="风控结果变化的订单", skipped=self.skipped, totals=self.totals())
