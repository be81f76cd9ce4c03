"""``GET /analytics/geo`` and ``/analytics/geo/grids/{cell}``: orders stored through the real
intake (cleaning places each address in its district and fills the centroid) counted on the
3 km grid; the busiest cells with their districts; a district's growth next to its province's
(南浔区 2 → 6 orders: +200%, while 浙江 6 → 10: +66.67%); the SKUs and pairs a cell's orders
hold (4 of 南浔's 6 orders held 冷泡茶包 + 玻璃冷萃瓶: 66.67%)."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine.analytics.grid import cell_of, growth_bp, share_bp
from engine.analytics.sql_time import SHANGHAI
from tests.conftest import auth
from tests.risk.helpers import order, publish, take_in

NANXUN = "浙江省湖州市南浔区南浔镇人瑞路1号"
XIHU = "浙江省杭州市西湖区文三路90号"
XUANWU = "江苏省南京市玄武区中山路1号"
TEA = {"line_id": "1", "sku_id": "TEA-COLD", "title": "冷泡茶包", "qty": 1, "unit_price": 3900, "amount": 3900}
JAR = {"line_id": "2", "sku_id": "JAR-GLASS", "title": "玻璃冷萃瓶", "qty": 1, "unit_price": 5900, "amount": 5900}


def sh(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def placed(services):
    publish(services, "sources_six_channels")
    services.clock.set(sh("2026-11-30 12:00"))
    n = 0

    def put(address: str, day: str, lines: list, channel: str = "douyin") -> None:
        nonlocal n
        n += 1
        take_in(services, order(f"G{n}", at=sh(f"{day} 12:00"), phone=None, channel=channel, lines=lines,
                                receiver={"name": "李四", "address": address}))

    # previous three weeks (2026-10-19 .. 11-08): 南浔 2, 西湖 4
    for day in ("2026-10-20", "2026-11-01"):
        put(NANXUN, day, [TEA])
    for day in ("2026-10-21", "2026-10-22", "2026-10-23", "2026-11-02"):
        put(XIHU, day, [TEA])
    # the range (2026-11-09 .. 11-29): 南浔 6 (4 with the jar), 西湖 4, 玄武 1 (taobao)
    for i, day in enumerate(("2026-11-10", "2026-11-12", "2026-11-15", "2026-11-20", "2026-11-25", "2026-11-29")):
        put(NANXUN, day, [TEA, JAR] if i < 4 else [TEA])
    for day in ("2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13"):
        put(XIHU, day, [JAR])
    put(XUANWU, "2026-11-14", [TEA], channel="taobao")
    return services


RANGE = {"from": "2026-11-09", "to": "2026-11-29"}
NANXUN_CELL = cell_of(30.849689, 120.418513)
XIHU_CELL = cell_of(30.259463, 120.130194)


def _get(client, token, url="/api/v1/analytics/geo", **params):
    return client.get(url, query_string=params, headers=auth(token))


def test_the_busiest_cells_with_their_districts(client, tokens, placed) -> None:
    body = _get(client, tokens["ops"], min_orders=1, **RANGE).get_json()
    assert (body["total"], body["placed"], body["unplaced"], body["grid_km"]) == (11, 11, 0, 3)
    assert [(g["id"], g["orders"], g["share_bp"]) for g in body["grids"]] == [
        (NANXUN_CELL, 6, 5455), (XIHU_CELL, 4, 3636), (cell_of(32.048498, 118.797757), 1, 909)]
    assert body["grids"][0]["districts"] == [
        {"adcode": "330503", "province": "浙江省", "city": "湖州市", "district": "南浔区", "orders": 6}]


def test_district_growth_next_to_its_province(client, tokens, placed) -> None:
    growth = _get(client, tokens["ops"], min_orders=1, **RANGE).get_json()["growth"]
    assert growth["previous_range"] == {"from": "2026-10-19", "to": "2026-11-08", "timezone": "Asia/Shanghai"}
    rows = [(r["district"], r["orders"], r["previous"], r["growth_bp"], r["province_orders"],
             r["province_previous"], r["province_growth_bp"]) for r in growth["districts"]]
    assert rows == [("南浔区", 6, 2, 20000, 10, 6, 6667),
                    ("西湖区", 4, 4, 0, 10, 6, 6667),
                    ("玄武区", 1, 0, None, 1, 0, None)]
    # the minimum volume leaves small districts out
    few = _get(client, tokens["ops"], min_orders=5, **RANGE).get_json()["growth"]["districts"]
    assert [r["district"] for r in few] == ["南浔区"]


def test_a_channel_filter_counts_that_channel_only(client, tokens, placed) -> None:
    body = _get(client, tokens["ops"], channel="taobao", min_orders=1, **RANGE).get_json()
    assert body["total"] == 1 and [g["orders"] for g in body["grids"]] == [1]


def test_a_cell_lists_its_skus_pairs_and_orders(client, tokens, placed) -> None:
    body = _get(client, tokens["ops"], f"/api/v1/analytics/geo/grids/{NANXUN_CELL}", limit=4, **RANGE).get_json()
    assert body["orders_total"] == 6
    assert body["skus"] == [
        {"sku_id": "TEA-COLD", "title": "冷泡茶包", "orders": 6, "share_bp": 10000},
        {"sku_id": "JAR-GLASS", "title": "玻璃冷萃瓶", "orders": 4, "share_bp": 6667}]
    assert body["combinations"] == [{"skus": ["JAR-GLASS", "TEA-COLD"], "titles": ["玻璃冷萃瓶", "冷泡茶包"],
                                     "orders": 4, "share_bp": 6667}]
    assert [o["order_id"] for o in body["orders"]] == ["G12", "G11", "G10", "G9"]
    more = _get(client, tokens["ops"], f"/api/v1/analytics/geo/grids/{NANXUN_CELL}", cursor=body["next_cursor"],
                **RANGE).get_json()
    assert [o["order_id"] for o in more["orders"]] == ["G8", "G7"] and more["next_cursor"] is None


def test_a_cell_with_no_district_is_not_found(client, tokens, placed) -> None:
    resp = _get(client, tokens["ops"], "/api/v1/analytics/geo/grids/0:0", **RANGE)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "grid_not_found"
    assert _get(client, tokens["ops"], "/api/v1/analytics/geo/grids/nonsense", **RANGE).status_code == 404


def test_growth_and_shares_round_half_up_in_basis_points() -> None:
    assert growth_bp(31, 10) == 21000 and growth_bp(147, 100) == 4700
    assert growth_bp(2, 3) == -3333 and growth_bp(1, 6) == -8333 and growth_bp(5, 0) is None
    assert share_bp(2, 3) == 6667 and share_bp(1, 8) == 1250 and share_bp(1, 0) is None


def test_the_grid_is_three_kilometres_on_a_side() -> None:
    assert cell_of(30.0, 120.0) == "1113:3855"
    # 1 km apart in the middle of a cell: one cell; 3.1 km apart: never
    assert cell_of(30.0081, 120.0) == cell_of(30.0081 + 1 / 111.32, 120.0)
    assert cell_of(30.0, 120.0) != cell_of(30.0 + 3.1 / 111.32, 120.0)
