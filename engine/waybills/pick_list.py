"""The picking wave (拣货波次): the selected orders' lines grouped by location and SKU, with
the quantity per SKU and which orders take how many. Pure: no I/O.

Rows are ordered by location (a walk through the aisles), then SKU; a SKU without a location
comes last under 未设库位. Every SKU appears once, its total the sum over the orders.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["NO_LOCATION", "PickRow", "PickWave", "pick_wave"]

NO_LOCATION = "未设库位"


@dataclass(frozen=True)
class PickRow:
    location: str
    sku_id: str
    title: str
    total: int
    orders: tuple[tuple[str, int], ...]  # (order reference, qty)


@dataclass(frozen=True)
class PickWave:
    rows: tuple[PickRow, ...]
    order_count: int
    total_qty: int


def pick_wave(orders: Iterable[tuple[str, Mapping[str, Any]]], locations: Mapping[str, str]) -> PickWave:
    """The wave of ``orders`` (reference such as ``taobao/123``, stored document) with each
    SKU's location from ``locations``."""
    by_sku: dict[str, dict[str, Any]] = {}
    count = 0
    for ref, doc in orders:
        count += 1
        for line in doc.get("lines") or []:
            sku = str(line.get("sku_id") or "")
            qty = int(line.get("qty") or 0)
            if not sku or qty <= 0:
                continue
            entry = by_sku.setdefault(sku, {"title": str(line.get("title") or sku), "orders": {}})
            entry["orders"][ref] = entry["orders"].get(ref, 0) + qty
    rows = [PickRow(location=locations.get(sku) or NO_LOCATION, sku_id=sku, title=e["title"],
                    total=sum(e["orders"].values()), orders=tuple(sorted(e["orders"].items())))
            for sku, e in by_sku.items()]
    rows.sort(key=lambda r: (r.location == NO_LOCATION, r.location, r.sku_id))
    return PickWave(rows=tuple(rows), order_count=count, total_qty=sum(r.total for r in rows))
