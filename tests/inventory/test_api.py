"""``/api/v1/stock`` per the contract: reserve/replay/409, release, ship, adjust, roles."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.inventory.service import inventory_for
from tests.conftest import auth

API = "/api/v1/stock"


@pytest.fixture
def api(client, services, tokens) -> Iterator[tuple]:
    inv = inventory_for(services)
    if inv.gate is not None:
        inv.gate.wipe()
        inv.ensure_gate()
    yield client, tokens
    if inv.gate is not None:
        inv.gate.wipe()


def test_reserve_replay_ship_release_over_http(api) -> None:
    client, tokens = api
    wh = auth(tokens["warehouse"])
    r = client.post(f"{API}/adjust", json={"sku_id": "TEA-1", "delta": 5, "reason": "inbound"}, headers=wh)
    assert r.status_code == 200, r.get_json()
    body = {"order_id": "PDD-1", "lines": [{"sku_id": "TEA-1", "qty": 2}], "channel": "pdd"}
    first = client.post(f"{API}/reserve", json=body, headers=auth(tokens["ops"]))
    assert first.status_code == 200
    assert first.get_json()["lines"] == [{"sku_id": "TEA-1", "qty": 2}]
    again = client.post(f"{API}/reserve", json=body, headers=auth(tokens["ops"]))
    assert again.status_code == 200 and again.get_json()["replayed"] is True
    assert {k: v for k, v in again.get_json().items() if k not in ("replayed", "gate")} == \
        {k: v for k, v in first.get_json().items() if k not in ("replayed", "gate")}
    stock = client.get(f"{API}/TEA-1", headers=auth(tokens["finance"])).get_json()
    assert (stock["total_stock"], stock["reserved_stock"], stock["available"]) == (5, 2, 3)
    assert "sync_timestamp" in stock
    shipped = client.post(f"{API}/ship", json={"order_id": "PDD-1", "lines": [{"sku_id": "TEA-1", "qty": 1}]},
                          headers=wh)
    assert shipped.status_code == 200
    released = client.post(f"{API}/release", json={"order_id": "PDD-1"}, headers=auth(tokens["cs"]))
    assert released.get_json()["released"] == [{"sku_id": "TEA-1", "qty": 1}]
    stock = client.get(f"{API}/TEA-1", headers=wh).get_json()
    assert (stock["total_stock"], stock["reserved_stock"], stock["available"]) == (4, 0, 4)


def test_insufficient_stock_names_the_short_skus(api) -> None:
    client, tokens = api
    wh = auth(tokens["warehouse"])
    client.post(f"{API}/adjust", json={"sku_id": "A", "delta": 5, "reason": "inbound"}, headers=wh)
    client.post(f"{API}/adjust", json={"sku_id": "B", "delta": 1, "reason": "inbound"}, headers=wh)
    r = client.post(f"{API}/reserve", json={"order_id": "o1", "lines": [{"sku_id": "A", "qty": 1},
                                                                        {"sku_id": "B", "qty": 2}]}, headers=wh)
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "insufficient_stock"
    assert [(d["sku_id"], d["requested"], d["available"]) for d in err["details"]] == [("B", 2, 1)]
    assert client.get(f"{API}/A", headers=wh).get_json()["reserved_stock"] == 0


def test_roles_and_validation(api) -> None:
    client, tokens = api
    body = {"order_id": "o1", "lines": [{"sku_id": "A", "qty": 1}]}
    assert client.post(f"{API}/reserve", json=body).status_code == 401
    assert client.post(f"{API}/reserve", json=body, headers=auth(tokens["finance"])).status_code == 403
    assert client.post(f"{API}/adjust", json={"sku_id": "A", "delta": 1, "reason": "x"},
                       headers=auth(tokens["ops"])).status_code == 403
    bad = client.post(f"{API}/reserve", json={"order_id": "o1", "lines": [{"sku_id": "A", "qty": 0}]},
                      headers=auth(tokens["admin"]))
    assert bad.status_code == 422
    assert any(d["path"] == "/lines/0/qty" for d in bad.get_json()["error"]["details"])
    huge = client.post(f"{API}/reserve", json={"order_id": "o1", "lines": [{"sku_id": "A", "qty": 3_000_000_000}]},
                       headers=auth(tokens["admin"]))
    assert huge.status_code == 422 and huge.get_json()["error"]["details"][0]["path"] == "/lines/0/qty"
    flood = client.post(f"{API}/adjust", json={"sku_id": "A", "delta": 2**31, "reason": "typo"},
                        headers=auth(tokens["admin"]))
    assert flood.status_code == 422 and flood.get_json()["error"]["details"][0]["path"] == "/delta"
    assert client.get(f"{API}/NOPE", headers=auth(tokens["cs"])).status_code == 404
    assert client.post(f"{API}/release", json={"order_id": "none"}, headers=auth(tokens["cs"])).status_code == 404


def test_stock_routes_are_in_the_openapi_document(client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for p in ("/api/v1/stock/reserve", "/api/v1/stock/release", "/api/v1/stock/ship", "/api/v1/stock/adjust",
              "/api/v1/stock/{sku_id}", "/api/v1/stock/{sku_id}/channels", "/api/v1/stock/{sku_id}/channels/{channel}"):
        assert p in paths


def test_a_retried_adjust_moves_stock_once(api) -> None:
    """入库 +30 sent, the answer lost, sent again: total 30, not 60; the retry gets the first answer."""
    client, tokens = api
    wh = auth(tokens["warehouse"])
    body = {"sku_id": "TEA-9", "delta": 30, "reason": "入库单 RK-0012"}
    first = client.post(f"{API}/adjust", json=body, headers=wh)
    retry = client.post(f"{API}/adjust", json=body, headers=wh)
    assert (first.status_code, retry.status_code) == (200, 200)
    assert (first.get_json()["replayed"], retry.get_json()["replayed"]) == (False, True)
    assert {k: v for k, v in retry.get_json().items() if k not in ("replayed", "gate")} == \
        {k: v for k, v in first.get_json().items() if k not in ("replayed", "gate")}
    assert client.get(f"{API}/TEA-9", headers=wh).get_json()["total_stock"] == 30
    # a second delivery of the same size is a different adjustment: its own note, or its own key
    client.post(f"{API}/adjust", json={**body, "reason": "入库单 RK-0013"}, headers=wh)
    client.post(f"{API}/adjust", json=body, headers={**wh, "Idempotency-Key": "rk-0012-recount"})
    assert client.get(f"{API}/TEA-9", headers=wh).get_json()["total_stock"] == 90
    # another person sending the same adjustment is not a retry of the first
    client.post(f"{API}/adjust", json=body, headers=auth(tokens["admin"]))
    assert client.get(f"{API}/TEA-9", headers=wh).get_json()["total_stock"] == 120
