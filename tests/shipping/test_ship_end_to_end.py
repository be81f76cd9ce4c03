"""One order per platform shipped end to end: ``POST /orders/{id}/ship`` ships the stock, marks
the order 已发货 with an ``order_shipments`` row and a timeline entry, and the outbox writes the
tracking number back over real HTTP to the fake platform with that platform's own ship API,
signature and carrier code. The fake then shows the tracking number on the order, and the
next pull carries the shipped status back."""

from __future__ import annotations

from typing import Any

import pytest

from engine.inventory.service import inventory_for
from engine.orders.carriers import find_carrier
from engine.orders.intake import intake_platform_order
from tests.conftest import auth
from tests.shipping.conftest import bring_in, client_of, dispatch, outbox_rows, shipments, timeline_kinds

# what each fake records for an accepted ship call: (method, carrier code as the platform took it)
SHIP_CALLS = {
    "taobao": ("taobao.logistics.offline.send", "SF"),
    "pdd": ("pdd.logistics.online.send", 44),
    "douyin": ("order.logisticsAdd", "shunfeng"),
    "kuaishou": ("open.seller.order.goods.deliver", 4),
    "xiaohongshu": ("order.orderDeliver", "shunfeng"),
    "miniprogram": ("shipments", "SF"),
}
# where each platform's order detail shows the tracking number
SHOWN = {
    "taobao": lambda d: d["orders"]["order"][0]["invoice_no"],
    "pdd": lambda d: d["tracking_number"],
    "douyin": lambda d: d["logistics_info"][0]["tracking_no"],
    "kuaishou": lambda d: d["orderLogisticsInfo"][0]["expressNo"],
    "xiaohongshu": lambda d: d["expressTrackingNo"],
    "miniprogram": lambda d: d["delivery"]["tracking_no"],
}
# the platform's own status for a shipped order, as its detail says it
SHIPPED = {
    "taobao": lambda d: d["status"] == "WAIT_BUYER_CONFIRM_GOODS",
    "pdd": lambda d: d["order_status"] == 2,
    "douyin": lambda d: d["order_status"] == 3,
    "kuaishou": lambda d: d["orderBaseInfo"]["status"] == 40,
    "xiaohongshu": lambda d: d["orderStatus"] == 6,
    "miniprogram": lambda d: d["status"] == "shipped",
}


def ship_messages(fake: Any) -> list[dict[str, Any]]:
    return [m for m in fake.messages if m.get("tracking_no")]


@pytest.mark.parametrize("channel", list(SHIP_CALLS))
def test_an_order_shipped_by_a_person_shows_its_tracking_number_on_its_platform(
        channel: str, services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    fake = platforms[channel]
    pk, order_id, _ = bring_in(services, fake, channel, [("TEA-LJ-250", 2)])
    before = inventory_for(services).get("TEA-LJ-250")
    assert (before["total_stock"], before["reserved_stock"]) == (50, 2)

    answer = client.post(f"/api/v1/orders/{pk}/ship", json={"courier": "顺丰", "tracking_no": "SF1234567890"},
                         headers=auth(tokens["warehouse"]))
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["order_status"] == "shipped" and body["replayed"] is False
    assert body["shipment"]["courier"] == "SF" and body["shipment"]["lines"][0]["qty"] == 2
    after = inventory_for(services).get("TEA-LJ-250")
    assert (after["total_stock"], after["reserved_stock"]) == (48, 0)  # the stock left the warehouse
    assert not ship_messages(fake)  # nothing reaches the platform before the outbox runs

    assert dispatch(services) == 1
    method, code = SHIP_CALLS[channel]
    (accepted,) = ship_messages(fake)
    assert (accepted["method"], accepted["company_code"], accepted["tracking_no"]) == (method, code, "SF1234567890")
    assert accepted["order_id"] == order_id
    assert find_carrier("SF").code_for(channel) == code

    detail = client_of(services, channel).order_detail(order_id)
    assert SHOWN[channel](detail) == "SF1234567890"
    assert SHIPPED[channel](detail)

    page = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["cs"])).get_json()
    assert page["status"] == "shipped" and page["order"]["status"] == "shipped"
    (shipment,) = page["shipments"]
    assert shipment["tracking_no"] == "SF1234567890" and shipment["via"] == "api"
    assert shipment["actor"] == "user:user_warehouse"
    assert shipment["writeback"]["status"] == "accepted" and shipment["writeback"]["attempts"] == 1
    assert page["dead_letters"] == []
    assert page["order"]["tracking"] == {"courier": "顺丰速运", "number": "SF1234567890"}

    pulled = intake_platform_order(services, source=channel, payload=detail, via="pull")  # the next pull
    assert pulled.order_pk == pk and pulled.outcome == "updated"
    page = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["cs"])).get_json()
    assert page["status"] == "shipped" and page["order"]["status"] == "shipped"  # the platform says so too
    assert [s["tracking_no"] for s in page["shipments"]] == ["SF1234567890"]
    kinds = timeline_kinds(services, pk)
    assert kinds[-3:] == ["shipped", "writeback_accepted", "updated"]
    (row,) = outbox_rows(services)
    assert (row.status, row.source, row.order_ref) == ("delivered", channel, f"{channel}/{order_id}")
    assert row.retry_schedule == [30, 120, 300]  # the source's declared retry


def test_the_same_request_twice_is_one_shipment(services: Any, platforms: Any, client: Any,
                                                tokens: dict[str, str]) -> None:
    pk, _, _ = bring_in(services, platforms["taobao"], "taobao", [("TEA-LJ-250", 1)])
    request = {"courier": "ZTO", "tracking_no": "7531000001"}
    first = client.post(f"/api/v1/orders/{pk}/ship", json=request, headers=auth(tokens["ops"]))
    again = client.post(f"/api/v1/orders/{pk}/ship", json=request, headers=auth(tokens["ops"]))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["replayed"] is True
    assert again.get_json()["shipment"]["id"] == first.get_json()["shipment"]["id"]
    assert len(shipments(services, pk)) == 1 and len(outbox_rows(services)) == 1
    assert inventory_for(services).get("TEA-LJ-250")["total_stock"] == 49
    assert timeline_kinds(services, pk).count("shipped") == 1
    other = client.post(f"/api/v1/orders/{pk}/ship", json={"courier": "YTO", "tracking_no": "7531000001"},
                        headers=auth(tokens["ops"]))
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "tracking_no_taken"


def test_a_partial_shipment_then_the_rest(services: Any, platforms: Any, client: Any,
                                          tokens: dict[str, str]) -> None:
    fake = platforms["xiaohongshu"]
    pk, order_id, _ = bring_in(services, fake, "xiaohongshu", [("TEA-LJ-250", 2), ("SCARF-SILK", 1)])
    part = client.post(f"/api/v1/orders/{pk}/ship", headers=auth(tokens["warehouse"]), json={
        "courier": "YTO", "tracking_no": "YT8800000001", "lines": [{"sku_id": "SCARF-SILK", "qty": 1}]})
    assert part.status_code == 201 and part.get_json()["order_status"] == "partially_shipped"
    dispatch(services)
    detail = client_of(services, "xiaohongshu").order_detail(order_id)
    assert detail["orderStatus"] == 5  # 部分发货 on the platform
    rest = client.post(f"/api/v1/orders/{pk}/ship", headers=auth(tokens["warehouse"]),
                       json={"courier": "YTO", "tracking_no": "YT8800000002"})
    assert rest.status_code == 201 and rest.get_json()["order_status"] == "shipped"
    assert rest.get_json()["shipment"]["lines"] == [
        {"line_no": 0, "line_id": rest.get_json()["shipment"]["lines"][0]["line_id"], "sku_id": "TEA-LJ-250",
         "platform_sku_id": rest.get_json()["shipment"]["lines"][0]["platform_sku_id"], "qty": 2}]
    dispatch(services)
    accepted = ship_messages(fake)
    assert [m["tracking_no"] for m in accepted] == ["YT8800000001", "YT8800000002"]
    assert accepted[0]["lines"] == [2] and accepted[1]["lines"] is None
    assert client_of(services, "xiaohongshu").order_detail(order_id)["orderStatus"] == 6
    stock = inventory_for(services)
    assert stock.get("TEA-LJ-250")["reserved_stock"] == 0 and stock.get("SCARF-SILK")["total_stock"] == 49
    again = client.post(f"/api/v1/orders/{pk}/ship", headers=auth(tokens["warehouse"]),
                        json={"courier": "YTO", "tracking_no": "YT8800000003"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "order_not_shippable"
