"""The ``stock`` collection of alert measures: each SKU's stock as it is now, read from the stock
counters at every evaluation (never counted per window, so a measure over it has no ``per``):
``measure sum(available of stock) by sku_id  when value < 20`` fires once per SKU that falls
below 20 and clears when it is restocked.

Owns the one read of ``inventory_stock`` the alerts make (the figures each SKU's row holds: on
hand, reserved, safety; ``available`` as the stock service computes it) and the figures of a level
alert per group, summed with the same :class:`~engine.alerts.measures.Tally` the counters use.
Runs in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from engine.alerts.measures import CompiledAlert, Stats, Tally
from engine.inventory.domain import available_of
from engine.inventory.models import StockItem

__all__ = ["level_figures", "stock_record"]


def stock_record(sku_id: str, on_hand: int, reserved: int, safety: int) -> dict[str, Any]:
    """The record a ``stock`` aggregate's ``where``/``of``/``by`` read for one SKU."""
    return {"sku_id": sku_id, "on_hand": on_hand, "reserved": reserved, "safety": safety,
            "available": available_of(on_hand, reserved, safety)}


def level_figures(conn: Connection, alert: CompiledAlert, now: datetime) -> dict[str, dict[str, Stats]]:
    """Group → series key → figures of a level alert, from every SKU's stock now."""
    series = list(alert.series.values())
    tally = Tally()
    rows = conn.execute(select(StockItem.sku_id, StockItem.total_stock, StockItem.reserved_stock,
                               StockItem.safety_stock))
    for sku_id, on_hand, reserved, safety in rows:
        tally.add(series, stock_record(sku_id, int(on_hand), int(reserved), int(safety or 0)), now)
    out: dict[str, dict[str, Stats]] = {}
    for (key, _bucket, grp), stats in tally.stats().items():
        out.setdefault(grp, {})[key] = stats
    return out
