"""The fake platforms' scenario knob for the demo's 价格异常: a coupon entered wrong on one
platform (满300减50 as 满30减50, stackable) takes ¥50 more off every order that reaches ¥30,
and nothing else of the seeded history changes."""

from __future__ import annotations

from connectors.fakes import FakeCounterparts
from connectors.fakes.order_scenario import MisconfiguredCoupon, OrderScenario


def _scenario() -> OrderScenario:
    return OrderScenario(seed=7, now=lambda: 1_764_720_000.0)


def test_the_coupon_stacks_on_orders_reaching_its_threshold_and_draws_no_random_numbers() -> None:
    plain, wrong = _scenario(), _scenario()
    wrong.misconfigure_coupon()
    a = plain.create([("TSHIRT-W-M", 2)], freight=0, platform_discount=0, seller_discount=1000)
    b = wrong.create([("TSHIRT-W-M", 2)], freight=0, platform_discount=0, seller_discount=1000)
    assert (a.seller_discount, a.paid_amount) == (1000, 16980)
    assert (b.seller_discount, b.paid_amount) == (6000, 11980)
    assert [ln.discount for ln in b.lines] == [6000]
    assert b.buyer == a.buyer  # the same draws: the rest of the history is the same
    small = wrong.create([("CHEAP", 1)], freight=0, platform_discount=0, seller_discount=0)
    assert small.goods_amount == 9900 and small.seller_discount == 5000  # unknown codes cost ¥99
    wrong.misconfigure_coupon(MisconfiguredCoupon(threshold=20000, amount=1000))
    assert wrong.create([("TSHIRT-W-M", 1)], platform_discount=0, seller_discount=0).seller_discount == 0
    wrong.misconfigure_coupon(None)
    assert wrong.create([("SCARF-SILK", 1)], platform_discount=0, seller_discount=0).seller_discount == 0


def test_the_coupon_never_takes_more_than_the_goods_hold() -> None:
    scenario = _scenario()
    scenario.misconfigure_coupon(MisconfiguredCoupon(threshold=0, amount=100000))
    order = scenario.create([("TSHIRT-W-M", 1)], freight=600, platform_discount=990, seller_discount=0)
    assert (order.seller_discount, order.paid_amount) == (8000, 600)


def test_producing_orders_sets_it_on_the_one_platform_named() -> None:
    fakes = FakeCounterparts()
    try:
        fakes.start()
        fakes.produce_orders(0.0001, misconfigured_coupon_on="pdd")
        wrong = {channel: fake.scenario.misconfigured_coupon for channel, fake in fakes.platforms.items()}
    finally:
        fakes.stop()
    assert wrong == {"douyin": None, "taobao": None, "pdd": MisconfiguredCoupon(), "kuaishou": None,
                     "xiaohongshu": None, "miniprogram": None}
