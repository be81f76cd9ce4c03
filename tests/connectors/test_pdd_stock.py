"""拼多多 stock connector over real HTTP against the fake POP router: goods and their SKUs are
listed page by page, each push overwrites the SKU's figure (update_type=1) so retries and
buyers in between never leave a wrong total, and PDD's error codes arrive as ConnectorErrors
without the client secret."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from connectors import pdd_stock
from connectors.fakes.pdd_stock import FakePddStock
from connectors.outbound import ConnectorError, MissingSetting
from connectors.pdd_stock import PddStockConnector
from tests.connectors.stock_support import form_calls

CLIENT_ID = "pdd-client-0001"
SECRET = "pdd-client-secret-0001"
TOKEN = "pdd-access-token-0001"


@pytest.fixture
def fake() -> Iterator[FakePddStock]:
    with FakePddStock(app_key=CLIENT_ID, app_secret=SECRET, access_token=TOKEN) as server:
        yield server  # type: ignore[misc]


def connector(fake: FakePddStock, secret: str = SECRET, **kwargs: object) -> PddStockConnector:
    return PddStockConnector(app_key=CLIENT_ID, app_secret=secret, access_token=TOKEN, base_url=fake.url,
                             **kwargs)  # type: ignore[arg-type]


def calls(fake: FakePddStock, api_type: str) -> list[dict[str, str]]:
    return form_calls(fake, "type", api_type)


def test_sign_matches_hand_computed_vectors() -> None:
    notes = {"type": "pdd.order.information.get", "client_id": "cid", "access_token": "tok",
             "timestamp": "1700000000", "data_type": "JSON", "version": "V1", "order_sn": "231201-123"}
    assert pdd_stock.sign(notes, "secret") == "AC520A0CD1F4E9EABF7EF5ABD4B932DE"
    update = {"type": "pdd.goods.quantity.update", "client_id": "cid", "access_token": "tok",
              "timestamp": "1700000000", "data_type": "JSON", "version": "V1", "goods_id": "300000000001",
              "sku_id": "1200000000001", "quantity": "7", "update_type": "1"}
    # MD5("secret" + "access_tokentokclient_idciddata_typeJSONgoods_id300000000001…versionV1" + "secret")
    assert pdd_stock.sign(update, "secret") == "480DFD007092696F289F82375C724365"
    assert pdd_stock.sign({**update, "sign": "X"}, "secret") == "480DFD007092696F289F82375C724365"


def test_push_then_fetch_round_trip(fake: FakePddStock) -> None:
    fake.add_sku("PDD-TEA-250G", 20, item="茶叶")
    fake.add_sku("PDD-TEA-500G", 8, item="茶叶")
    fake.add_sku("PDD-CUP", 3)
    shop = connector(fake)
    assert shop.fetch_stock() == {"PDD-TEA-250G": 20, "PDD-TEA-500G": 8, "PDD-CUP": 3}

    shop.push_stock("PDD-TEA-500G", 15, version=9)
    assert shop.fetch_stock() == {"PDD-TEA-250G": 20, "PDD-TEA-500G": 15, "PDD-CUP": 3}
    tea = fake.catalogue["PDD-TEA-500G"]
    assert [(m["goods_id"], m["sku_id"], m["quantity"], m["update_type"]) for m in fake.messages] == \
        [(tea.item_id, tea.sku_id, 15, 1)]
    update = calls(fake, "pdd.goods.quantity.update")[0]
    assert update["update_type"] == "1" and update["goods_id"] == str(tea.item_id)
    assert update["data_type"] == "JSON" and update["access_token"] == TOKEN
    assert abs(int(update["timestamp"]) - time.time()) < 60  # unix seconds


def test_a_push_overwrites_what_buyers_left_and_a_retry_changes_nothing(fake: FakePddStock) -> None:
    fake.add_sku("PDD-CUP", 10)
    shop = connector(fake)
    shop.fetch_stock()
    assert fake.sell("PDD-CUP", 7) and fake.shown("PDD-CUP") == 3
    shop.push_stock("PDD-CUP", 6, version=2)
    shop.push_stock("PDD-CUP", 6, version=2)
    assert fake.shown("PDD-CUP") == 6
    assert [(m["quantity"], m["update_type"]) for m in fake.messages] == [(6, 1), (6, 1)]


def test_wrong_secret_is_refused_with_pdds_code_20004_and_never_echoed(fake: FakePddStock) -> None:
    fake.add_sku("PDD-CUP", 1)
    with pytest.raises(ConnectorError) as info:
        connector(fake, secret="stolen-secret-9").fetch_stock()
    assert info.value.code == 20004 and info.value.permanent
    assert "签名sign校验失败" in str(info.value)
    assert "stolen-secret-9" not in str(info.value) and TOKEN not in str(info.value)


def test_unknown_merchant_code_lists_once_more_then_is_permanent(fake: FakePddStock) -> None:
    fake.add_sku("PDD-A", 1)
    shop = connector(fake)
    shop.fetch_stock()
    fake.add_sku("PDD-B", 2)
    shop.push_stock("PDD-B", 5, version=1)
    assert fake.shown("PDD-B") == 5
    listings = len(calls(fake, "pdd.goods.list.get"))
    with pytest.raises(ConnectorError, match="unknown merchant code 'PDD-NONE'") as info:
        shop.push_stock("PDD-NONE", 1, version=1)
    assert info.value.permanent
    assert len(calls(fake, "pdd.goods.list.get")) == listings + 1
    assert [m["code"] for m in fake.messages] == ["PDD-B"]


def test_listing_follows_every_page(fake: FakePddStock) -> None:
    for n in range(5):
        fake.add_sku(f"PDD-{n}", n)
    fake.add_sku("PDD-0-BIG", 100, item="PDD-0")
    assert connector(fake, page_size=2).fetch_stock() == \
        {"PDD-0": 0, "PDD-0-BIG": 100, "PDD-1": 1, "PDD-2": 2, "PDD-3": 3, "PDD-4": 4}
    assert [(c["page"], c["page_size"]) for c in calls(fake, "pdd.goods.list.get")] == \
        [("1", "2"), ("2", "2"), ("3", "2")]
    fake.page_size_cap = 2  # the platform pages smaller than asked
    assert len(connector(fake).fetch_stock()) == 6


def test_http_500_is_retryable_and_the_retry_succeeds(fake: FakePddStock) -> None:
    fake.add_sku("PDD-A", 1)
    shop = connector(fake)
    shop.fetch_stock()
    fake.fail_next(1, 502)
    with pytest.raises(ConnectorError, match="HTTP 502") as info:
        shop.push_stock("PDD-A", 4, version=1)
    assert info.value.code == 502 and not info.value.permanent
    shop.push_stock("PDD-A", 4, version=1)
    assert fake.shown("PDD-A") == 4


def test_throttling_is_retried_and_an_expired_token_is_not(fake: FakePddStock) -> None:
    fake.add_sku("PDD-A", 1)
    shop = connector(fake)
    shop.fetch_stock()
    fake.answer_next({"error_response": {"error_code": 52101, "error_msg": "当前接口被限流，请稍后重试",
                                         "sub_code": "52101", "sub_msg": ""}})
    with pytest.raises(ConnectorError, match="code 52101") as info:
        shop.push_stock("PDD-A", 2, version=1)
    assert not info.value.permanent
    fake.answer_next({"error_response": {"error_code": 10019, "error_msg": "access_token已过期"}})
    with pytest.raises(ConnectorError, match="access_token已过期") as info:
        shop.push_stock("PDD-A", 2, version=1)
    assert info.value.code == 10019 and info.value.permanent


def test_an_unsuccessful_update_raises(fake: FakePddStock) -> None:
    fake.add_sku("PDD-A", 1)
    shop = connector(fake)
    shop.fetch_stock()
    fake.answer_next({"goods_quantity_update_response": {"is_success": False}})
    with pytest.raises(ConnectorError, match="not done for 'PDD-A'") as info:
        shop.push_stock("PDD-A", 2, version=1)
    assert not info.value.permanent


def test_build_takes_the_documented_credentials(fake: FakePddStock) -> None:
    fake.add_sku("PDD-A", 4)
    shop = pdd_stock.build("pdd", {"app_key": CLIENT_ID, "app_secret": SECRET, "access_token": TOKEN}, fake.url)
    assert shop.channel == "pdd" and shop.fetch_stock() == {"PDD-A": 4}
    with pytest.raises(MissingSetting, match="app_secret"):
        pdd_stock.build("pdd", {"app_key": CLIENT_ID, "access_token": TOKEN}, fake.url)
