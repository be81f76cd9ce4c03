"""The one carrier × platform table: every courier has a code on each of the six platforms, no
two couriers share a code on one platform, and people's names for a courier find it."""

from __future__ import annotations

import pytest

from engine.orders.carriers import UnknownCarrier, carriers, find_carrier
from engine.orders.document import CHANNELS

MAIN = ("顺丰", "中通", "圆通", "韵达", "申通", "极兔", "京东", "EMS", "邮政", "德邦")


def test_every_main_courier_has_a_code_on_every_platform_and_none_is_shared() -> None:
    found = [find_carrier(name) for name in MAIN]
    assert len({c.code for c in found}) == 10
    for platform in CHANNELS:
        codes = [c.code_for(platform) for c in carriers()]
        assert len(set(codes)) == len(codes), platform


@pytest.mark.parametrize(("name", "platform", "code"), [
    ("顺丰", "pdd", 44), ("sf", "taobao", "SF"), ("韵达快递", "kuaishou", 11), ("YD", "miniprogram", "YD"),
    ("极兔", "douyin", "jtexpress"), ("德邦", "kuaishou", 53), ("邮政", "xiaohongshu", "youzhengguonei"),
])
def test_a_courier_named_as_people_name_it_maps_to_the_platforms_code(name: str, platform: str, code: object) -> None:
    assert find_carrier(name).code_for(platform) == code


def test_an_unknown_courier_or_platform_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UnknownCarrier) as refused:
        find_carrier("顺风")
    assert "SF 顺丰速运" in refused.value.known
    with pytest.raises(UnknownCarrier):
        find_carrier("SF").code_for("amazon")
