"""``POST /api/v1/mappings/{name}/preview``: the published mapping of that name (template
imported and published) or draft rules; the body ``orderpulse map --json`` prints; the
contract's error body naming the payload path and the mapping line; access as the pricing
quote (every staff role)."""

from __future__ import annotations

import json
from typing import Any

from engine.auth.roles import STAFF_ROLES
from engine.orders.preview import RulesText, order_rules, preview_body, preview_json
from tests.conftest import auth
from tests.orders.helpers import PAYLOADS, TEMPLATE, template_line


def url(name: str) -> str:
    return f"/api/v1/mappings/{name}/preview"


def raw(file: str) -> bytes:
    return (PAYLOADS / file).read_bytes()


def post(client: Any, token: str, name: str, data: bytes) -> Any:
    return client.post(url(name), data=data, headers={**auth(token), "Content-Type": "application/json"})


def publish_template(client: Any, tokens: dict[str, str]) -> dict[str, Any]:
    ops = auth(tokens["ops"])
    imported = client.post("/api/v1/templates/sources_six_channels/import", json={"ruleset": "channels"},
                           headers=ops)
    assert imported.status_code == 201, imported.get_json()
    # rulesets declaring sources are published by an admin (the publish role matrix)
    published = client.post("/api/v1/rulesets/channels/publish", json={}, headers=auth(tokens["admin"]))
    assert published.status_code == 201, published.get_json()
    body: dict[str, Any] = published.get_json()
    return body


def test_the_published_mapping_previews_a_taobao_trade(client: Any, tokens: dict[str, str]) -> None:
    missing = post(client, tokens["cs"], "taobao", raw("taobao_trade_paid.json"))
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "mapping_not_found"
    version = publish_template(client, tokens)
    resp = post(client, tokens["cs"], "taobao", raw("taobao_trade_paid.json"))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["ruleset"] == {"name": "channels", "version": 1, "checksum": version["checksum"]}
    order = body["order"]
    assert (order["order_id"], order["status"], order["payment"]["paid_amount"]) == (
        "3812345678901234567", "awaiting_shipment", 51760)
    assert [ln["sku_id"] for ln in order["lines"]] == ["TEA-LJ-250", "SCARF-SILK"]
    assert order["paid_at"] == "2024-03-08T12:16:05+00:00"
    # byte for byte what `orderpulse map --json` prints for the same rules
    rules = order_rules([RulesText(TEMPLATE, "channels", "dsl", 1, version["checksum"])])
    expected = preview_json(preview_body(rules, "taobao",
                                         json.loads(raw("taobao_trade_paid.json"))))
    assert resp.get_data(as_text=True) == expected


def test_a_payload_that_does_not_fit_gets_path_and_line(client: Any, tokens: dict[str, str]) -> None:
    publish_template(client, tokens)
    data = json.loads(raw("douyin_shop_order_detail.json"))
    data["sku_order_list"][1]["origin_amount"] = 69.9
    resp = post(client, tokens["ops"], "douyin", json.dumps(data).encode())
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    line = template_line("douyin", "price = fen(origin_amount)")
    assert error["code"] == "mapping_failed"
    assert error["message"] == f"$.sku_order_list[1].origin_amount: 69.9 is not an amount in fen (mapping douyin, line {line})"
    assert error["details"] == [{"path": "$.sku_order_list[1].origin_amount", "mapping": "douyin", "line": line,
                                 "col": 9, "message": "69.9 is not an amount in fen"}]


def test_draft_rules_preview_without_publishing(client: Any, tokens: dict[str, str]) -> None:
    body = {"rules": TEMPLATE, "payload": json.loads(raw("pdd_order_info.json"))}
    resp = client.post(url("pdd"), json=body, headers=auth(tokens["warehouse"]))
    assert resp.status_code == 200, resp.get_json()
    answer = resp.get_json()
    assert answer["ruleset"]["name"] == "draft" and answer["ruleset"]["version"] is None
    assert answer["order"]["payment"]["paid_amount"] == 19880
    broken = client.post(url("pdd"), json={"rules": "mapping pdd {\n  status = order_status map { 1: \"待发\" }\n}\n",
                                           "payload": {}}, headers=auth(tokens["ops"]))
    assert broken.status_code == 422
    error = broken.get_json()["error"]
    assert error["code"] == "invalid_rules"
    assert error["details"][0]["path"] == "/rules" and error["details"][0]["line"] == 2
    assert "'待发' is not an order status" in error["details"][0]["message"]
    unknown = client.post(url("jd"), json={"rules": TEMPLATE, "payload": {}}, headers=auth(tokens["ops"]))
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "mapping_not_found"


def test_bad_bodies_are_refused_clearly(client: Any, tokens: dict[str, str]) -> None:
    token = tokens["ops"]
    not_utf8 = post(client, token, "pdd", b'{"order_sn": "\xff"}')
    assert not_utf8.status_code == 400 and not_utf8.get_json()["error"]["code"] == "malformed_body"
    not_json = post(client, token, "pdd", b"{order")
    assert not_json.status_code == 400 and not_json.get_json()["error"]["code"] == "malformed_body"
    too_long = post(client, token, "pdd", b'{"pay_amount": ' + b"9" * 5000 + b"}")
    assert too_long.status_code == 400 and too_long.get_json()["error"]["code"] == "malformed_body"
    empty = post(client, token, "pdd", b"")
    assert empty.status_code == 400 and empty.get_json()["error"]["code"] == "malformed_body"
    huge = post(client, token, "pdd", b'{"x": "' + b"a" * (11 * 1024 * 1024) + b'"}')
    assert huge.status_code == 413 and huge.get_json()["error"]["code"] == "body_too_large"
    data = json.loads(raw("pdd_order_info.json"))
    data["pay_amount"] = 10**10  # yuan: within 64 bits, beyond what any order can cost
    big = client.post(url("pdd"), json={"rules": TEMPLATE, "payload": data}, headers=auth(token))
    assert big.status_code == 422
    assert big.get_json()["error"]["details"][0]["message"] == ("10000000000 is too large "
                                                                "an amount (more than ¥1,000,000,000)")
    data["pay_amount"] = 10**30  # beyond 64 bits: refused by the request guard before any mapping runs
    huge_int = client.post(url("pdd"), json={"rules": TEMPLATE, "payload": data}, headers=auth(token))
    assert huge_int.status_code == 422 and huge_int.get_json()["error"]["code"] == "out_of_range"
    assert huge_int.get_json()["error"]["details"][0]["path"] == "/payload/pay_amount"
    array = client.post(url("pdd"), json={"rules": TEMPLATE, "payload": [1]}, headers=auth(token))
    assert array.status_code == 422
    assert array.get_json()["error"]["details"][0]["path"] == "$"


def test_every_staff_role_may_preview_and_nobody_else(client: Any, tokens: dict[str, str]) -> None:
    body = {"rules": TEMPLATE, "payload": json.loads(raw("miniprogram_order.json"))}
    for role in STAFF_ROLES:
        assert client.post(url("miniprogram"), json=body, headers=auth(tokens[role])).status_code == 200, role
    assert client.post(url("miniprogram"), json=body).status_code == 401


def test_the_route_is_in_the_openapi_document(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/mappings/{name}/preview"]["post"]
    assert {"200", "404", "413", "422"} <= set(operation["responses"])
