"""The demo's simulated warehouse: every minute it packs a few orders waiting for shipment and
ships them through the real ship use case (:func:`engine.orders.shipping.ship_order`, ``via``
``wms``, as the demo's warehouse user 仓储老李), with the couriers a Chinese shop uses and
tracking numbers in each courier's own format; the write-back then carries each tracking
number to the order's platform through the outbox, like any shipment.

It ships only what a warehouse could: orders 待发货 whose pipeline is done (reserved, not
held), oldest payment first, at most :attr:`DemoWarehouse.per_tick` a minute, each at least
:attr:`DemoWarehouse.pick_seconds` after it was paid (picking and packing take a while). An
order the ship use case refuses (cancelled meanwhile, …) is skipped and logged; nothing here
bypasses a rule of shipping.

Demo only: :func:`register_demo_jobs` adds it (and the console's story tail,
:mod:`engine.orders.console_tail`) to the demo's scheduler; ``serve`` and ``worker`` never
load it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, select

from engine.errors import ApiError
from engine.logs import get_logger
from engine.orders.carriers import find_carrier
from engine.orders.model import Order
from engine.orders.pipeline_model import OrderPipeline
from engine.orders.shipping import ShipRequest, ShipResult, ship_order

if TYPE_CHECKING:
    from engine.scheduler import JobRun, Scheduler
    from engine.services import Services

__all__ = ["COURIERS", "DEMO_WAREHOUSE_ACTOR", "DemoWarehouse", "register_demo_jobs", "tracking_number"]

log = get_logger(__name__)

DEMO_WAREHOUSE_ACTOR = "user:cangchu"  # 仓储老李, the demo's warehouse user
WAREHOUSE_JOB = "demo.warehouse"
CONSOLE_JOB = "demo.console"
WAREHOUSE_SECONDS = 60
CONSOLE_SECONDS = 1

# (our carrier code, share of parcels, tracking-number prefix, digits after it): the shares of
# a typical e-commerce warehouse, the numbers as each courier prints them on its waybill.
COURIERS: tuple[tuple[str, int, str, int], ...] = (
    ("ZTO", 30, "78", 12),
    ("YTO", 22, "YT", 13),
    ("YUNDA", 15, "43", 11),
    ("STO", 12, "77", 11),
    ("JT", 10, "JT", 13),
    ("SF", 8, "SF", 13),
    ("JD", 3, "JDVA", 11),
)

_O = cast(Table, Order.__table__)
_P = cast(Table, OrderPipeline.__table__)


def tracking_number(prefix: str, digits: int, rng: random.Random) -> str:
    """A waybill number of the courier's shape: ``prefix`` then ``digits`` digits."""
    return prefix + "".join(str(rng.randrange(10)) for _ in range(digits))


@dataclass
class DemoWarehouse:
    """Ships up to ``per_tick`` waiting orders each time :meth:`ship_due` runs."""

    services: Services
    per_tick: int = 4
    pick_seconds: int = 30
    seed: int = 20261111
    actor: str = DEMO_WAREHOUSE_ACTOR

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def waiting(self, now: datetime) -> list[int]:
        """The orders the warehouse would pack now (oldest payment first)."""
        picked_before = now - timedelta(seconds=self.pick_seconds)
        stmt = (select(_O.c.id).select_from(_O.join(_P, _P.c.order_pk == _O.c.id))
                .where(_O.c.status == "awaiting_shipment", _P.c.status == "done", _P.c.next_stage == "done",
                       _O.c.paid_at.is_not(None), _O.c.paid_at <= picked_before)
                .order_by(_O.c.paid_at, _O.c.id).limit(self.per_tick))
        with self.services.db.session() as session:
            return [int(pk) for pk in session.scalars(stmt)]

    def _request(self) -> ShipRequest:
        codes = [c for c, _, _, _ in COURIERS]
        code = self._rng.choices(codes, weights=[w for _, w, _, _ in COURIERS])[0]
        _, _, prefix, digits = next(c for c in COURIERS if c[0] == code)
        return ShipRequest(find_carrier(code), tracking_number(prefix, digits, self._rng), None)

    def ship_due(self, now: datetime | None = None) -> list[ShipResult]:
        """Pack and ship the orders due now; returns the shipments made."""
        now = now or self.services.clock.now()
        shipped: list[ShipResult] = []
        for pk in self.waiting(now):
            request = self._request()
            try:
                shipped.append(ship_order(self.services, pk, request, via="wms", actor=self.actor, now=now))
            except ApiError as exc:  # cancelled or changed meanwhile: the next tick looks again
                log.info("demo warehouse skipped an order", order_pk=pk, code=exc.code, reason=exc.message)
        return shipped


def register_demo_jobs(scheduler: Scheduler, *, warehouse: DemoWarehouse | None = None,
                       console: bool = True) -> DemoWarehouse:
    """Add the demo's warehouse (every minute) and, with ``console``, the console's story tail
    (every second) to ``scheduler``; returns the warehouse."""
    from engine.orders.console_tail import ConsoleTail, tail_job

    house = warehouse or DemoWarehouse(scheduler.services)

    def ship(run: JobRun) -> None:
        house.ship_due(run.now)

    scheduler.every(WAREHOUSE_JOB, WAREHOUSE_SECONDS, ship)
    if console:
        scheduler.every(CONSOLE_JOB, CONSOLE_SECONDS, tail_job(ConsoleTail(scheduler.services)), singleton=False)
    return house


def register_periodic_jobs(scheduler: Scheduler) -> Any:
    """The demo's jobs, for ``load_periodic_jobs(…, extra=["engine.orders.demo_warehouse"])``."""
    return register_demo_jobs(scheduler)
