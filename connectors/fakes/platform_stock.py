"""What the fake platform stock servers (天猫/淘宝, 拼多多, 抖店, 快手, 小红书, the mini-program
shop) share: a shop's catalogue of SKUs by merchant code, each with the quantity it shows (and,
on the platforms, the ids the fake gives it), and the test helpers that act on it the way
people on the platform do.

``add_sku(code, qty, item=…)`` creates platform ids (SKUs given the same ``item`` belong to one
item / goods / product; adding a code again re-creates its SKU, with a new SKU id on the same
item, as when the merchant deletes and publishes it again); ``shown(code)`` is what the shop
shows; ``sell(code, qty)`` is a buyer taking stock between two pushes; ``show(code, qty)`` is
the merchant editing the figure in the platform's console. ``page_size_cap`` makes listings
page at most that many rows whatever the request asks (to test paging). Signature checks and
JSON shapes are the subclasses' business.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.fakes.base import FakeServer

PlatformId = int | str


def int_param(params: Mapping[str, str], key: str, default: int | None,
              invalid: Callable[[str], Exception]) -> Any:
    """Form parameter ``key`` as a whole number, ``default`` when absent or empty; anything
    else raises ``invalid(key)`` (the platform's own refusal)."""
    raw = params.get(key)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise invalid(key) from None


@dataclass
class ShopSku:
    """One SKU of a fake shop: its merchant code and the quantity buyers can take from it."""

    code: str
    quantity: int

    @property
    def shown(self) -> int:
        return self.quantity


@dataclass
class CatalogueSku(ShopSku):
    """A SKU of a fake platform: ``item_id`` is num_iid / goods_id / product_id / kwaiItemId …;
    ``sku_id`` is None for a Taobao item without SKUs."""

    group: str = ""
    item_id: PlatformId = 0
    sku_id: PlatformId | None = None


class ShopCatalogueFake(FakeServer):
    """A fake shop's SKUs by merchant code with the test helpers; see the module docstring."""

    def __init__(self, *, page_size_cap: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.page_size_cap = page_size_cap
        self.catalogue: dict[str, Any] = {}  # code → ShopSku (or the subclass's own SKU type)

    # --- test helpers ------------------------------------------------------------------------

    def shown(self, code: str) -> int:
        """What buyers can take of ``code`` (the SKU's :attr:`ShopSku.shown`)."""
        with self._lock:
            return self.catalogue[code].shown

    def sell(self, code: str, qty: int) -> bool:
        """A buyer takes ``qty`` of what the SKU offers (False when it offers less)."""
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

    def page_size(self, asked: int) -> int:
        """The page size the fake applies: ``asked``, capped by :attr:`page_size_cap`, at least 1."""
        if self.page_size_cap is not None:
            asked = min(asked, self.page_size_cap)
        return max(1, asked)

    def page(self, rows: list[Any], page: int, size: int) -> list[Any]:
        """Rows of page ``page`` (from 1) at :meth:`page_size` of ``size`` rows."""
        size = self.page_size(size)
        start = (page - 1) * size
        return rows[start:start + size]


class StockCatalogueFake(ShopCatalogueFake):
    """A fake platform's shop for one app (``app_key``, ``app_secret``) authorised by
    ``access_token``. Subclasses set the id ranges (or :meth:`new_item_id` / :meth:`new_sku_id`)
    and :attr:`sku_type` when their SKUs carry more than :class:`CatalogueSku`."""

    item_id_base = 100_000_000
    sku_id_base = 200_000_000
    sku_type: type[CatalogueSku] = CatalogueSku

    def __init__(self, *, app_key: str, app_secret: str, access_token: str,
                 page_size_cap: int | None = None, **kwargs: Any) -> None:
        super().__init__(page_size_cap=page_size_cap, **kwargs)
        self.app_key = app_key
        self.app_secret = app_secret
        self.access_token = access_token
        self._item_ids: dict[str, PlatformId] = {}
        self._item_seq = itertools.count(1)
        self._sku_seq = itertools.count(1)

    def add_sku(self, code: str, qty: int, *, item: str | None = None) -> CatalogueSku:
        """A SKU with merchant code ``code`` showing ``qty`` (in item ``item``, default its own)."""
        return self._add(code, qty, item, with_sku=True)

    # --- for subclasses ----------------------------------------------------------------------

    def new_item_id(self, n: int) -> PlatformId:
        return self.item_id_base + n

    def new_sku_id(self, n: int) -> PlatformId:
        return self.sku_id_base + n

    def _add(self, code: str, qty: int, item: str | None, *, with_sku: bool, **details: Any) -> CatalogueSku:
        with self._lock:
            group = item or code
            if group not in self._item_ids:
                self._item_ids[group] = self.new_item_id(next(self._item_seq))
            sku_id = self.new_sku_id(next(self._sku_seq)) if with_sku else None
            sku = self.sku_type(code=code, quantity=qty, group=group, item_id=self._item_ids[group], sku_id=sku_id,
                                **details)
            self.catalogue[code] = sku
            return sku

    def items(self) -> list[tuple[PlatformId, list[CatalogueSku]]]:
        """(item id, its SKUs) in the order items were created (call with the lock held)."""
        grouped: dict[PlatformId, list[CatalogueSku]] = {}
        for sku in self.catalogue.values():
            grouped.setdefault(sku.item_id, []).append(sku)
        return list(grouped.items())

    def skus_of(self, item_id: Any) -> list[CatalogueSku]:
        return [s for s in self.catalogue.values() if s.item_id == item_id]

    def find(self, item_id: Any, sku_id: Any) -> CatalogueSku | None:
        """The SKU with these ids (compared as text), or None."""
        for sku in self.catalogue.values():
            same_sku = sku.sku_id is None if sku_id is None else str(sku.sku_id) == str(sku_id)
            if str(sku.item_id) == str(item_id) and same_sku:
                return sku
        return None
