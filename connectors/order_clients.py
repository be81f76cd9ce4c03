"""Which connector module pulls a platform's orders: the platform → order-client factory
table the composition root hands the engine (engine code imports no connector). A factory
takes the source's credentials (``app_key``, ``app_secret``, ``access_token``, ``shop`` and
the platform's extras) and the base URL override, and returns an
:class:`engine.orders.ports.PlatformOrderClient`."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from connectors import kuaishou_orders, miniprogram_orders, xiaohongshu_orders
from engine.orders.ports import PlatformOrderClient

OrderClientFactory = Callable[[Mapping[str, str | None], str | None], PlatformOrderClient]

ORDER_CLIENTS: dict[str, OrderClientFactory] = {
    "kuaishou": kuaishou_orders.build,
    "xiaohongshu": xiaohongshu_orders.build,
    "miniprogram": miniprogram_orders.build,
}
