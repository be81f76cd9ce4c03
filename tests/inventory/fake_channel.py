"""An in-memory sales channel for the tests of the push relay and the snapshot puller: it
shows what was pushed, remembers every push with its version (which no real platform takes),
notes any push older than one it already showed, and can sell from what it shows (as a
platform does between two pushes) or fail its next pushes. The platforms' real HTTP
connectors and their fakes live in connectors/.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Push:
    sku_id: str
    available: int
    version: int


class FakeChannel:
    """Implements :class:`engine.inventory.channels.StockConnector`."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.shown: dict[str, int] = {}
        self.versions: dict[str, int] = {}
        self.pushes: list[Push] = []
        self.backwards: list[Push] = []
        self.fail_next = 0
        self._lock = threading.Lock()

    def push_stock(self, sku_id: str, available: int, version: int) -> None:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                raise ConnectionError(f"{self.channel}: stock API unreachable")
            push = Push(sku_id, available, version)
            if version < self.versions.get(sku_id, 0):
                self.backwards.append(push)
            self.pushes.append(push)
            self.shown[sku_id] = available
            self.versions[sku_id] = max(version, self.versions.get(sku_id, 0))

    def fetch_stock(self) -> dict[str, int]:
        with self._lock:
            return dict(self.shown)

    def sell(self, sku_id: str, qty: int) -> bool:
        """A buyer takes ``qty`` of what the platform shows (False when it shows less)."""
        with self._lock:
            if self.shown.get(sku_id, 0) < qty:
                return False
            self.shown[sku_id] -= qty
            return True

    def show(self, sku_id: str, qty: int) -> None:
        """The platform's own figure changes (a merchant edit in the platform's console)."""
        with self._lock:
            self.shown[sku_id] = qty
