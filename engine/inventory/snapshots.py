"""Channel stock snapshots: a single-instance puller per channel stores what each platform
reports and raises a drift alert when a platform shows more than is available; those SKUs
get a forced push of the current figure (see ``engine.inventory.push``).

The puller holds a Redis lock (with a timeout) and a fencing token; its SQL write goes through
:func:`check_fence`, so a puller that paused past its lease cannot overwrite a newer snapshot.
Without Redis, or while it is unreachable, the token comes from SQL (the scheduler's lease
keeps the tick single-instance; the fence still refuses a stale write).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from redis.exceptions import RedisError
from sqlalchemy import select

from engine.inventory.fencing import (
    check_fence,
    newest_token,
    single_instance,
    sql_token,
)
from engine.inventory.models import ChannelSnapshot, StockItem
from engine.inventory.push import queue_channel_pushes
from engine.inventory.service import InventoryService
from engine.inventory.sql_store import available_of
from engine.logs import get_logger

log = get_logger(__name__)

PULL_EVERY_SECONDS = 90


@dataclass
class PullReport:
    channel: str
    ran: bool
    token: int = 0
    stored: int = 0
    drift: list[dict[str, int | str]] = field(default_factory=list)
    refused: str = ""


def job_name(channel: str) -> str:
    return f"inventory.pull.{channel}"


def pull_snapshot(inventory: InventoryService, channel: str, fetch: Callable[[], dict[str, int]], *,
                  lease_seconds: float = PULL_EVERY_SECONDS) -> PullReport:
    """Fetch ``{sku: reported_stock}`` from the channel and store it, fenced."""
    name = job_name(channel)
    gate = inventory.gate
    if gate is not None:
        entered = False
        try:
            with single_instance(gate.client, gate.lock_key(name), gate.fence_key(name), name,
                                 lease_seconds=lease_seconds, floor=newest_token(inventory.db, name)) as run:
                entered = True
                if run is None:
                    return PullReport(channel, ran=False, refused="locked")
                return _store(inventory, channel, run.token, fetch())
        except RedisError as exc:
            if entered:
                raise
            log.warning("stock puller: Redis unreachable, fencing through SQL", channel=channel, error=str(exc))
    token = sql_token(inventory.db, name, inventory.clock.now())
    return _store(inventory, channel, token, fetch())


def _store(inventory: InventoryService, channel: str, token: int, reported: dict[str, int]) -> PullReport:
    report = PullReport(channel, ran=True, token=token)
    now = inventory.clock.now()
    with inventory.db.transaction(immediate=True) as s:
        check_fence(s, job_name(channel), token, now)  # raises StaleFence: nothing below is written
        existing = {r.sku_id: r for r in s.scalars(select(ChannelSnapshot).where(ChannelSnapshot.channel == channel))}
        stock = {r.sku_id: r for r in s.scalars(select(StockItem).where(StockItem.sku_id.in_(list(reported))))}
        for sku, qty in sorted(reported.items()):
            item = stock.get(sku)
            avail = 0 if item is None else available_of(item.total_stock, item.reserved_stock, item.safety_stock)
            row = existing.get(sku)
            if row is None:
                s.add(ChannelSnapshot(channel=channel, sku_id=sku, reported_stock=qty, available_at_pull=avail,
                                      fence_token=token, pulled_at=now))
            else:
                row.reported_stock, row.available_at_pull, row.fence_token, row.pulled_at = qty, avail, token, now
            if qty > avail:
                report.drift.append({"sku_id": sku, "reported": qty, "available": avail})
            report.stored += 1
        if report.drift:  # show the platform the current figure again, even if it was pushed before
            queue_channel_pushes(s, [channel], [str(d["sku_id"]) for d in report.drift if d["sku_id"] in stock],
                                 now, force=True)
    if report.drift:
        inventory.raise_alert("channel_shows_more_than_available", {"channel": channel, "skus": report.drift[:50]})
    return report


def snapshots_of(inventory: InventoryService, channel: str) -> dict[str, tuple[int, int]]:
    """``{sku: (reported_stock, fence_token)}`` as stored for the channel."""
    with inventory.db.session() as s:
        return {r.sku_id: (r.reported_stock, r.fence_token)
                for r in s.scalars(select(ChannelSnapshot).where(ChannelSnapshot.channel == channel))}
