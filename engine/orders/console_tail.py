"""The demo console's tail of the order story: what the pipeline, shipping and the write-back
wrote to orders' timelines since the last look, and the write-backs that became dead letters,
turned into short Chinese lines (:func:`engine.orders.console.timeline_line`) and logged as
one ``order_story`` event per look (the console handler prints its lines; the JSON log keeps
them, masked like every event).

It only reads: the timeline is append-only and its ids grow, so "since the last look" is the
highest id seen. It starts from the newest entry present when it is made (a restarted demo
does not replay yesterday's story). Run by the demo (:mod:`engine.orders.demo_warehouse`
registers it as a periodic job of the demo only); it never changes an order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, select

from engine.logs import get_logger
from engine.orders.console import dead_letter_line, timeline_line
from engine.orders.model import Order, OrderEvent
from engine.orders.writeback import WRITEBACK_TOPIC
from engine.storage.models import OutboxMessage

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["ConsoleTail"]

log = get_logger(__name__)

_T = cast(Table, OrderEvent.__table__)
_O = cast(Table, Order.__table__)
PAGE = 500


class ConsoleTail:
    """Reads the order story past what it has told; :meth:`tell` logs and returns the lines."""

    def __init__(self, services: Services, *, from_start: bool = False) -> None:
        self.services = services
        with services.db.session() as session:
            top = None if from_start else session.scalar(select(func.max(_T.c.id)))
            dead = [] if from_start else list(session.scalars(select(OutboxMessage.id).where(
                OutboxMessage.topic == WRITEBACK_TOPIC, OutboxMessage.status == "dead")))
        self.seen = int(top or 0)
        self.dead_seen: set[int] = set(dead)

    def lines(self) -> list[str]:
        """The lines of everything recorded since the last call (oldest first)."""
        out: list[str] = []
        with self.services.db.session() as session:
            while True:
                rows = session.execute(
                    select(_T.c.id, _T.c.kind, _T.c.detail, _O.c.channel, _O.c.order_id)
                    .select_from(_T.join(_O, _O.c.id == _T.c.order_pk))
                    .where(_T.c.id > self.seen).order_by(_T.c.id).limit(PAGE)).all()
                for row in rows:
                    self.seen = row.id
                    line = timeline_line(row.kind, row.detail, row.channel, row.order_id)
                    if line:
                        out.append(line)
                if len(rows) < PAGE:
                    break
            dead = session.execute(select(OutboxMessage.id, OutboxMessage.order_ref, OutboxMessage.payload,
                                          OutboxMessage.last_error)
                                   .where(OutboxMessage.topic == WRITEBACK_TOPIC, OutboxMessage.status == "dead")
                                   .order_by(OutboxMessage.id)).all()
            for row in dead:
                if row.id not in self.dead_seen:
                    self.dead_seen.add(row.id)
                    out.append(dead_letter_line(row.order_ref, row.payload, row.last_error))
        return out

    def tell(self) -> list[str]:
        """Log this look's lines as one ``order_story`` event (nothing when there are none)."""
        lines = self.lines()
        if lines:
            log.info("order_story", lines=lines)
        return lines


def tail_job(tail: ConsoleTail) -> Any:
    """The periodic job function of ``tail``."""
    def run(_run: Any) -> None:
        tail.tell()
    return run
