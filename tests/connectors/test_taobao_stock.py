"""天猫/淘宝 stock connector over real HTTP against the fake TOP router: the shop's SKUs are
listed (item by item, page by page) and each push overwrites the figure (type=1), so a retried
push or a buyer taking stock in between never makes the shop show a wrong total; TOP's error
codes arrive as ConnectorErrors without the secret."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from connectors import taobao_stock
from connectors.fakes.taobao_stock import FakeTaobaoStock
from connectors.outbound import ConnectorError, MissingSetting
from connectors.taobao_stock import TaobaoStockConnector
from tests.connectors.stock_support import form_calls

APP_KEY = "23456789"
SECRET = "tb-app-secret-0001"
SESSION = "tb-session-0001"


@pytest.fixture
def fake() -> Iterator[FakeTaobaoStock]:
    with FakeTaobaoStock(app_key=APP_KEY, app_secret=SECRET, access_token=SESSION) as server:
        yield server  # type: ignore[misc]


def connector(fake: FakeTaobaoStock, secret: str = SECRET, **kwargs: object) -> TaobaoStockConnector:
    return TaobaoStockConnector(app_key=APP_KEY, app_secret=secret, access_token=SESSION, base_url=fake.url,
                                **kwargs)  # type: ignore[arg-type]


def calls(fake: FakeTaobaoStock, method: str) -> list[dict[str, str]]:
    return form_calls(fake, "method", method)


def test_sign_matches_hand_computed_vectors() -> None:
    notes = {"method": "taobao.trade.fullinfo.get", "app_key": "12345678", "session": "sess",
             "timestamp": "2024-01-01 12:00:00", "format": "json", "v": "2.0", "sign_method": "md5",
             "fields": "tid,status", "tid": "123"}
    assert taobao_stock.sign(notes, "secret") == "DCA9917DB4D5460594008997E3F7601E"
    assert taobao_stock.sign({**notes, "sign_method": "hmac"}, "secret", "hmac") == "E404F73862BF477F0A02F600D1193B2D"
    assert taobao_stock.sign({**notes, "sign_method": "hmac-sha256"}, "secret", "hmac-sha256") == \
        "AD9897BDE1B72A86E300C5FE583D1F7624DD48041DAD42C9A086F7CB3F24B042"
    update = {"method": "taobao.item.quantity.update", "app_key": "12345678", "session": "sess",
              "timestamp": "2024-01-01 12:00:00", "format": "json", "v": "2.0", "sign_method": "md5",
              "num_iid": "600000000001", "sku_id": "4000000000001", "quantity": "7", "type": "1"}
    # MD5("secret" + "app_key12345678formatjsonmethodtaobao.item.quantity.update…v2.0" + "secret")
    assert taobao_stock.sign(update, "secret") == "4D429FDDDD973269076BB583BDBF6117"
    assert taobao_stock.sign({**update, "outer_id": "", "sign": "X"}, "secret") == "4D429FDDDD973269076BB583BDBF6117"


def test_push_then_fetch_round_trip(fake: FakeTaobaoStock) -> None:
    fake.add_sku("TB-SHIRT-RED-M", 5, item="衬衫")
    fake.add_sku("TB-SHIRT-RED-L", 3, item="衬衫")
    fake.add_item("TB-MUG", 9)  # an item without SKUs: its own merchant code
    shop = connector(fake)
    assert shop.fetch_stock() == {"TB-SHIRT-RED-M": 5, "TB-SHIRT-RED-L": 3, "TB-MUG": 9}

    shop.push_stock("TB-SHIRT-RED-M", 12, version=4)
    shop.push_stock("TB-MUG", 0, version=2)
    assert shop.fetch_stock() == {"TB-SHIRT-RED-M": 12, "TB-SHIRT-RED-L": 3, "TB-MUG": 0}

    shirt, mug = fake.catalogue["TB-SHIRT-RED-M"], fake.catalogue["TB-MUG"]
    assert [(m["num_iid"], m["sku_id"], m["quantity"], m["type"]) for m in fake.messages] == \
        [(shirt.item_id, shirt.sku_id, 12, 1), (mug.item_id, None, 0, 1)]
    update = calls(fake, "taobao.item.quantity.update")[0]
    assert update["type"] == "1" and update["sign_method"] == "md5" and update["format"] == "json"
    assert update["v"] == "2.0" and update["session"] == SESSION and "sku_id" in update
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", update["timestamp"])
    assert "sku_id" not in calls(fake, "taobao.item.quantity.update")[1]


def test_a_push_overwrites_what_buyers_left_and_a_retry_changes_nothing(fake: FakeTaobaoStock) -> None:
    fake.add_sku("TB-SCARF", 10)
    shop = connector(fake)
    shop.fetch_stock()
    assert fake.sell("TB-SCARF", 4) and fake.shown("TB-SCARF") == 6
    shop.push_stock("TB-SCARF", 8, version=2)
    shop.push_stock("TB-SCARF", 8, version=2)  # the relay retried a push whose answer was lost
    assert fake.shown("TB-SCARF") == 8
    assert [(m["quantity"], m["type"]) for m in fake.messages] == [(8, 1), (8, 1)]


def test_wrong_secret_is_refused_with_tops_code_25_and_never_echoed(fake: FakeTaobaoStock) -> None:
    fake.add_sku("TB-SCARF", 10)
    with pytest.raises(ConnectorError) as info:
        connector(fake, secret="stolen-secret-9").fetch_stock()
    assert info.value.code == 25 and info.value.permanent
    assert "Invalid signature" in str(info.value)
    assert "stolen-secret-9" not in str(info.value) and SESSION not in str(info.value)


def test_unknown_merchant_code_lists_once_more_then_is_permanent(fake: FakeTaobaoStock) -> None:
    fake.add_sku("TB-A", 1)
    shop = connector(fake)
    assert shop.fetch_stock() == {"TB-A": 1}
    fake.add_sku("TB-B", 2)  # the merchant set the code after our last listing
    shop.push_stock("TB-B", 7, version=1)
    assert fake.shown("TB-B") == 7
    listings = len(calls(fake, "taobao.items.onsale.get"))
    with pytest.raises(ConnectorError, match="unknown merchant code 'TB-NONE'") as info:
        shop.push_stock("TB-NONE", 1, version=1)
    assert info.value.permanent
    assert len(calls(fake, "taobao.items.onsale.get")) == listings + 1
    assert [m["code"] for m in fake.messages] == ["TB-B"]


def test_listing_follows_every_page(fake: FakeTaobaoStock) -> None:
    fake.page_size_cap = 2
    for n in range(5):
        fake.add_sku(f"TB-{n}", n)
    fake.add_sku("TB-4-XL", 40, item="TB-4")
    assert connector(fake).fetch_stock() == {"TB-0": 0, "TB-1": 1, "TB-2": 2, "TB-3": 3, "TB-4": 4, "TB-4-XL": 40}
    assert [c["page_no"] for c in calls(fake, "taobao.items.onsale.get")] == ["1", "2", "3"]
    assert len(calls(fake, "taobao.item.seller.get")) == 5


def test_http_500_is_retryable_and_the_retry_succeeds(fake: FakeTaobaoStock) -> None:
    fake.add_sku("TB-A", 1)
    shop = connector(fake)
    shop.fetch_stock()
    fake.fail_next(1, 500)
    with pytest.raises(ConnectorError, match="HTTP 500") as info:
        shop.push_stock("TB-A", 3, version=1)
    assert info.value.code == 500 and not info.value.permanent
    shop.push_stock("TB-A", 3, version=1)
    assert fake.shown("TB-A") == 3


def test_unreachable_router_is_retryable() -> None:
    shop = TaobaoStockConnector(app_key=APP_KEY, app_secret=SECRET, access_token=SESSION,
                                base_url="http://127.0.0.1:9", timeout=0.5)
    with pytest.raises(ConnectorError, match="request failed") as info:
        shop.fetch_stock()
    assert not info.value.permanent and SESSION not in str(info.value)


def test_flow_control_is_retried_and_a_refusal_is_not(fake: FakeTaobaoStock) -> None:
    fake.add_sku("TB-A", 1)
    shop = connector(fake)
    shop.fetch_stock()
    fake.answer_next({"error_response": {"code": 7, "msg": "App Call Limited",
                                         "sub_code": "accesscontrol.limited-by-app-access-count",
                                         "sub_msg": "This ban will last for 1 more seconds"}})
    with pytest.raises(ConnectorError, match="code 7: App Call Limited") as info:
        shop.push_stock("TB-A", 2, version=1)
    assert info.value.code == 7 and not info.value.permanent
    fake.answer_next({"error_response": {"code": 15, "msg": "Remote service error",
                                         "sub_code": "isv.item-is-delete", "sub_msg": "商品已删除"}})
    with pytest.raises(ConnectorError, match="isv.item-is-delete") as info:
        shop.push_stock("TB-A", 2, version=1)
    assert info.value.permanent


def test_a_clock_ten_minutes_off_is_refused_with_code_31() -> None:
    with FakeTaobaoStock(app_key=APP_KEY, app_secret=SECRET, access_token=SESSION,
                         now=lambda: time.time() + 3600) as ahead:
        ahead.add_sku("TB-A", 1)
        with pytest.raises(ConnectorError) as info:
            connector(ahead).fetch_stock()
    assert info.value.code == 31 and info.value.permanent


def test_build_takes_the_documented_credentials(fake: FakeTaobaoStock) -> None:
    fake.add_sku("TB-A", 4)
    shop = taobao_stock.build("taobao", {"app_key": APP_KEY, "app_secret": SECRET, "access_token": SESSION},
                              fake.url)
    assert shop.channel == "taobao" and shop.fetch_stock() == {"TB-A": 4}
    with pytest.raises(MissingSetting, match="access_token"):
        taobao_stock.build("taobao", {"app_key": APP_KEY, "app_secret": SECRET}, fake.url)
