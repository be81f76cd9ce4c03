"""Fixtures of the shipping desk tests: the six platforms' fakes — the five marketplaces with
their e-waybill services on the same gateways — and a fake 快递鸟, all over real HTTP on the
test's clock; the environment pointing the published sources, Kdniao and the sender at them;
the write-back handler registered; and orders brought in with their stock reserved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.fakes import DEMO_SENDER, KDNIAO, PLATFORM_CREDENTIALS, FakeMiniprogramStock
from connectors.fakes.kdniao_waybill import FakeKdniao
from connectors.fakes.platform_waybills import WAYBILL_FAKES
from connectors.platform_stock import base_url_variable
from engine.orders.writeback import register_writeback_handler
from tests.builder.conftest import signed_in  # noqa: F401 - the fixture (the desk pages' tests)
from tests.orders_in.conftest import credentials, publish_sources
from tests.shipping.conftest import bring_in, dispatch, shipments, timeline_kinds

__all__ = ["SENDER", "bring_in", "dispatch", "shipments", "timeline_kinds"]

SENDER = DEMO_SENDER


def start_desk_fakes(now: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The fakes started and the environment set (caller stops them)."""
    fakes: dict[str, Any] = {channel: cls(now=now, **credentials(channel)).start()
                             for channel, cls in WAYBILL_FAKES.items()}
    fakes["miniprogram"] = FakeMiniprogramStock(now=now, **credentials("miniprogram")).start()
    fakes["kdniao"] = FakeKdniao(now=now, ebusiness_id=KDNIAO["KDNIAO_EBUSINESS_ID"],
                                 app_key=KDNIAO["KDNIAO_APP_KEY"]).start()
    for channel in PLATFORM_CREDENTIALS:
        monkeypatch.setenv(base_url_variable(channel), fakes[channel].url)
        for variable, value, _ in PLATFORM_CREDENTIALS[channel]:
            monkeypatch.setenv(variable, value)
    monkeypatch.setenv("ORDERPULSE_KDNIAO_BASE_URL", fakes["kdniao"].url)
    for variable, value in {**SENDER, **KDNIAO}.items():
        monkeypatch.setenv(variable, value)
    return fakes


@pytest.fixture
def desk(services: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The fakes by channel (and ``kdniao``), the sources published, write-backs handled."""
    fakes = start_desk_fakes(lambda: services.clock.now().timestamp(), monkeypatch)
    publish_sources(services)
    register_writeback_handler(services)
    yield fakes
    for fake in fakes.values():
        fake.stop()
