"""Sales channels' side of stock: the connectors that push a figure to a platform or read what
it shows, the per-channel quota and buffer, and the figure each channel is shown.

A channel is shown ``min(quota, available - buffer)`` (never below 0; no quota: no cap), where
``available = total - reserved - safety``; so a published figure never exceeds what is free
(I10). Quotas and buffers are rows of ``inventory_channel_settings``: ``sku_id = '*'`` is the
channel's default, a SKU row's non-null fields override it; they are declared through
``PUT /stock/{sku}/channels/{channel}``. They
shape what channels are *shown*; reservations themselves are decided on ``available`` alone
(an order a platform has already taken is not refused because of a display buffer).

Connectors register per process: the platforms' HTTP connectors are built from the published
``source`` declarations (``engine.inventory.sources``); tests and plug-ins may register their
own with :func:`register_stock_connector`. The push relay and the snapshot pullers use
whatever is registered.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from engine.errors import Unprocessable
from engine.inventory.models import ChannelSetting
from engine.values import MAX_STOCK, int_problem

if TYPE_CHECKING:
    from engine.services import Services

CHANNELS = ("douyin", "taobao", "pdd", "kuaishou", "xiaohongshu", "miniprogram")
CHANNEL_LABELS = {"douyin": "抖音", "taobao": "天猫", "pdd": "拼多多", "kuaishou": "快手",
                  "xiaohongshu": "小红书", "miniprogram": "小程序"}
ALL_SKUS = "*"
_SKU_RE = re.compile(r"^[^\s/]{1,64}$")


class StockConnector(Protocol):
    """One platform's stock API as the engine needs it."""

    channel: str

    def push_stock(self, sku_id: str, available: int, version: int) -> None:
        """Show ``available`` for the SKU; ``version`` only grows for a SKU (raise to retry)."""

    def fetch_stock(self) -> dict[str, int]:
        """What the platform currently shows, ``{sku_id: qty}``."""


# (channel, credentials by CREDENTIAL_KEYS name, environment) -> the platform's connector; the
# composition root hands one per platform in ``Services.ports.stock_connectors``.
StockConnectorFactory = Callable[[str, Mapping[str, str], Mapping[str, str]], StockConnector]


class ChannelRegistry:
    """The stock connectors of this process, by channel."""

    def __init__(self) -> None:
        self._by_channel: dict[str, StockConnector] = {}

    def register(self, connector: StockConnector) -> None:
        self._by_channel[connector.channel] = connector

    def unregister(self, channel: str) -> None:
        self._by_channel.pop(channel, None)

    def get(self, channel: str) -> StockConnector | None:
        return self._by_channel.get(channel)

    def channels(self) -> list[str]:
        return sorted(self._by_channel)


def channel_registry(services: Services) -> ChannelRegistry:
    """The process's registry (``Services.stock_channels``)."""
    return services.stock_channels


def register_stock_connector(services: Services, connector: StockConnector) -> None:
    channel_registry(services).register(connector)


@dataclass(frozen=True)
class ChannelRule:
    quota: int | None = None
    buffer: int = 0


def channel_figure(available: int, rule: ChannelRule) -> int:
    """What a channel is shown of ``available`` units under its rule."""
    figure = max(0, available - rule.buffer)
    return figure if rule.quota is None else min(figure, rule.quota)


def rules_for(session: Session, channel: str, skus: list[str]) -> dict[str, ChannelRule]:
    """Each SKU's rule at ``channel``: its own row over the channel default over no rule."""
    rows = {r.sku_id: r for r in session.scalars(
        select(ChannelSetting).where(ChannelSetting.channel == channel,
                                     ChannelSetting.sku_id.in_([*skus, ALL_SKUS])))}
    default = rows.get(ALL_SKUS)
    return {sku: _rule(rows.get(sku), default) for sku in skus}


def _rule(own: ChannelSetting | None, default: ChannelSetting | None) -> ChannelRule:
    """A SKU's rule: its own row's non-null fields over the channel default over no rule."""
    base_quota = default.quota if default is not None else None
    base_buffer = default.buffer if default is not None and default.buffer is not None else 0
    return ChannelRule(own.quota if own is not None and own.quota is not None else base_quota,
                       own.buffer if own is not None and own.buffer is not None else base_buffer)


def rules_of_sku(session: Session, sku_id: str) -> tuple[dict[str, ChannelRule], set[str]]:
    """The SKU's rule at every channel (unlisted channels: no rule) and the channels that
    declare one for it or for every SKU — one read, as :func:`rules_for` decides each."""
    rows = {(r.channel, r.sku_id): r for r in session.scalars(
        select(ChannelSetting).where(ChannelSetting.sku_id.in_([sku_id, ALL_SKUS])))}
    declared = {channel for channel, _ in rows}
    return {c: _rule(rows.get((c, sku_id)), rows.get((c, ALL_SKUS))) for c in declared}, declared


def validate_setting(channel: str, sku_id: str, quota: Any, buffer: Any) -> None:
    problems = []
    if channel not in CHANNELS:
        problems.append({"path": "/channel", "message": f"unknown channel; one of {', '.join(CHANNELS)}"})
    if not _SKU_RE.match(sku_id):
        problems.append({"path": "/sku_id", "message": "1–64 characters, no spaces or slashes ('*': every SKU)"})
    for name, value in (("quota", quota), ("buffer", buffer)):
        if value is not None and int_problem(value, 0, MAX_STOCK) is not None:
            problems.append({"path": f"/{name}", "message": f"a whole number from 0 to {MAX_STOCK}, or null"})
    if problems:
        raise Unprocessable("channel setting is invalid", details=problems)


def upsert_setting(session: Session, channel: str, sku_id: str, quota: int | None, buffer: int | None,
                   *, actor: str, now: datetime) -> dict[str, Any]:
    """Create or replace the (channel, SKU) setting; returns it as stored."""
    validate_setting(channel, sku_id, quota, buffer)
    ins = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = ins(ChannelSetting).values(channel=channel, sku_id=sku_id, quota=quota, buffer=buffer,
                                      updated_at=now, updated_by=actor)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["channel", "sku_id"],
        set_={"quota": stmt.excluded.quota, "buffer": stmt.excluded.buffer,
              "updated_at": stmt.excluded.updated_at, "updated_by": stmt.excluded.updated_by}))
    return {"channel": channel, "sku_id": sku_id, "quota": quota, "buffer": buffer,
            "updated_at": now.isoformat(), "updated_by": actor}
