"""Kuaishou stock connector over real HTTP against the fake shop: a push shows our figure
exactly although the platform only takes increments, the listing is paged and mapped by
merchant code, refusals carry the platform's code without the secret, and the signature
matches hand-computed vectors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors import kuaishou_stock
from connectors.fakes.kuaishou_stock import FakeKuaishouStock
from connectors.kuaishou_stock import KuaishouStockConnector, build, merchant_code, sign
from connectors.outbound import ConnectorError, MissingSetting
from tests.connectors.stock_support import closed_url

APP_KEY, SECRET, TOKEN = "ks700000000001", "sign-secret-ks", "ChFvYXV0aC5hY2Nlc3NUb2tlbhJ"


@pytest.fixture
def shop() -> Iterator[FakeKuaishouStock]:
    with FakeKuaishouStock(APP_KEY, SECRET, TOKEN) as fake:
        fake.add_sku("TEE-RED-M", 5, item="红色T恤")
        fake.add_sku("TEE-RED-L", 0, item="红色T恤")
        fake.add_sku("MUG-01", 30)
        yield fake  # type: ignore[misc]


def connector(fake: FakeKuaishouStock, **kwargs) -> KuaishouStockConnector:
    creds = {"app_key": APP_KEY, "app_secret": SECRET, "access_token": TOKEN, **kwargs}
    return build("kuaishou", creds, fake.url)


def test_sign_vectors_computed_by_hand() -> None:
    params = {"access_token": "tok", "appkey": "ks123", "method": "open.order.detail", "param": '{"oid":1}',
              "signMethod": "MD5", "timestamp": "1700000000000", "version": "1"}
    assert sign(params, "secret", "MD5") == "0f48916508d6e460655b2a2c4fa7691a"
    params["signMethod"] = "HMAC_SHA256"
    # base64 of the raw HMAC, not hex; the signSecret suffix stays in the message
    assert sign(params, "secret", "HMAC_SHA256") == "KNC3ma1GYzGCAJNdyjVV0zwGi6EaVae190SkHuaufc4="
    # ``sign`` itself and unknown keys are not signed
    assert sign({**params, "sign": "x", "extra": "y"}, "secret", "HMAC_SHA256") == sign(params, "secret", "HMAC_SHA256")


def test_push_sets_the_exact_figure_through_increments_then_fetch(shop: FakeKuaishouStock) -> None:
    ks = connector(shop)
    ks.push_stock("TEE-RED-M", 12, 1)
    assert shop.shown("TEE-RED-M") == 12
    ks.push_stock("TEE-RED-M", 3, 2)
    assert shop.shown("TEE-RED-M") == 3
    assert [(m["changeType"], m["skuChangeStock"]) for m in shop.messages] == [(1, 7), (2, 9)]
    assert ks.fetch_stock() == {"TEE-RED-M": 3, "TEE-RED-L": 0, "MUG-01": 30}
    update = next(r for r in shop.requests if r.path == "/open/item/sku/stock/update")
    assert update.method == "POST" and b"method=open.item.sku.stock.update" in update.body
    assert {r.method for r in shop.requests if r.path == "/open/item/list/get"} == {"GET"}


def test_a_repeated_push_changes_nothing_and_a_sale_in_between_is_overwritten(shop: FakeKuaishouStock) -> None:
    ks = connector(shop)
    ks.push_stock("MUG-01", 20, 7)
    ks.push_stock("MUG-01", 20, 7)  # a retry after a lost answer
    assert shop.shown("MUG-01") == 20 and len(shop.messages) == 1
    assert shop.sell("MUG-01", 4)
    shop.show("TEE-RED-L", 9)  # the merchant edits in the console
    ks.push_stock("MUG-01", 18, 8)
    ks.push_stock("TEE-RED-L", 2, 1)
    assert shop.shown("MUG-01") == 18 and shop.shown("TEE-RED-L") == 2
    assert [m["changeType"] for m in shop.messages] == [2, 1, 2]


def test_md5_sign_method_is_accepted_too(shop: FakeKuaishouStock) -> None:
    ks = connector(shop, sign_method="MD5")
    ks.push_stock("TEE-RED-L", 4, 1)
    assert shop.shown("TEE-RED-L") == 4
    assert shop.requests[-1].body.count(b"signMethod=MD5") == 1


def test_wrong_secret_is_refused_with_the_platform_code_and_no_secret(shop: FakeKuaishouStock) -> None:
    ks = build("kuaishou", {"app_key": APP_KEY, "app_secret": "stolen-secret-123", "access_token": TOKEN}, shop.url)
    with pytest.raises(ConnectorError, match="Kuaishou: open.item.list.get: result 50: 签名验证失败") as info:
        ks.fetch_stock()
    assert info.value.code == 50 and info.value.permanent
    assert "stolen-secret-123" not in str(info.value) and TOKEN not in str(info.value)


def test_expired_token_is_refused(shop: FakeKuaishouStock) -> None:
    ks = build("kuaishou", {"app_key": APP_KEY, "app_secret": SECRET, "access_token": "expired-token"}, shop.url)
    with pytest.raises(ConnectorError, match="鉴权失败") as info:
        ks.push_stock("MUG-01", 1, 1)
    assert "expired-token" not in str(info.value)


def test_unknown_merchant_code_lists_once_more_then_is_permanent(shop: FakeKuaishouStock) -> None:
    ks = connector(shop)
    ks.fetch_stock()
    shop.add_sku("NEW-01", 1)  # published after the last listing: found by listing again
    ks.push_stock("NEW-01", 6, 1)
    assert shop.shown("NEW-01") == 6
    lists_before = sum(r.path == "/open/item/list/get" for r in shop.requests)
    with pytest.raises(ConnectorError, match="GHOST-9: unknown merchant code") as info:
        ks.push_stock("GHOST-9", 1, 1)
    assert info.value.permanent
    assert sum(r.path == "/open/item/list/get" for r in shop.requests) == lists_before + 1


def test_listing_is_read_page_by_page() -> None:
    with FakeKuaishouStock(APP_KEY, SECRET, TOKEN, page_limit=2) as fake:
        for n in range(5):
            fake.add_sku(f"SKU-{n}", n * 10)
        assert connector(fake).fetch_stock() == {f"SKU-{n}": n * 10 for n in range(5)}
        pages = [r for r in fake.requests if r.path == "/open/item/list/get"]
        assert [r.query["param"] for r in pages] == [f'{{"pageNumber":{n},"pageSize":100}}' for n in (1, 2, 3)]


def test_decrease_below_activity_reservation_is_refused(shop: FakeKuaishouStock) -> None:
    shop.add_sku("GIFT-BOX", 10, reserve=8)
    with pytest.raises(ConnectorError, match="result 21: 当前库存不足") as info:
        connector(shop).push_stock("GIFT-BOX", 5, 1)
    assert info.value.code == 21 and not info.value.permanent
    assert shop.shown("GIFT-BOX") == 10


def test_http_500_and_unreachable_gateway_are_retryable(shop: FakeKuaishouStock) -> None:
    ks = connector(shop)
    shop.fail_next(1, status=500)
    with pytest.raises(ConnectorError, match="HTTP 500") as info:
        ks.fetch_stock()
    assert info.value.code == 500 and not info.value.permanent
    closed = closed_url()
    down = build("kuaishou", {"app_key": APP_KEY, "app_secret": SECRET, "access_token": TOKEN}, closed)
    with pytest.raises(ConnectorError, match="request failed") as info:
        down.push_stock("MUG-01", 1, 1)
    assert not info.value.permanent and TOKEN not in str(info.value)


def test_merchant_code_and_credentials() -> None:
    assert merchant_code({"skuNick": " TEE-1 ", "relSkuId": 9}) == "TEE-1"
    assert merchant_code({"skuNick": "", "relSkuId": 8463046}) == "8463046"
    assert merchant_code({"skuNick": "", "relSkuId": 0}) is None
    with pytest.raises(MissingSetting, match="access_token"):
        build("kuaishou", {"app_key": APP_KEY, "app_secret": SECRET}, None)
    ks = build("kuaishou", {"app_key": APP_KEY, "app_secret": SECRET, "access_token": TOKEN}, None)
    assert ks.base_url == kuaishou_stock.DEFAULT_BASE_URL and ks.channel == "kuaishou"


def test_a_sku_re_created_on_the_platform_is_followed_on_retry(shop: FakeKuaishouStock) -> None:
    ks = connector(shop)
    ks.push_stock("MUG-01", 20, 1)
    shop.add_sku("MUG-01", 3)  # deleted and published again: a new kwaiSkuId
    with pytest.raises(ConnectorError, match="no longer on item") as info:
        ks.push_stock("MUG-01", 25, 2)
    assert not info.value.permanent
    ks.push_stock("MUG-01", 25, 2)  # the retry lists afresh
    assert shop.shown("MUG-01") == 25
