"""发货台 pages: only 仓储 and 管理员 see the desk (the nav link too); its forms need the session,
the CSRF token and the role, and a refused form changes nothing; a warehouse user picks
orders, gets waybills (a refusal shows the counterpart's reason next to its order), prints,
confirms shipping, and gets the pick list with its totals."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.orders.model import Order
from engine.orders.pipeline_model import OrderShipment
from engine.waybills.model import Waybill
from engine.waybills.service import set_location
from tests.builder.conftest import csrf_of
from tests.waybills.conftest import bring_in, dispatch

PAGES = ["/desk", "/desk/print?order=1", "/desk/pick-list?order=1"]


def _counts(services: Any) -> tuple[int, ...]:
    with services.db.session() as s:
        return tuple(int(s.scalar(select(func.count()).select_from(t)) or 0) for t in (Waybill, OrderShipment))


@pytest.fixture
def two_orders(desk: dict[str, Any], services: Any) -> list[int]:
    mini, _, _ = bring_in(services, desk["miniprogram"], "miniprogram", [("TEA-LJ-250", 2), ("SCARF-SILK", 1)])
    tao, _, _ = bring_in(services, desk["taobao"], "taobao", [("TEA-LJ-250", 1)])
    return [mini, tao]


@pytest.mark.parametrize("path", PAGES)
def test_the_desk_pages_are_for_warehouse_and_admin(app: Any, signed_in: Any, path: str) -> None:
    resp = app.test_client().get(path)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next=")
    for role in ("admin", "warehouse", "ops", "cs", "finance", "cs_lead"):
        resp = signed_in(role).get(path)
        assert resp.status_code == (200 if role in ("admin", "warehouse") else 403), (role, resp.status_code)


def test_the_nav_shows_发货台_to_the_roles_that_may_use_it(signed_in: Any) -> None:
    assert ">发货台</a>" in signed_in("warehouse").get("/rulesets").get_data(as_text=True)
    assert ">发货台</a>" in signed_in("admin").get("/rulesets").get_data(as_text=True)
    assert ">发货台</a>" not in signed_in("ops").get("/rulesets").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/desk/waybills", "/desk/ship"])
def test_the_desk_forms_check_session_csrf_and_role(app: Any, services: Any, signed_in: Any,
                                                    two_orders: list[int], path: str) -> None:
    body = {"order": [str(pk) for pk in two_orders], "courier": "SF", "source": "auto"}
    resp = app.test_client().post(path, data=body)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    warehouse = signed_in("warehouse")
    before = _counts(services)
    resp = warehouse.post(path, data=body)
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    for role in ("ops", "cs", "finance"):
        client = signed_in(role)
        resp = client.post(path, data={**body, "csrf_token": csrf_of(client.get("/").data)})
        assert resp.status_code == 403 and "无权" in resp.get_data(as_text=True)
    assert _counts(services) == before
    resp = warehouse.post(path, data={**body, "csrf_token": csrf_of(warehouse.get("/desk").data)})
    assert resp.status_code == 200


def test_a_warehouse_user_gets_waybills_prints_ships_and_picks(desk: dict[str, Any], services: Any,
                                                              signed_in: Any, two_orders: list[int]) -> None:
    mini, tao = two_orders
    douyin, _, _ = bring_in(services, desk["douyin"], "douyin", [("TSHIRT-W-M", 1)])
    set_location(services, "TEA-LJ-250", "B-02-01")
    set_location(services, "SCARF-SILK", "A-01-01")
    user = signed_in("warehouse")
    page = user.get("/desk?channel=miniprogram").get_data(as_text=True)
    assert f'value="{mini}"' in page and f'value="{tao}"' not in page  # the channel filter
    page = user.get("/desk").get_data(as_text=True)
    token = csrf_of(page)
    desk["douyin"].subscribed = set()  # this shop has no 顺丰 e-waybill subscription on 抖店
    answer = user.post("/desk/waybills", data={"order": [str(mini), str(tao), str(douyin)], "courier": "SF",
                                               "source": "auto", "csrf_token": token})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "取号完成：成功 2 单，失败 1 单" in html
    assert re.search(r'data-order="douyin/\d+" data-ok="no">.*?抖店电子面单拒绝：未开通该快递公司的电子面单服务', html, re.S)
    with services.db.session() as s:
        numbers = {w.order_pk: w.tracking_no for w in s.scalars(select(Waybill))}
    assert set(numbers) == {mini, tao}
    assert user.get("/desk?courier=none").get_data(as_text=True).count('name="order"') == 1  # only douyin waits

    printed = user.get(f"/desk/print?order={mini}&order={tao}").get_data(as_text=True)
    assert numbers[mini] in printed and numbers[tao] in printed and "srcdoc=" in printed  # Kdniao's template
    assert "<script" not in printed.split("srcdoc=")[1].split('"')[1]  # the template is an escaped attribute
    shipped = user.post("/desk/ship", data={"order": [str(mini), str(tao)], "csrf_token": csrf_of(printed)})
    assert "发货完成：成功 2 单，失败 0 单" in shipped.get_data(as_text=True)
    assert dispatch(services) == 2
    assert [m["tracking_no"] for m in desk["miniprogram"].messages if m.get("tracking_no")] == [numbers[mini]]
    assert [m["tracking_no"] for m in desk["taobao"].messages if m.get("tracking_no")] == [numbers[tao]]
    with services.db.session() as s:
        assert {s.get(Order, pk).status for pk in (mini, tao)} == {"shipped"}

    picks = user.get(f"/desk/pick-list?order={mini}&order={tao}&order={douyin}").get_data(as_text=True)
    rows = re.findall(r'<tr data-sku="([^"]+)"><td>([^<]+)</td><td>[^<]+</td><td>[^<]+</td><td class="qty">(\d+)</td>',
                      picks)
    assert rows == [("SCARF-SILK", "A-01-01", "1"), ("TEA-LJ-250", "B-02-01", "3"), ("TSHIRT-W-M", "未设库位", "1")]
    assert '<td class="qty" id="pick-total">5</td>' in picks and "@media print" in picks


def test_getting_waybills_without_a_selection_says_what_to_do(signed_in: Any, desk: dict[str, Any]) -> None:
    user = signed_in("warehouse")
    resp = user.post("/desk/waybills", data={"courier": "SF", "csrf_token": csrf_of(user.get("/desk").data)})
    assert resp.status_code == 422 and "请先勾选要取号的订单" in resp.get_data(as_text=True)


def test_a_location_set_on_the_pick_list_orders_the_next_one(app: Any, services: Any, signed_in: Any,
                                                             two_orders: list[int]) -> None:
    mini, tao = two_orders
    body = {"sku_id": "SCARF-SILK", "location": "A-00-01", "order": [str(mini), str(tao)]}
    assert app.test_client().post("/desk/locations", data=body).status_code == 302  # to the login page
    ops = signed_in("ops")
    assert ops.post("/desk/locations", data={**body, "csrf_token": csrf_of(ops.get("/").data)}).status_code == 403
    user = signed_in("warehouse")
    assert user.post("/desk/locations", data=body).status_code == 400  # no CSRF token
    path = f"/desk/pick-list?order={mini}&order={tao}"
    set_location(services, "TEA-LJ-250", "B-01-01")
    before = user.get(path).get_data(as_text=True)
    assert before.index('data-sku="TEA-LJ-250"') < before.index('data-sku="SCARF-SILK"')  # 未设库位 comes last
    refused = user.post("/desk/locations", data={**body, "location": "", "csrf_token": csrf_of(before)})
    assert refused.status_code == 422 and "请填写 SKU 和库位" in refused.get_data(as_text=True)
    saved = user.post("/desk/locations", data={**body, "csrf_token": csrf_of(before)})
    assert saved.status_code == 302 and saved.headers["Location"] == path
    after = user.get(path).get_data(as_text=True)
    assert "已设置 SCARF-SILK 的库位为 A-00-01" in after
    assert after.index('data-sku="SCARF-SILK"') < after.index('data-sku="TEA-LJ-250"')
    assert '<td>A-00-01</td>' in after
