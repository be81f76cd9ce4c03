"""Which e-waybill client serves which provider: 快递鸟 from its own credentials, each
marketplace's service on top of that platform's order client (its signing). The composition
root hands :func:`build_waybill_client` to the engine (``services.ports.waybill_clients``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors import kdniao
from connectors.outbound import MissingSetting
from connectors.platform_waybills import PLATFORM_WAYBILLS


def build_waybill_client(provider: str, order_client: Any, environ: Mapping[str, str],
                         clock: Callable[[], float]) -> Any:
    """The client for ``provider``, or None (no client here, or its credentials missing).
    Matches ``engine.ports.WaybillClientFactory``."""
    if provider == "kdniao":
        try:
            return kdniao.build(environ, clock)
        except MissingSetting:
            return None
    kind = PLATFORM_WAYBILLS.get(provider)
    if kind is None or order_client is None:
        return None
    return kind(order_client)
