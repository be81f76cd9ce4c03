"""Stock arriving for orders held as 缺货: which of them to try again.

:class:`StockArrivals` reads the stock ledger (append-only, ids increasing) past the last entry
it saw; an adjustment, a release (a cancelled order's stock coming back) or a safety-stock
change of a SKU makes the pipeline rows held for that SKU ``ready`` again, keeping their
``due_at`` (the time they were held), so the oldest hold is served first. Its first look in a
process retries every 缺货 order once, so nothing that arrived while no worker ran is missed.
Each worker process keeps its own place in the ledger; two of them waking the same order is
harmless (the claim takes it once).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, select, update

from engine.inventory.models import LedgerEntry
from engine.logs import get_logger
from engine.orders.pipeline_model import OrderPipeline
from engine.orders.pipeline_wake import PIPELINE_FLAG
from engine.storage.db import Database

__all__ = ["STOCK_OPERATIONS", "StockArrivals"]

log = get_logger(__name__)

STOCK_OPERATIONS = ("adjust", "release", "safety")
_P = cast(Table, OrderPipeline.__table__)
_LEDGER = cast(Table, LedgerEntry.__table__)


class StockArrivals:
    """One process's place in the stock ledger, for one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen: int | None = None
        self._lock = threading.Lock()

    def wake(self, now: datetime) -> int:
        """Make ready the 缺货 orders whose SKUs had stock arrive since the last look (all of
        them on the first look); returns how many."""
        with self._lock:
            with self.db.session() as session:
                top = session.scalar(select(func.max(_LEDGER.c.id)))
            if top is None or top == self.seen:
                return 0
            after = self.seen
            skus: set[str] | None = None
            woken: list[int] = []
            with self.db.transaction(immediate=True) as session:
                if after is not None:
                    skus = set(session.scalars(select(_LEDGER.c.sku_id).where(
                        _LEDGER.c.id > after, _LEDGER.c.id <= top,
                        _LEDGER.c.operation.in_(STOCK_OPERATIONS)).distinct()))
                if skus is None or skus:
                    for pk, short in session.execute(select(_P.c.order_pk, _P.c.short_skus)
                                                     .where(_P.c.status == "held")):
                        if short and (skus is None or skus.intersection(short)):
                            woken.append(pk)
                if woken:
                    session.execute(update(_P).where(_P.c.order_pk.in_(woken), _P.c.status == "held")
                                    .values(status="ready", updated_at=now))
                session.connection().info.pop(PIPELINE_FLAG, None)
            self.seen = top
            if woken:
                log.info("stock arrived for orders waiting for it", orders=len(woken), skus=sorted(skus or ()))
            return len(woken)
