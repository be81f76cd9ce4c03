"""Platform stock connectors follow the published ``source`` declarations: built with the
declared environment variables and pointed at the platform (here its fake, over signed
HTTP), rebuilt when the sources change, dropped when they go; a connector registered by hand
is left alone, and a source whose variables are missing gets none and a warning naming them."""

from __future__ import annotations

import json

import pytest

from connectors.fakes import FakeDouyinStock, FakePddStock
from connectors.pdd_stock import PddStockConnector
from engine.inventory.channels import channel_registry, register_stock_connector
from engine.inventory.sources import sync_source_connectors
from engine.rulesets import service as rulesets
from engine.services import Services
from tests.inventory.fake_channel import FakeChannel

PDD = '''source pdd "拼多多店" {
    platform pdd
    credentials env T_PDD_ID, env T_PDD_SECRET, env T_PDD_TOKEN
    pull stock every 90s
}
'''
DOUYIN = '''source douyin "抖店" {
    platform douyin
    credentials env T_DY_KEY, env T_DY_SECRET, env T_DY_TOKEN
}
'''


def publish(services: Services, content: str, *, first: bool) -> None:
    with services.db.transaction(immediate=True) as s:
        if first:
            rulesets.create_ruleset(s, name="shops", actor="ops", now=services.clock.now(), content=content)
        else:
            rulesets.put_draft(s, "shops", content=content, actor="ops", now=services.clock.now())
        rulesets.publish(s, "shops", actor="ops", now=services.clock.now())


@pytest.fixture
def pdd_shop(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with FakePddStock(app_key="pdd-id", app_secret="pdd-secret", access_token="pdd-token") as fake:
        monkeypatch.setenv("T_PDD_ID", "pdd-id")
        monkeypatch.setenv("T_PDD_SECRET", "pdd-secret")
        monkeypatch.setenv("T_PDD_TOKEN", "pdd-token")
        monkeypatch.setenv("ORDERPULSE_PDD_BASE_URL", fake.url)
        yield fake


def test_a_published_source_gets_a_connector_that_reaches_the_platform(services, pdd_shop) -> None:
    pdd_shop.add_sku("SCARF-SILK", 7)
    assert sync_source_connectors(services) == []
    publish(services, PDD, first=True)
    assert sync_source_connectors(services) == ["pdd"]
    connector = channel_registry(services).get("pdd")
    assert isinstance(connector, PddStockConnector)
    assert connector.fetch_stock() == {"SCARF-SILK": 7}
    connector.push_stock("SCARF-SILK", 4, 1)
    assert pdd_shop.shown("SCARF-SILK") == 4
    assert sync_source_connectors(services) == ["pdd"] and channel_registry(services).get("pdd") is connector


def test_missing_variables_build_nothing_and_say_which(services, pdd_shop, log_stream,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("T_PDD_TOKEN")
    publish(services, PDD + DOUYIN, first=True)
    assert sync_source_connectors(services) == []
    warnings = [json.loads(line) for line in log_stream.getvalue().splitlines()
                if "stock connector not built" in line]
    assert {(w["platform"], tuple(w["missing"])) for w in warnings} == {
        ("pdd", ("T_PDD_TOKEN",)), ("douyin", ("T_DY_KEY", "T_DY_SECRET", "T_DY_TOKEN"))}
    assert "pdd-secret" not in log_stream.getvalue()


def test_connectors_follow_the_published_sources_and_leave_hand_registered_ones(services, pdd_shop,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    mine = FakeChannel("taobao")
    register_stock_connector(services, mine)  # e.g. a plug-in's own connector
    publish(services, PDD, first=True)
    assert sync_source_connectors(services) == ["pdd"]
    with FakeDouyinStock(app_key="dy-key", app_secret="dy-secret", access_token="dy-token") as douyin:
        for name, value in (("T_DY_KEY", "dy-key"), ("T_DY_SECRET", "dy-secret"), ("T_DY_TOKEN", "dy-token"),
                            ("ORDERPULSE_DOUYIN_BASE_URL", douyin.url)):
            monkeypatch.setenv(name, value)
        douyin.add_sku("TEA-LJ-250", 3)
        publish(services, DOUYIN, first=False)  # pdd's source is gone, douyin's is new
        assert sync_source_connectors(services) == ["douyin"]
        registry = channel_registry(services)
        assert registry.get("pdd") is None and registry.get("taobao") is mine
        assert registry.get("douyin").fetch_stock() == {"TEA-LJ-250": 3}


def test_a_recent_check_stands_when_the_caller_allows_it(services, pdd_shop) -> None:
    assert sync_source_connectors(services) == []
    publish(services, PDD, first=True)
    assert sync_source_connectors(services, max_age=60) == []  # checked a moment ago: not yet
    assert sync_source_connectors(services) == ["pdd"]
