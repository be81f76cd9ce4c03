"""``/api/v1/orders``: the own channel's intake with its version rule, validation errors with
field paths, bad bodies that change nothing, the list's filters and cursor pages, one order by
id and by (channel, order_id), and the role masking matrix."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from engine.orders.model import Order, OrderEvent, OrderPayload
from tests.conftest import auth
from tests.orders.order_factory import order_json

URL = "/api/v1/orders"


def _post(client, token, body, **kw):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
    return client.post(URL, data=data, headers={**auth(token), "Content-Type": "application/json"}, **kw)


def _rows(services) -> tuple[int, int, int]:
    with services.db.session() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (Order, OrderEvent, OrderPayload))  # type: ignore[return-value]


def test_posting_an_order_stores_it_and_a_newer_version_updates_it(client, tokens, services) -> None:
    first = _post(client, tokens["ops"], order_json("MP1001"))
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["outcome"] == "created"
    order = body["order"]
    assert (order["channel"], order["order_id"], order["status"], order["total"], order["revision"]) == (
        "miniprogram", "MP1001", "awaiting_shipment", 31700, 1)
    assert order["order"]["created_at"] == "2026-11-11T02:00:00+00:00"
    assert [ln["sku_id"] for ln in order["lines"]] == ["TS-WHITE-M", "SCARF-01"]

    cancelled = _post(client, tokens["ops"], order_json("MP1001", minutes=30, status="cancelled"))
    assert cancelled.status_code == 200
    got = cancelled.get_json()
    assert got["outcome"] == "updated"
    assert (got["order"]["status"], got["order"]["status_label"], got["order"]["revision"]) == ("cancelled", "已取消", 2)
    last = got["order"]["timeline"][-1]
    assert (last["kind"], last["actor"]) == ("updated", "user:user_ops")
    assert {"path": "status", "from": "awaiting_shipment", "to": "cancelled"} in last["changes"]


@pytest.mark.parametrize("minutes,outcome", [(0, "unchanged"), (-5, "stale")])
def test_the_same_or_an_older_version_changes_nothing_and_answers_what_is_stored(
        client, tokens, services, minutes, outcome) -> None:
    _post(client, tokens["ops"], order_json("MP2", minutes=0))
    before = _rows(services)
    again = _post(client, tokens["ops"], order_json("MP2", minutes=minutes, status="shipped"))
    assert again.status_code == 200
    assert again.get_json()["outcome"] == outcome
    assert again.get_json()["order"]["status"] == "awaiting_shipment"
    assert _rows(services) == before


# integers beyond 64 bits are refused by the shared request guard (out_of_range) before the
# order schema sees them; everything else by the order schema (invalid_order)
@pytest.mark.parametrize("mutate,path,words", [
    (lambda b: b.pop("order_id"), "", "'order_id' is a required property"),
    (lambda b: b["lines"][1].update(qty="2"), "/lines/1/qty", "'2' is not of type 'integer'"),
    (lambda b: b["lines"][0].update(unit_price=99.5), "/lines/0/unit_price", "is not of type 'integer'"),
    (lambda b: b["lines"][0].update(unit_price=10 ** 12), "/lines/0/unit_price", "greater than the maximum"),
    (lambda b: b["lines"][0].update(qty=1_000_001), "/lines/0/qty", "greater than the maximum of 1000000"),
    (lambda b: b["lines"][0].update(unit_price=10 ** 40), "/lines/0/unit_price", "integer out of range"),
    (lambda b: b["lines"][0].update(qty=10 ** 80), "/lines/0/qty", "integer out of range"),
    (lambda b: b.update(status="paid"), "/status", "is not one of"),
    (lambda b: b.update(updated_at="2026-11-11 10:00:00"), "/updated_at", "does not match"),
    (lambda b: b.update(channel="taobao"), "/channel", "'miniprogram' was expected"),
    (lambda b: b["receiver"].update(zip="400000"), "/receiver", "unknown field(s)"),
    (lambda b: b.update(lines=[]), "/lines", "should be non-empty"),
    (lambda b: b.update(updated_at="2026-13-45T10:00:00+08:00"), "/updated_at", "is not an ISO 8601 time"),
])
def test_an_invalid_order_is_refused_with_the_field_path_and_nothing_changes(
        client, tokens, services, mutate, path, words) -> None:
    body = order_json("BAD1")
    mutate(body)
    response = _post(client, tokens["ops"], body)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == ("out_of_range" if words == "integer out of range" else "invalid_order")
    assert any(d["path"] == path and words in d["message"] for d in error["details"]), error
    assert _rows(services) == (0, 0, 0)


def test_bad_bodies_get_a_clear_error_and_change_nothing(client, tokens, services) -> None:
    not_utf8 = json.dumps(order_json("X1"), ensure_ascii=False).encode("utf-8").replace(
        "王小明".encode(), "王小明".encode("gbk"))
    cases = [
        (not_utf8, 400, "malformed_body", "not UTF-8"),
        (b'{"order_id": "X1", ', 400, "malformed_body", "not valid JSON"),
        (b'{"order_id": NaN}', 400, "malformed_body", "NaN is not a JSON number"),
        (b"[1, 2]", 422, "invalid", "must be a JSON object"),
        (b'{"freight": ' + b"9" * 5000 + b"}", 400, "malformed_body", "not valid JSON"),
        (b"", 400, "bad_request", "empty"),
        (b'{"order_id": "' + b"9" * (10 * 1024 * 1024) + b'"}', 413, "body_too_large", ""),
    ]
    for data, status, code, words in cases:
        response = _post(client, tokens["ops"], data)
        assert response.status_code == status, (data[:40], response.get_json())
        error = response.get_json()["error"]
        assert error["code"] == code and words in error["message"], error
    assert _rows(services) == (0, 0, 0)


def test_posting_needs_a_role_that_may_take_orders(client, tokens) -> None:
    assert _post(client, tokens["warehouse"], order_json()).status_code == 403
    assert client.post(URL, json=order_json()).status_code == 401


def _seed(client, token, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = order_json(f"P{i:03d}", created_at=f"2026-11-11T10:{i:02d}:00+08:00",
                          status="cancelled" if i % 3 == 0 else "awaiting_shipment",
                          buyer_phone=f"1381234{i:04d}")
        assert _post(client, token, body).status_code == 201
        ids.append(f"P{i:03d}")
    return ids


def test_the_list_pages_by_cursor_newest_first_without_repeats(client, tokens) -> None:
    ids = _seed(client, tokens["ops"], 12)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = client.get(URL, query_string=query, headers=auth(tokens["cs"])).get_json()
        seen += [item["order_id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(ids))
    bad = client.get(URL, query_string={"cursor": "nonsense"}, headers=auth(tokens["cs"]))
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "bad_cursor"
    assert bad.get_json()["error"]["details"] == [{"path": "/cursor", "message": "unknown cursor"}]


def test_the_list_filters_by_channel_status_time_and_q(client, tokens) -> None:
    _seed(client, tokens["ops"], 9)
    h = auth(tokens["ops"])

    def ids(**q):
        response = client.get(URL, query_string=q, headers=h)
        assert response.status_code == 200, response.get_json()
        return [i["order_id"] for i in response.get_json()["items"]]

    assert ids(status="cancelled") == ["P006", "P003", "P000"]
    assert ids(channel="miniprogram", status="cancelled,awaiting_shipment")[:2] == ["P008", "P007"]
    assert ids(channel="douyin") == []
    assert ids(created_from="2026-11-11T02:03:00+00:00", created_to="2026-11-11T10:05:00+08:00") == ["P004", "P003"]
    assert ids(q="P005") == ["P005"]
    assert ids(q="0007") == ["P007"]  # the phone's last four digits
    assert ids(paid_from="2026-11-11T02:00:00Z")[:1] == ["P008"]
    response = client.get(URL, query_string={"status": "paid"}, headers=h)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["path"] == "/status"


def test_one_order_by_id_and_by_channel_and_order_id(client, tokens) -> None:
    pk = _post(client, tokens["ops"], order_json("MP-7")).get_json()["order"]["id"]
    by_id = client.get(f"{URL}/{pk}", headers=auth(tokens["admin"])).get_json()
    by_key = client.get(f"{URL}/miniprogram/MP-7", headers=auth(tokens["admin"])).get_json()
    assert by_id == by_key
    assert by_id["payloads"][0]["payload"]["order_id"] == "MP-7"
    assert [e["kind"] for e in by_id["timeline"]] == ["created"]
    missing = client.get(f"{URL}/miniprogram/NOPE", headers=auth(tokens["admin"]))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "order_not_found"
    assert client.get(f"{URL}/999999", headers=auth(tokens["admin"])).status_code == 404


MATRIX = {
    #            name      receiver phone   address                        raw payload
    "admin": ("王小明", "13812345678", "重庆市重庆市璧山区璧泉街道双星大道8号", "full"),
    "warehouse": ("王小明", "13812345678", "重庆市重庆市璧山区璧泉街道双星大道8号", None),
    "cs_lead": ("王小明", "138****5678", "重庆市重庆市璧山区璧泉街道双星大道8号", None),
    "cs": ("王小明", "138****5678", "重庆市重庆市璧山区****", None),
    "ops": ("王**", "138****5678", "重庆市重庆市璧山区****", "masked"),
    "finance": ("王**", "138****5678", "重庆市重庆市璧山区****", None),
}


@pytest.mark.parametrize("role", sorted(MATRIX))
def test_each_role_sees_the_receiver_as_the_matrix_says(client, tokens, role) -> None:
    body = order_json("MASK1", minutes=0)
    body["receiver"]["cipher"] = {"phone": "#enc#abc"}
    pk = _post(client, tokens["admin"], body).get_json()["order"]["id"]
    _post(client, tokens["admin"], {**body, "updated_at": "2026-11-11T03:00:00+00:00",
                                    "receiver": {**body["receiver"], "phone": "13900001111"}})
    name, phone, address, raw = MATRIX[role]
    got = client.get(f"{URL}/{pk}", headers=auth(tokens[role])).get_json()
    receiver = got["order"]["receiver"]
    full_phone = "*" not in phone
    assert receiver["name"] == name
    assert receiver["phone"] == ("13900001111" if full_phone else "139****1111")
    assert receiver["address"] == address
    assert got["order"]["buyer_phone"] == ("13812345678" if full_phone else "138****5678")
    assert ("cipher" in receiver) is (role == "admin")
    change = next(c for c in got["timeline"][-1]["changes"] if c["path"] == "receiver.phone")
    assert change == ({"path": "receiver.phone", "from": "13812345678", "to": "13900001111"} if full_phone
                      else {"path": "receiver.phone", "from": "138****5678", "to": "139****1111"})
    listed = client.get(URL, headers=auth(tokens[role])).get_json()["items"][0]
    assert listed["buyer_phone"] == got["order"]["buyer_phone"]
    if raw is None:
        assert "payloads" not in got
    else:
        first = got["payloads"][0]["payload"]["receiver"]
        assert first["phone"] == ("13812345678" if raw == "full" else "138****5678")
        assert first["address"] == ("重庆市重庆市璧山区璧泉街道双星大道8号" if raw == "full" else "重庆市重庆市****")


def test_orders_routes_are_in_the_openapi_document(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    for p in ("/api/v1/orders", "/api/v1/orders/{pk}", "/api/v1/orders/{channel}/{order_id}",
              "/api/v1/orders/parked", "/api/v1/orders/parked/{parked_id}/retry"):
        assert p in paths, p
    post = paths["/api/v1/orders"]["post"]
    assert {"200", "201", "400", "413", "422"} <= set(post["responses"])
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["lines"]["items"]["properties"]["qty"]["maximum"] == 1000000
    assert schema["properties"]["channel"]["enum"] == ["miniprogram"]


def test_the_order_schema_covers_the_order_model_catalogue() -> None:
    """The JSON Schema of POST /orders and the field catalogue rules are checked against name
    the same fields (only ``channel`` is fixed here: this route takes the own channel's orders)."""
    from dsl.order_model import LINE_FIELDS, ORDER_FIELDS
    from engine.orders.routes import order_schema

    schema = order_schema()
    assert set(schema["properties"]) == set(ORDER_FIELDS)
    line = schema["$defs"]["line"]["properties"]
    assert set(line) == set(LINE_FIELDS)
    receiver = schema["properties"]["receiver"]["properties"]
    assert set(receiver) == set(ORDER_FIELDS["receiver"])
    assert set(receiver["cipher"]["properties"]) == set(ORDER_FIELDS["receiver"]["cipher"])
    assert set(schema["$defs"]["refund"]["properties"]) == set(ORDER_FIELDS["refunds"]["[]"])


def test_a_posted_test_order_is_dropped_by_the_published_cleaning_and_listed_as_dropped(client, tokens, services) -> None:
    from tests.orders.test_intake import publish

    publish(services)
    body = order_json("MP-TEST")
    body["receiver"]["name"] = "测试"
    response = _post(client, tokens["ops"], body)
    assert response.status_code == 201
    got = response.get_json()
    assert got["outcome"] == "dropped"
    assert got["order"]["dropped"]["rule"] == 'receiver.name in ["测试", "测试单", "test"]'
    _post(client, tokens["ops"], order_json("MP-REAL"))
    listed = client.get(URL, query_string={"dropped": "true"}, headers=auth(tokens["ops"])).get_json()["items"]
    assert [(i["order_id"], i["dropped"]) for i in listed] == [("MP-TEST", True)]
    kept = client.get(URL, query_string={"dropped": "false"}, headers=auth(tokens["ops"])).get_json()["items"]
    assert [i["order_id"] for i in kept] == ["MP-REAL"]
