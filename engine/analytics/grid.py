"""The 3 km map grid and the figures made from per-district counts: which cell a district's
centroid falls in, the busiest cells with their districts, and each district's growth against
its province.

Pure: plain Python over counts the SQL edge (:mod:`engine.analytics.geo`) already grouped by
district code — at most a few thousand rows, never orders. A cell is ``GRID_KM`` high (in
latitude) and ``GRID_KM`` wide at the latitude of its row's centre, so cells are close to
square everywhere in China; its id is ``"{row}:{col}"``. Growth is an exact percentage in basis
points (+210% → 21000), rounded half up, None when the earlier period had no order.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

__all__ = ["GRID_KM", "Centroid", "DistrictCount", "GridCell", "cell_bounds", "cell_of", "growth_bp",
           "growth_rows", "share_bp", "top_cells"]

GRID_KM = 3
_KM_PER_DEGREE = 111.32
_STEP = GRID_KM / _KM_PER_DEGREE


@dataclass(frozen=True)
class Centroid:
    """A district (or city, when no district is known) and its official centroid."""

    adcode: str
    province: str
    city: str
    district: str
    lat: float
    lng: float

    def __hash__(self) -> int:  # the code names the place (a year's map hashes thousands of them)
        return hash(self.adcode)


class DistrictCount(NamedTuple):
    centroid: Centroid
    orders: int


@dataclass
class GridCell:
    id: str
    lat: float
    lng: float
    orders: int = 0
    districts: list[DistrictCount] = field(default_factory=list)

    def as_json(self, total: int) -> dict[str, object]:
        return {"id": self.id, "lat": round(self.lat, 5), "lng": round(self.lng, 5), "orders": self.orders,
                "share_bp": share_bp(self.orders, total),
                "districts": [{"adcode": d.centroid.adcode, "province": d.centroid.province,
                               "city": d.centroid.city, "district": d.centroid.district, "orders": d.orders}
                              for d in sorted(self.districts, key=lambda d: (-d.orders, d.centroid.adcode))]}


def _col_step(row: int) -> float:
    centre = (row + 0.5) * _STEP
    return _STEP / max(math.cos(math.radians(centre)), 0.01)


@lru_cache(maxsize=65536)
def cell_of(lat: float, lng: float) -> str:
    """The id of the cell holding the point (``"row:col"``)."""
    row = math.floor(lat / _STEP)
    col = math.floor(lng / _col_step(row))
    return f"{row}:{col}"


def cell_bounds(cell_id: str) -> tuple[float, float, float, float]:
    """``(south, west, north, east)`` of a cell; ValueError for an id that is no cell."""
    row_text, col_text = cell_id.split(":")
    row, col = int(row_text), int(col_text)
    step = _col_step(row)
    return row * _STEP, col * step, (row + 1) * _STEP, (col + 1) * step


@lru_cache(maxsize=65536)
def _centre(cell_id: str) -> tuple[float, float]:
    south, west, north, east = cell_bounds(cell_id)
    return (south + north) / 2, (west + east) / 2


def _half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` (``denominator`` > 0) rounded half up, in integers (exact)."""
    return (2 * numerator + denominator) // (2 * denominator)


def share_bp(part: int, whole: int) -> int | None:
    """``part`` of ``whole`` in basis points, rounded half up; None when ``whole`` is 0."""
    if whole <= 0:
        return None
    return _half_up(part * 10000, whole)


def growth_bp(current: int, previous: int) -> int | None:
    """Change from ``previous`` to ``current`` in basis points (half up, away from zero for
    falls too); None when there was nothing before."""
    if previous <= 0:
        return None
    change = (current - previous) * 10000
    return _half_up(change, previous) if change >= 0 else -_half_up(-change, previous)


def top_cells(counts: Iterable[DistrictCount], n: int = 10) -> list[GridCell]:
    """The ``n`` cells with the most orders (ties: by id), with their districts."""
    orders: dict[str, int] = {}
    districts: dict[str, list[DistrictCount]] = {}
    for c in counts:
        if c.orders <= 0:
            continue
        cell_id = cell_of(c.centroid.lat, c.centroid.lng)
        orders[cell_id] = orders.get(cell_id, 0) + c.orders
        districts.setdefault(cell_id, []).append(c)
    ranked = heapq.nsmallest(n, orders, key=lambda cell_id: (-orders[cell_id], cell_id))
    return [GridCell(cell_id, *_centre(cell_id), orders[cell_id], districts[cell_id]) for cell_id in ranked]


def growth_rows(current: Mapping[Centroid, int], previous: Mapping[Centroid, int], *, min_orders: int,
                limit: int) -> list[dict[str, object]]:
    """Districts with at least ``min_orders`` in the current period, fastest growing first (those
    with no earlier order last), each next to its province's growth over the same periods."""
    province_now: dict[str, int] = {}
    province_before: dict[str, int] = {}
    for table, sums in ((current, province_now), (previous, province_before)):
        for centroid, n in table.items():
            sums[centroid.province] = sums.get(centroid.province, 0) + n
    keyed: list[tuple[bool, int, int, str, Centroid, int, int | None]] = []
    for centroid, n in current.items():
        if n < min_orders or not centroid.district:
            continue
        growth = growth_bp(n, previous.get(centroid, 0))
        keyed.append((growth is None, -(growth or 0), -n, centroid.adcode, centroid, n, growth))
    rows: list[dict[str, object]] = []
    for *_, centroid, n, growth in heapq.nsmallest(limit, keyed, key=lambda k: k[:4]):
        p_now, p_before = province_now.get(centroid.province, 0), province_before.get(centroid.province, 0)
        rows.append({
            "adcode": centroid.adcode, "province": centroid.province, "city": centroid.city,
            "district": centroid.district, "orders": n, "previous": previous.get(centroid, 0), "growth_bp": growth,
            "province_orders": p_now, "province_previous": p_before, "province_growth_bp": growth_bp(p_now, p_before)})
    return rows
