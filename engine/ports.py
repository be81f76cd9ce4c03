"""The seams the composition root fills with connectors: one field per seam, typed by the port
its area declares (``engine/<area>/ports.py`` or the area's protocol).

:meth:`engine.services.Services.build` fills them from ``connectors.wiring.default_ports``;
tests and plug-ins may replace an entry. The engine's areas read them as ``services.ports.<seam>``
and never import ``connectors``. A new area adds one field here, typed by its own port.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.inventory.channels import StockConnectorFactory
    from engine.orders.ports import PlatformOrderClient
    from engine.workflow.ports import CallbackCryptoFactory


# platform, credentials (app_key, app_secret, access_token … by name), the clock requests are
# signed with (unix seconds) → the platform's order client, or None for a platform without one
OrderClientFactory = Callable[[str, Mapping[str, str], Callable[[], float]], "PlatformOrderClient | None"]
# provider (kdniao | a platform), that platform's order client (its signing; None for kdniao), the
# environment (Kdniao's credentials), the clock (unix seconds) -> an e-waybill client
# (engine.waybills.ports.WaybillClient), or None when the provider has none here
WaybillClientFactory = Callable[[str, Any, Mapping[str, str], Callable[[], float]], Any]


@dataclass
class ConnectorPorts:
    """What the composition root hands the engine from ``connectors/``, by seam."""

    # platform -> factory of its stock connector (engine.inventory.sources builds them from sources)
    stock_connectors: dict[str, StockConnectorFactory] = field(default_factory=dict)
    # hook type -> factory of its callback crypto (engine.workflow.webhooks)
    callback_crypto: dict[str, CallbackCryptoFactory] = field(default_factory=dict)
    # platform, credentials, clock -> its order client (engine.orders.sources builds them from sources)
    order_clients: OrderClientFactory | None = None
    # provider, order client, environment, clock -> its e-waybill client (engine.waybills.service asks)
    waybill_clients: WaybillClientFactory | None = None
