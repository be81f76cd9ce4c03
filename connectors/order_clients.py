"""Which order client serves which platform: the table the composition root hands the engine
(``Services.order_clients``), so that ``engine/`` never imports a connector.

:func:`build_order_client` builds the client a published ``source`` declares, from the
credentials read from the environment (``app_key``, ``app_secret``, then ``access_token`` …
in declared order); ``ORDERPULSE_<PLATFORM>_BASE_URL`` redirects the platform's gateway
(tests, demo). A platform without an entry has no order API here (None).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from connectors import (
    douyin_orders,
    kuaishou_orders,
    miniprogram_orders,
    pdd_orders,
    taobao_orders,
    xiaohongshu_orders,
)
from engine.orders.ports import PlatformOrderClient

# (platform, credentials, clock for request timestamps in unix seconds) → client
OrderClientBuilder = Callable[[str, Mapping[str, str], Callable[[], float]], PlatformOrderClient]

ORDER_CLIENTS: dict[str, OrderClientBuilder] = {
    "taobao": taobao_orders.build,
    "pdd": pdd_orders.build,
    "douyin": douyin_orders.build,
    "kuaishou": kuaishou_orders.build,
    "xiaohongshu": xiaohongshu_orders.build,
    "miniprogram": miniprogram_orders.build,
}


def build_order_client(platform: str, credentials: Mapping[str, str],
                       clock: Callable[[], float] = time.time) -> PlatformOrderClient | None:
    """The order client of ``platform`` with these credentials, signing with ``clock``, or
    None for a platform with no order client; a missing credential raises
    ``connectors.outbound.MissingSetting``. Matches ``engine.services.OrderClientFactory``."""
    builder = ORDER_CLIENTS.get(platform)
    return builder(platform, credentials, clock) if builder else None
