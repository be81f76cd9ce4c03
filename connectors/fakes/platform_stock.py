"""What the fake platform stock servers (天猫/淘宝, 拼多多, 抖店) share: a shop's catalogue of SKUs
by merchant code, each with the platform ids the fake gives it and the quantity it shows, and
the test helpers that act on it the way people on the platform do.

``add_sku(code, qty, item=…)`` creates platform ids (SKUs given the same ``item`` belong to one
item / goods / product); ``shown(code)`` is what the shop shows; ``sell(code, qty)`` is a buyer
taking stock between two pushes; ``show(code, qty)`` is the merchant editing the figure in the
platform's console. ``page_size_cap`` makes listings page at most that many rows whatever the
request asks (to test paging). Signature checks and JSON shapes are the subclasses' business.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from connectors.fakes.base import FakeServer


@dataclass
class CatalogueSku:
    """One SKU of the fake shop: ``item_id`` is num_iid / goods_id / product_id; ``sku_id`` is
    None for a Taobao item without SKUs."""

    code: str
    group: str
    item_id: int
    sku_id: int | None
    quantity: int


class StockCatalogueFake(FakeServer):
    """Base class; see the module docstring. Subclasses set the id ranges."""

    item_id_base = 100_000_000
    sku_id_base = 200_000_000

    def __init__(self, *, app_key: str, app_secret: str, access_token: str,
                 page_size_cap: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_key = app_key
        self.app_secret = app_secret
        self.access_token = access_token
        self.page_size_cap = page_size_cap
        self.catalogue: dict[str, CatalogueSku] = {}
        self._item_ids: dict[str, int] = {}
        self._item_seq = itertools.count(1)
        self._sku_seq = itertools.count(1)

    # --- test helpers ------------------------------------------------------------------------

    def add_sku(self, code: str, qty: int, *, item: str | None = None) -> CatalogueSku:
        """A new SKU with merchant code ``code`` showing ``qty`` (in item ``item``, default its own)."""
        return self._add(code, qty, item, with_sku=True)

    def shown(self, code: str) -> int:
        with self._lock:
            return self.catalogue[code].quantity

    def sell(self, code: str, qty: int) -> bool:
        """A buyer takes ``qty`` of what the shop shows (False when it shows less)."""
        with self._lock:
            sku = self.catalogue[code]
            if sku.quantity < qty:
                return False
            sku.quantity -= qty
            return True

    def show(self, code: str, qty: int) -> None:
        """The merchant sets the figure in the platform's console."""
        with self._lock:
            self.catalogue[code].quantity = qty

    # --- for subclasses ----------------------------------------------------------------------

    def _add(self, code: str, qty: int, item: str | None, *, with_sku: bool) -> CatalogueSku:
        with self._lock:
            if code in self.catalogue:
                raise ValueError(f"merchant code {code!r} already in the fake catalogue")
            group = item or code
            if group not in self._item_ids:
                self._item_ids[group] = self.item_id_base + next(self._item_seq)
            sku_id = self.sku_id_base + next(self._sku_seq) if with_sku else None
            sku = CatalogueSku(code, group, self._item_ids[group], sku_id, qty)
            self.catalogue[code] = sku
            return sku

    def items(self) -> list[tuple[int, list[CatalogueSku]]]:
        """(item id, its SKUs) in the order items were created (call with the lock held)."""
        grouped: dict[int, list[CatalogueSku]] = {}
        for sku in self.catalogue.values():
            grouped.setdefault(sku.item_id, []).append(sku)
        return list(grouped.items())

    def skus_of(self, item_id: int) -> list[CatalogueSku]:
        return [s for s in self.catalogue.values() if s.item_id == item_id]

    def page(self, rows: list[Any], page: int, size: int) -> list[Any]:
        """Rows of page ``page`` (from 1) at ``size`` rows, capped by :attr:`page_size_cap`."""
        if self.page_size_cap is not None:
            size = min(size, self.page_size_cap)
        start = (page - 1) * size
        return rows[start:start + size]

    def find(self, item_id: Any, sku_id: Any) -> CatalogueSku | None:
        for sku in self.catalogue.values():
            same_sku = sku.sku_id is None if sku_id is None else str(sku.sku_id) == str(sku_id)
            if str(sku.item_id) == str(item_id) and same_sku:
                return sku
        return None
