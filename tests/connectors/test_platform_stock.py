"""What every platform stock connector shares, over real HTTP against each fake: built
without a base URL, a connector follows ``ORDERPULSE_<PLATFORM>_BASE_URL`` (how the demo and
the source wiring point it at the fake platforms), and a base URL given to ``build`` wins over
the environment."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from connectors import (
    douyin_stock,
    kuaishou_stock,
    miniprogram_stock,
    pdd_stock,
    taobao_stock,
    xiaohongshu_stock,
)
from connectors.fakes.douyin_stock import FakeDouyinStock
from connectors.fakes.kuaishou_stock import FakeKuaishouStock
from connectors.fakes.miniprogram_stock import FakeMiniprogramStock
from connectors.fakes.pdd_stock import FakePddStock
from connectors.fakes.taobao_stock import FakeTaobaoStock
from connectors.fakes.xiaohongshu_stock import FakeXiaohongshuStock
from connectors.outbound import MissingSetting
from engine.inventory.channels import CHANNELS
from tests.connectors.stock_support import closed_url

KEY, SECRET, TOKEN = "app-key-0001", "app-secret-0001", "access-token-0001"
CREDENTIALS = {"app_key": KEY, "app_secret": SECRET, "access_token": TOKEN}
PLATFORMS: dict[str, tuple[ModuleType, Callable[[], Any]]] = {
    "taobao": (taobao_stock, lambda: FakeTaobaoStock(app_key=KEY, app_secret=SECRET, access_token=TOKEN)),
    "pdd": (pdd_stock, lambda: FakePddStock(app_key=KEY, app_secret=SECRET, access_token=TOKEN)),
    "douyin": (douyin_stock, lambda: FakeDouyinStock(app_key=KEY, app_secret=SECRET, access_token=TOKEN)),
    "kuaishou": (kuaishou_stock, lambda: FakeKuaishouStock(KEY, SECRET, TOKEN)),
    "xiaohongshu": (xiaohongshu_stock, lambda: FakeXiaohongshuStock(KEY, SECRET, TOKEN)),
    "miniprogram": (miniprogram_stock, lambda: FakeMiniprogramStock(KEY, SECRET)),
}


def test_every_channel_has_a_platform_module() -> None:
    assert sorted(PLATFORMS) == sorted(CHANNELS)


@pytest.mark.parametrize("channel", sorted(PLATFORMS))
def test_without_a_base_url_the_environment_points_the_connector_at_the_fake(
        channel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, make_fake = PLATFORMS[channel]
    with make_fake() as fake:
        fake.add_sku("SCARF-SILK", 3)
        monkeypatch.setenv(f"ORDERPULSE_{channel.upper()}_BASE_URL", fake.url)
        shop = module.build(channel, CREDENTIALS, None)
        shop.push_stock("SCARF-SILK", 7, 1)
        assert fake.shown("SCARF-SILK") == 7 and shop.fetch_stock() == {"SCARF-SILK": 7}
        assert shop.channel == channel and len(fake.messages) == 1


@pytest.mark.parametrize("channel", sorted(PLATFORMS))
def test_a_base_url_given_to_build_wins_over_the_environment(channel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module, make_fake = PLATFORMS[channel]
    with make_fake() as fake:
        fake.add_sku("SCARF-SILK", 3)
        monkeypatch.setenv(f"ORDERPULSE_{channel.upper()}_BASE_URL", closed_url())
        assert module.build(channel, CREDENTIALS, fake.url).fetch_stock() == {"SCARF-SILK": 3}


@pytest.mark.parametrize("channel", sorted(set(PLATFORMS) - {"miniprogram"}))
def test_without_either_the_platforms_own_gateway_is_used(channel: str) -> None:
    module, _ = PLATFORMS[channel]
    assert module.build(channel, CREDENTIALS, None).base_url == module.DEFAULT_BASE_URL


def test_the_mini_program_shop_has_no_public_gateway() -> None:
    with pytest.raises(MissingSetting, match="base_url"):
        miniprogram_stock.build("miniprogram", {"app_key": KEY, "app_secret": SECRET}, None)
