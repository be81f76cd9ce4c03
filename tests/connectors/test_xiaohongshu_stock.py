"""Xiaohongshu stock connector over real HTTP against the fake shop: our figure becomes what
buyers can take although the platform's ``qty`` is the SKU's total (unpaid holds and channel
allocations included), the listing is paged and mapped by erpCode, refusals carry the
platform's code without the secret, and the signature matches a hand-computed vector."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors import xiaohongshu_stock
from connectors.fakes.xiaohongshu_stock import API_PATH, FakeXiaohongshuStock
from connectors.outbound import ConnectorError, MissingSetting
from connectors.xiaohongshu_stock import (
    SkuStock,
    XiaohongshuStockConnector,
    build,
    sign,
)
from tests.connectors.stock_support import closed_url

APP_ID, SECRET, TOKEN = "21d6a1b2748be8de0", "429aa3aee9ef9e4a858210", "token-67aba019fbb44eb9a9e6f2f4022799aa"


@pytest.fixture
def shop() -> Iterator[FakeXiaohongshuStock]:
    with FakeXiaohongshuStock(APP_ID, SECRET, TOKEN) as fake:
        fake.add_sku("LIP-01", 10, occupied=3, channel=2, activity=1)
        fake.add_sku("LIP-02", 4)
        yield fake  # type: ignore[misc]


def connector(fake: FakeXiaohongshuStock, secret: str = SECRET, token: str = TOKEN) -> XiaohongshuStockConnector:
    return build("xiaohongshu", {"app_key": APP_ID, "app_secret": secret, "access_token": token}, fake.url)


def test_sign_vector_computed_by_hand() -> None:
    assert sign("order.getOrderDetail", "app", 1700000000, "secret") == "4fc0496aa410b3206eeb310d9a8c4a2c"
    assert sign("order.getOrderDetail", "app", "1700000000", "secret", "2.0") == "4fc0496aa410b3206eeb310d9a8c4a2c"


def test_the_access_token_and_business_fields_are_not_signed() -> None:
    xhs = XiaohongshuStockConnector(app_key="app", app_secret="secret", access_token="tok", clock=lambda: 1700000000.9)
    body = xhs.signed_body("order.getOrderDetail", {"orderId": "P1"})
    assert body["sign"] == "4fc0496aa410b3206eeb310d9a8c4a2c"
    assert body["timestamp"] == "1700000000" and body["orderId"] == "P1" and body["accessToken"] == "tok"


def test_push_maps_our_figure_onto_the_total_qty_then_fetch(shop: FakeXiaohongshuStock) -> None:
    xhs = connector(shop)
    assert xhs.fetch_stock() == {"LIP-01": 13, "LIP-02": 4}  # 10 on the SKU + 2 channel + 1 activity
    xhs.push_stock("LIP-01", 20, 1)
    # total 16 = 10 available + 3 unpaid + 2 channel + 1 activity; the SKU itself must offer 17
    assert shop.messages == [{"code": "LIP-01", "skuId": shop.catalogue["LIP-01"].sku_id, "qty": 23,
                              "available": 17}]
    assert shop.shown("LIP-01") == 20 and shop.catalogue["LIP-01"].occupied == 3
    xhs.push_stock("LIP-02", 0, 1)
    assert xhs.fetch_stock() == {"LIP-01": 20, "LIP-02": 0}
    assert {r.path for r in shop.requests} == {API_PATH}


def test_a_figure_below_the_channel_allocations_empties_the_sku_itself(shop: FakeXiaohongshuStock) -> None:
    connector(shop).push_stock("LIP-01", 2, 1)
    assert shop.catalogue["LIP-01"].available == 0 and shop.shown("LIP-01") == 3


def test_repeated_push_sends_nothing_and_sales_and_holds_are_accounted(shop: FakeXiaohongshuStock) -> None:
    xhs = connector(shop)
    xhs.push_stock("LIP-02", 9, 3)
    xhs.push_stock("LIP-02", 9, 3)  # a retry after a lost answer
    assert len(shop.messages) == 1 and shop.shown("LIP-02") == 9
    assert shop.sell("LIP-02", 2)
    shop.hold_unpaid("LIP-02", 1)
    xhs.push_stock("LIP-02", 5, 4)
    assert shop.shown("LIP-02") == 5 and shop.catalogue["LIP-02"].occupied == 1
    assert shop.messages[-1]["qty"] == 6


def test_wrong_secret_is_refused_with_the_platform_code_and_no_secret(shop: FakeXiaohongshuStock) -> None:
    with pytest.raises(ConnectorError, match="Xiaohongshu: product.getDetailSkuList: error_code -1: 签名校验失败") \
            as info:
        connector(shop, secret="stolen-secret-xhs").push_stock("LIP-01", 1, 1)
    assert info.value.code == -1 and info.value.permanent
    assert "stolen-secret-xhs" not in str(info.value) and TOKEN not in str(info.value)
    with pytest.raises(ConnectorError, match="accessToken 无效"):
        connector(shop, token="old-token").fetch_stock()
    assert shop.messages == []


def test_unknown_merchant_code_lists_once_more_then_is_permanent(shop: FakeXiaohongshuStock) -> None:
    xhs = connector(shop)
    xhs.fetch_stock()
    shop.add_sku("NEW-9", 0)
    xhs.push_stock("NEW-9", 7, 1)
    assert shop.shown("NEW-9") == 7

    def listings() -> int:
        return sum((r.json or {}).get("method") == "product.getDetailSkuList" for r in shop.requests)

    before = listings()
    with pytest.raises(ConnectorError, match="GHOST: unknown merchant code") as info:
        xhs.push_stock("GHOST", 1, 1)
    assert info.value.permanent and listings() == before + 1


def test_listing_is_read_page_by_page() -> None:
    with FakeXiaohongshuStock(APP_ID, SECRET, TOKEN, page_limit=2) as fake:
        for n in range(5):
            fake.add_sku(f"SKU-{n}", n)
        assert connector(fake).fetch_stock() == {f"SKU-{n}": n for n in range(5)}
        pages = [r.json["pageNo"] for r in fake.requests if r.json["method"] == "product.getDetailSkuList"]
        assert pages == [1, 2, 3]


def test_http_500_and_unreachable_gateway_are_retryable(shop: FakeXiaohongshuStock) -> None:
    shop.fail_next(1, status=500)
    with pytest.raises(ConnectorError, match="HTTP 500") as info:
        connector(shop).fetch_stock()
    assert info.value.code == 500 and not info.value.permanent
    closed = closed_url()
    down = build("xiaohongshu", {"app_key": APP_ID, "app_secret": SECRET, "access_token": TOKEN}, closed)
    with pytest.raises(ConnectorError, match="request failed") as info:
        down.push_stock("LIP-01", 1, 1)
    assert not info.value.permanent


def test_stock_split_arithmetic_and_credentials() -> None:
    stock = SkuStock.parse({"available": 25, "total": 100, "occupiedQuantity": 35, "productChannelQuantity": 15,
                            "productChannelOccupiedQuantity": 15, "activityChannelQuantity": 10})
    assert stock.shown == 50 and stock.qty_for(50) == 100 and stock.qty_for(60) == 110 and stock.qty_for(5) == 75
    with pytest.raises(MissingSetting, match="access_token"):
        build("xiaohongshu", {"app_key": APP_ID, "app_secret": SECRET}, None)
    assert build("xiaohongshu", {"app_key": APP_ID, "app_secret": SECRET, "access_token": TOKEN},
                 None).base_url == xiaohongshu_stock.DEFAULT_BASE_URL


def test_a_sku_re_created_on_the_platform_is_followed_on_retry(shop: FakeXiaohongshuStock) -> None:
    xhs = connector(shop)
    xhs.push_stock("LIP-02", 6, 1)
    shop.add_sku("LIP-02", 1)  # deleted and published again: a new skuId
    with pytest.raises(ConnectorError, match="error_code 1: 规格不存在") as info:
        xhs.push_stock("LIP-02", 8, 2)
    assert not info.value.permanent
    xhs.push_stock("LIP-02", 8, 2)  # the retry lists afresh
    assert shop.shown("LIP-02") == 8
