"""The geography of orders: a 3 km grid over the district centroids cleaning fills, the busiest
cells with their districts, each district's growth against its province, and one cell's orders
with the product combinations they hold.

Owns these queries. Orders are counted per district code from the counters of
:mod:`engine.analytics.hour_counts`: the whole months of the range from the monthly counters, its
days before and after them from the daily ones (one ``GROUP BY`` period, adcode for the range
and the period before it, over at most about months + 60 days × channels × districts rows each),
plus what the orders changed since the counters' cursor add and take away (read once), so the
figures are exact however far the consumer is behind; a store
never counted reads its orders (one ``GROUP BY adcode`` over the ``ix_orders_analytics`` index).
Each code's centroid comes from
the same division table cleaning resolves addresses with (:mod:`engine.orders.regions`: the
``lat``/``lng`` an order's receiver carries *is* its district's centroid), and the pure grid
(:mod:`engine.analytics.grid`) places the at most few thousand counted districts in cells. A
cell's product combinations are counted in SQL too: the SKUs of its orders, and each pair of
SKUs bought together in one order (a self-join of the lines of those orders).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import func, literal_column, select, union_all
from sqlalchemy.orm import Session, aliased

from engine.analytics.grid import Centroid, DistrictCount, cell_of, growth_rows, share_bp, top_cells
from engine.analytics.hour_counts import ALL_CHANNELS, DistrictDay, DistrictMonth, changes_since_cursor, district_delta
from engine.analytics.orders_list import listed, page_of_orders
from engine.analytics.ranges import DateRange, whole_months
from engine.errors import NotFound
from engine.orders.model import Order, OrderLine
from engine.orders.regions import DivisionResolver, default_resolver

__all__ = ["cell_detail", "centroids", "geo_overview", "per_district"]


@lru_cache(maxsize=1)
def centroids() -> dict[str, Centroid]:
    """Every division code → its centroid (a county's code wins over a city sharing it)."""
    resolver = default_resolver()
    assert isinstance(resolver, DivisionResolver)
    out: dict[str, Centroid] = {}
    for unit in sorted(resolver.units, key=lambda u: u.level):
        region = unit.region
        if region is None or (region.lat == 0 and region.lng == 0):
            continue
        out[region.adcode] = Centroid(region.adcode, region.province, region.city, region.district, region.lat,
                                      region.lng)
    return out


@lru_cache(maxsize=1)
def _codes_by_cell() -> dict[str, tuple[str, ...]]:
    cells: dict[str, list[str]] = {}
    for code, c in centroids().items():
        cells.setdefault(cell_of(c.lat, c.lng), []).append(code)
    return {k: tuple(sorted(v)) for k, v in cells.items()}


def _where(stmt: Any, rng: DateRange, channels: Sequence[str]) -> Any:
    stmt = stmt.where(Order.created_at >= rng.start, Order.created_at < rng.end, Order.dropped_by.is_(None))
    if channels:
        stmt = stmt.where(Order.channel.in_(list(channels)))
    return stmt


def _parts(rng: DateRange, channels: list[str], period: int) -> list[Any]:
    """The counter rows of one range, labelled ``period``: its whole months from the monthly
    counters, the days before and after them from the daily ones."""
    def part(model: Any, when: Any) -> Any:
        stmt = select(literal_column(str(period)).label("period"), model.adcode.label("adcode"),
                      model.orders.label("orders"))
        return stmt.where(when, model.channel.in_(channels) if channels else model.channel == ALL_CHANNELS)

    months = whole_months(rng.first, rng.last)
    if months is None:
        return [part(DistrictDay, (DistrictDay.day >= rng.first) & (DistrictDay.day <= rng.last))]
    return [part(DistrictMonth, (DistrictMonth.month >= months[0]) & (DistrictMonth.month < months[1])),
            part(DistrictDay, ((DistrictDay.day >= rng.first) & (DistrictDay.day < months[0]))
                 | ((DistrictDay.day >= months[1]) & (DistrictDay.day <= rng.last)))]


def _counted(session: Session, ranges: Sequence[DateRange], channels: Sequence[str]) -> list[dict[str, int]] | None:
    """Orders per district code of each range, from the counters in one statement (None when
    nothing was ever counted)."""
    moves = changes_since_cursor(session)
    if moves is None:
        return None
    chosen = list(channels)
    counts = [district_delta(moves, rng.first, rng.last, chosen) for rng in ranges]
    rows = union_all(*(p for i, rng in enumerate(ranges) for p in _parts(rng, chosen, i))).subquery()
    for period, code, n in session.execute(select(rows.c.period, rows.c.adcode, func.sum(rows.c.orders))
                                           .group_by(rows.c.period, rows.c.adcode)):
        table = counts[period]
        table[code] = table.get(code, 0) + int(n)
    return counts


def _from_orders(session: Session, rng: DateRange, channels: Sequence[str]) -> dict[str, int]:
    """Orders per district code read from the orders themselves (a store never counted)."""
    stmt = _where(select(Order.adcode, func.count().label("n")), rng, channels).group_by(Order.adcode)
    counted: dict[str, int] = {}
    for row in session.execute(stmt):
        counted[row.adcode or ""] = counted.get(row.adcode or "", 0) + int(row.n)
    return counted


def _placed(counted: dict[str, int]) -> tuple[dict[Centroid, int], int]:
    """Orders per known district centroid, and the orders with no usable district code."""
    known = centroids()
    counts: dict[Centroid, int] = {}
    unplaced = 0
    for code, n in counted.items():
        if not n:
            continue
        centroid = known.get(code)
        if centroid is None:
            unplaced += n
        else:
            counts[centroid] = counts.get(centroid, 0) + n
    return counts, unplaced


def per_district(session: Session, ranges: Sequence[DateRange], channels: Sequence[str]
                 ) -> list[tuple[dict[Centroid, int], int]]:
    """Per range: orders per known district centroid, and the orders with no usable district code."""
    counted = _counted(session, ranges, channels)
    if counted is None:  # never counted (a new store): the orders themselves
        counted = [_from_orders(session, r, channels) for r in ranges]
    return [_placed(c) for c in counted]


def geo_overview(session: Session, rng: DateRange, channels: Sequence[str], *, top: int = 10,
                 min_orders: int = 10, growth_limit: int = 20) -> dict[str, Any]:
    """The top ``top`` cells of the range and the growth of its districts against the period
    of the same length just before it."""
    before = rng.previous()
    (current, unplaced), (previous, _) = per_district(session, (rng, before), channels)
    placed = sum(current.values())
    cells = top_cells((DistrictCount(c, n) for c, n in current.items()), top)
    return {"range": rng.as_json(), "channels": list(channels), "grid_km": 3, "total": placed + unplaced,
            "placed": placed, "unplaced": unplaced, "grids": [g.as_json(placed) for g in cells],
            "growth": {"previous_range": before.as_json(), "min_orders": min_orders,
                       "districts": growth_rows(current, previous, min_orders=min_orders, limit=growth_limit)}}


def cell_detail(session: Session, cell_id: str, rng: DateRange, channels: Sequence[str], *, cursor: str | None,
                limit: int, combinations: int = 10) -> dict[str, Any]:
    """One cell: its districts and counts, the SKUs and SKU pairs its orders hold (share of the
    cell's orders, basis points) and the orders themselves, a page at a time."""
    codes = _codes_by_cell().get(cell_id)
    if codes is None:
        raise NotFound(f"no district centroid lies in grid cell {cell_id}", code="grid_not_found")
    known = centroids()
    counts = {known[r.adcode]: r.n for r in session.execute(
        _where(select(Order.adcode, func.count().label("n")), rng, channels)
        .where(Order.adcode.in_(codes)).group_by(Order.adcode))}
    cells = top_cells((DistrictCount(c, n) for c, n in counts.items()), 1)
    total = sum(counts.values())
    in_cell = _where(select(Order.id), rng, channels).where(Order.adcode.in_(codes)).scalar_subquery()
    skus = session.execute(
        select(OrderLine.sku_id, func.max(OrderLine.title).label("title"),
               func.count(func.distinct(OrderLine.order_pk)).label("n"))
        .where(OrderLine.order_pk.in_(in_cell), OrderLine.sku_id.is_not(None))
        .group_by(OrderLine.sku_id).order_by(func.count(func.distinct(OrderLine.order_pk)).desc(), OrderLine.sku_id)
        .limit(combinations)).all()
    a, b = aliased(OrderLine), aliased(OrderLine)
    pairs = session.execute(
        select(a.sku_id.label("first"), b.sku_id.label("second"), func.max(a.title).label("first_title"),
               func.max(b.title).label("second_title"), func.count(func.distinct(a.order_pk)).label("n"))
        .join(b, (b.order_pk == a.order_pk) & (b.sku_id > a.sku_id))
        .where(a.order_pk.in_(in_cell))
        .group_by(a.sku_id, b.sku_id)
        .order_by(func.count(func.distinct(a.order_pk)).desc(), a.sku_id, b.sku_id).limit(combinations)).all()
    orders = page_of_orders(session, _where(listed(), rng, channels).where(Order.adcode.in_(codes)), cursor=cursor,
                            limit=limit)
    grid = cells[0].as_json(total) if cells else {"id": cell_id, "orders": 0, "districts": []}
    return {"range": rng.as_json(), "channels": list(channels), "grid": grid, "orders_total": total,
            "skus": [{"sku_id": r.sku_id, "title": r.title, "orders": r.n, "share_bp": share_bp(r.n, total)}
                     for r in skus],
            "combinations": [{"skus": [r.first, r.second], "titles": [r.first_title, r.second_title], "orders": r.n,
                              "share_bp": share_bp(r.n, total)} for r in pairs],
            "orders": orders["items"], "next_cursor": orders["next_cursor"]}
