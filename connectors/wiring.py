"""What ``connectors/`` offers the composition root: the default outbox handlers, a stock
connector factory per platform and the callback crypto per hook type.

:meth:`engine.services.Services.build` calls :func:`default_ports` and
:func:`connectors.handlers.register_defaults`; nothing in the engine's areas imports this module
(or any connector). A new counterpart adds its entry here and nowhere in ``engine/``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from connectors.dingtalk import DingTalkCrypto
from connectors.order_clients import build_order_client
from connectors.platform_stock import base_url_variable
from connectors.waybill_clients import build_waybill_client
from engine.inventory.channels import CHANNELS
from engine.ports import ConnectorPorts

if TYPE_CHECKING:
    from engine.inventory.channels import StockConnector, StockConnectorFactory


def _stock_factory(platform: str) -> StockConnectorFactory:
    module_name = f"connectors.{platform}_stock"

    def build(channel: str, credentials: Mapping[str, str], environ: Mapping[str, str]) -> StockConnector:
        module = importlib.import_module(module_name)  # imported when a source declares the platform
        connector: StockConnector = module.build(channel, credentials, environ.get(base_url_variable(channel)) or None)
        return connector

    return build


def default_ports() -> ConnectorPorts:
    """The connectors the engine is handed by default (tests and plug-ins may replace entries)."""

    return ConnectorPorts(
        stock_connectors={platform: _stock_factory(platform) for platform in CHANNELS},
        callback_crypto={"dingtalk_approval": DingTalkCrypto},
        order_clients=build_order_client,
        waybill_clients=build_waybill_client,
    )
