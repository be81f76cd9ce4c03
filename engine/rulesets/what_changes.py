"""会有什么变化: stored orders run through a draft's rules and through the published ones, by a list
of comparisons, with progress reported as each batch of orders is done.

A comparison (:class:`OrderComparison`) looks at one stored order at a time and keeps the orders
whose outcome differs; :func:`replay` feeds it batches and yields :class:`Progress` after each.
The comparisons: the price and the 价格异常 tag (:mod:`engine.pricing.replay`), flags and holds
(:mod:`engine.risk.replay`), the ticket path (:mod:`engine.orders.ticket_path`); the list is
made in one place, :func:`builder_ui.whatif.comparisons_for`.

Pure: no Flask, no SQLAlchemy; the orders come from :func:`engine.orders.samples.recent_order_batches`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["ComparisonResult", "OrderComparison", "Progress", "StoredOrder", "replay"]

#: ``(channel, order_id, normalized order document)``
StoredOrder = tuple[str, str, Mapping[str, Any]]


@dataclass(frozen=True)
class ComparisonResult:
    """What one comparison found, as the page shows it: a summary sentence (``312 单优惠变化，合计
    -¥1,204.50``), the table of differing orders (``columns``; ``rows`` at most ``shown`` of
    ``changed``) under the accessible name ``table_label``, and what it could not compare."""

    key: str
    label: str
    summary: str
    changed: int
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    table_label: str
    skipped: int = 0
    totals: Mapping[str, int] | None = None  # exact figures behind the summary (fen, counts)

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "summary": self.summary, "changed": self.changed,
                "columns": list(self.columns), "rows": [list(r) for r in self.rows],
                "more": max(0, self.changed - len(self.rows)), "table_label": self.table_label,
                "skipped": self.skipped, "totals": dict(self.totals or {})}


class OrderComparison(Protocol):
    """One way a draft can change what happens to an order (price, flags, holds, ticket path)."""

    key: str

    def add(self, order: StoredOrder) -> None:
        """Run this order through the draft and the published rules; keep it if they differ."""

    def result(self, shown: int) -> ComparisonResult:
        """What was found so far, listing at most ``shown`` orders."""


@dataclass(frozen=True)
class Progress:
    done: int
    total: int


def replay(batches: Iterable[Sequence[StoredOrder]], comparisons: Sequence[OrderComparison],
           total: int) -> Iterator[Progress]:
    """Feed every order of every batch to every comparison; yield the progress after each batch."""
    done = 0
    for batch in batches:
        for order in batch:
            for comparison in comparisons:
                comparison.add(order)
        done += len(batch)
        yield Progress(done, max(total, done))
