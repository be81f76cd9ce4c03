"""Bad input gets a clear 4xx and changes nothing: malformed JSON (deep nesting, lone
surrogates, non-UTF-8), wrong Content-Type, oversized bodies (refused before reading),
integers beyond the columns, NUL bytes and unsafe identifiers, unbounded money."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from sqlalchemy import update

from engine.api.request_guard import route_body_kind
from engine.app import create_app
from engine.auth.access import allow, public
from engine.inventory.models import StockItem
from engine.values import MAX_STOCK, MONEY_MAX_FEN
from tests.conftest import auth
from tests.security.helpers import api_routes, stored_state
from tests.workflow.helpers import HOOK_SECRET, post_signed, publish_template, publish_text

DEEP = b"[" * 10_000 + b"]" * 10_000
LONE_SURROGATE = b'{"sku_id": "\\ud800", "delta": 1, "reason": "x"}'
NOT_UTF8 = b'{"reason": "\xff\xfe"}'
JSON = {"Content-Type": "application/json"}


def error_of(resp: Any) -> dict[str, Any]:
    body = resp.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    return body["error"]


@pytest.mark.parametrize("raw", [DEEP, LONE_SURROGATE, NOT_UTF8, b'{"a": NaN}', b'{"a": 1e999}', b"{"],
                         ids=["deep", "lone_surrogate", "not_utf8", "nan", "infinite", "truncated"])
def test_malformed_json_is_400_on_every_json_route(client, services, tokens, raw) -> None:
    before = stored_state(services)
    app = client.application
    # signed webhooks and platform pushes take raw bytes: their signature is checked before parsing
    routes = [(m, u) for m, u, e in api_routes(app) if m in ("POST", "PUT", "PATCH")
              and u.startswith("/api/v1/") and route_body_kind(app.view_functions[e], u) != "hook"]
    assert len(routes) >= 12
    for method, url in routes:
        resp = client.open(url, method=method, data=raw, headers={**JSON, **auth(tokens["admin"])})
        assert resp.status_code == 400, (method, url, resp.status_code, resp.get_json())
        assert error_of(resp)["code"] == "malformed_body"
    assert stored_state(services) == before


def test_the_hook_checks_its_signature_before_parsing(client, services, tokens, clock, monkeypatch) -> None:
    monkeypatch.setenv("TEST_CARRIER_SECRET", HOOK_SECRET)
    publish_text(client, tokens, "parcels", 'hook carrier signed {\n    secret env TEST_CARRIER_SECRET\n'
                                            '    ticket = payload.ticket_id\n}\n')
    unsigned = client.post("/api/v1/hooks/carrier", data=DEEP, headers=JSON)
    assert unsigned.status_code == 401 and error_of(unsigned)["code"] == "bad_signature"
    from engine.workflow.webhooks import sign_body

    ts = str(int(clock.now().timestamp()))
    for raw in (DEEP, LONE_SURROGATE, NOT_UTF8):
        signed = client.post("/api/v1/hooks/carrier", data=raw, headers={
            **JSON, "X-OrderPulse-Timestamp": ts, "X-OrderPulse-Signature": sign_body(HOOK_SECRET, ts, raw)})
        assert signed.status_code == 400 and error_of(signed)["code"] == "malformed_body"
    nan = client.post("/api/v1/hooks/carrier", data=b"{}", headers={
        **JSON, "X-OrderPulse-Timestamp": "nan", "X-OrderPulse-Signature": sign_body(HOOK_SECRET, "nan", b"{}")})
    assert nan.status_code == 401 and error_of(nan)["code"] == "stale_timestamp"


def test_a_hook_whose_secret_is_unset_says_little_to_anonymous_callers(client, tokens, clock, monkeypatch,
                                                                        log_stream) -> None:
    monkeypatch.delenv("TEST_CARRIER_SECRET", raising=False)
    publish_text(client, tokens, "parcels", 'hook carrier signed {\n    secret env TEST_CARRIER_SECRET\n'
                                            '    ticket = payload.ticket_id\n}\n')
    resp = post_signed(client, "carrier", {"ticket_id": 1}, timestamp=int(clock.now().timestamp()))
    assert resp.status_code == 503
    assert error_of(resp) == {"code": "hook_not_configured", "message": "this webhook is not available", "details": []}
    logged = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert any(e["event"] == "hook_not_configured" and e["variable"] == "TEST_CARRIER_SECRET" for e in logged)


def test_wrong_content_type_is_415(client, services, tokens) -> None:
    before = stored_state(services)
    body = json.dumps({"sku_id": "TEA-1", "delta": 5, "reason": "inbound"})
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = auth(tokens["admin"]) | ({"Content-Type": content_type} if content_type else {})
        resp = client.post("/api/v1/stock/adjust", data=body, headers=headers)
        assert resp.status_code == 415, (content_type, resp.get_json())
        assert error_of(resp)["code"] == "unsupported_media_type"
    assert stored_state(services) == before


class _Unreadable(io.RawIOBase):
    """A request body that fails the test if anyone reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


def test_oversized_bodies_are_refused_before_reading(client, services, tokens) -> None:
    before = stored_state(services)
    cases = [("/api/v1/stock/adjust", auth(tokens["admin"]), 256 * 1024),
             ("/api/v1/rulesets/x/draft", auth(tokens["admin"]), 1024 * 1024),
             ("/api/v1/hooks/anything", {}, 64 * 1024),
             ("/api/v1/sources/anything/push", {}, 64 * 1024)]
    for url, headers, limit in cases:
        method = "PUT" if url.endswith("/draft") else "POST"
        env = {"wsgi.input": _Unreadable(), "CONTENT_LENGTH": str(200 * 1024 * 1024)}
        resp = client.open(url, method=method, headers={**JSON, **headers}, environ_overrides=env)
        assert resp.status_code == 413, (url, resp.get_json())
        error = error_of(resp)
        assert error["code"] == "body_too_large" and error["details"][0]["limit"] == limit
    assert stored_state(services) == before


def test_a_chunked_body_is_cut_off_at_the_limit(client, tokens) -> None:
    big = b'{"reason": "' + b"x" * (300 * 1024) + b'"}'
    # a server that passes a chunked stream through says so with wsgi.input_terminated
    resp = client.post("/api/v1/stock/adjust", input_stream=io.BytesIO(big),
                       headers={**JSON, **auth(tokens["admin"]), "Transfer-Encoding": "chunked"},
                       environ_overrides={"wsgi.input_terminated": True})
    assert resp.status_code == 413


def test_body_limits_are_configurable(services, tokens) -> None:
    from dataclasses import replace

    services.settings = replace(services.settings, body_limits={**services.settings.body_limits, "api": 100})
    client = create_app(services=services).test_client()
    ok = client.post("/api/v1/stock/adjust", json={"sku_id": "A", "delta": 1, "reason": "in"},
                     headers=auth(tokens["admin"]))
    assert ok.status_code == 200
    big = client.post("/api/v1/stock/adjust", json={"sku_id": "A", "delta": 1, "reason": "x" * 200},
                      headers=auth(tokens["admin"]))
    assert big.status_code == 413 and error_of(big)["details"][0]["limit"] == 100


@pytest.mark.parametrize(("sku", "why"), [
    ("a/b", "must not contain '/'"),
    ("a\u202eb", "must not contain U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("a\u200bb", "must not contain U+200B (ZERO WIDTH SPACE)"),
    ("a\x07b", "must not contain U+0007"),
    (" TEA-1", "must not start or end with white space"),
    ("TEA-1 ", "must not start or end with white space"),
    ("T" * 65, "must be at most 64 characters, got 65"),
])
def test_unsafe_identifiers_are_422(client, services, tokens, sku, why) -> None:
    before = stored_state(services)
    resp = client.post("/api/v1/stock/adjust", json={"sku_id": sku, "delta": 5, "reason": "inbound"},
                       headers=auth(tokens["admin"]))
    assert resp.status_code == 422
    details = error_of(resp)["details"]
    assert details[0]["path"] == "/sku_id" and any(d["message"].startswith(why) for d in details), details
    assert stored_state(services) == before


def test_nul_bytes_are_422_in_bodies_and_paths(client, services, tokens) -> None:
    before = stored_state(services)
    body = client.post("/api/v1/stock/adjust", json={"sku_id": "TEA-1", "delta": 5, "reason": "in\x00bound"},
                       headers=auth(tokens["admin"]))
    assert body.status_code == 422 and error_of(body)["details"] == [
        {"path": "/reason", "message": "NUL character not allowed"}]
    path = client.get("/api/v1/stock/TEA%001", headers=auth(tokens["admin"]))
    assert path.status_code == 422 and error_of(path)["details"][0]["path"] == "/sku_id"
    query = client.get("/api/v1/machines/m/diagram.svg?ruleset=a%00", headers=auth(tokens["admin"]))
    assert query.status_code == 422
    assert stored_state(services) == before


def test_integers_beyond_the_columns_are_422_with_their_bounds(client, services, tokens) -> None:
    admin = auth(tokens["admin"])
    before = stored_state(services)
    resp = client.get("/api/v1/instances/99999999999999999999", headers=admin)
    assert resp.status_code == 422 and error_of(resp)["details"][0]["maximum"] == 2**63 - 1
    client.post("/api/v1/rulesets", json={"name": "r", "content": ""}, headers=admin)
    before = stored_state(services)
    resp = client.post("/api/v1/rulesets/r/rollback", json={"to_version": 2**40}, headers=admin)
    assert resp.status_code == 422
    assert error_of(resp)["details"][0]["path"] == "/to_version"
    assert "less than or equal to 2147483647" in error_of(resp)["details"][0]["message"]
    resp = client.put("/api/v1/stock/TEA-1/channels/pdd", json={"quota": 2**70}, headers=admin)
    assert resp.status_code == 422 and error_of(resp)["details"][0]["path"] == "/quota"
    resp = client.put("/api/v1/stock/TEA-1/channels/pdd", json={"quota": 2**50}, headers=admin)
    assert resp.status_code == 422 and error_of(resp)["details"][0]["path"] == "/quota"
    assert stored_state(services) == before


def test_quotes_refuse_unbounded_quantities_and_money(client, tokens) -> None:
    line = {"line_id": "L1", "sku_id": "S1", "qty": 1, "unit_price": 100}
    cases = [({"qty": 10**2200}, "/order/lines/0/qty"), ({"unit_price": 10**2200}, "/order/lines/0/unit_price"),
             ({"unit_price": -100}, "/order/lines/0/unit_price"), ({"unit_price": 2**70}, "/order/lines/0/unit_price"),
             ({"unit_price": MONEY_MAX_FEN + 1}, "/order/lines/0/unit_price"),
             ({"qty": 1_000_001}, "/order/lines/0/qty"), ({"qty": 1000, "unit_price": MONEY_MAX_FEN},
                                                          "/order/lines/0/unit_price")]
    for change, path in cases:
        resp = client.post("/api/v1/pricing/quote", json={"order": {"lines": [{**line, **change}]}, "rules": ""},
                           headers=auth(tokens["cs"]))
        assert resp.status_code == 422, (change, resp.get_json())
        assert path in [d["path"] for d in error_of(resp)["details"]], (change, error_of(resp))


def test_workflow_data_refuses_unbounded_money_long_order_ids_and_keys(client, services, tokens) -> None:
    publish_template(client, tokens, "invoice")
    cs = auth(tokens["cs"])
    before = stored_state(services)
    for data, path in (({"order_id": "O-1", "amount": -100}, "/amount"),
                       ({"order_id": "O-1", "amount": 2**70}, "/data/amount"),  # refused by the guard
                       ({"order_id": "O-1", "amount": MONEY_MAX_FEN + 1}, "/amount"),
                       ({"order_id": "O" * 200, "amount": 100}, "/order_id"),
                       ({"order_id": "O/1", "amount": 100}, "/order_id")):
        resp = client.post("/api/v1/machines/invoice/instances", json={"data": data}, headers=cs)
        assert resp.status_code == 422, (data, resp.get_json())
        assert error_of(resp)["details"][0]["path"] == path
    assert stored_state(services) == before
    tid = client.post("/api/v1/machines/invoice/instances", json={"data": {"order_id": "O-1", "amount": 100}},
                      headers=cs).get_json()["id"]
    before = stored_state(services)
    ticket = client.get(f"/api/v1/instances/{tid}", headers=cs).get_json()
    action = (ticket["allowed_actions"] or ["x"])[0]
    resp = client.post(f"/api/v1/instances/{tid}/actions/{action}", json={},
                       headers={**cs, "Idempotency-Key": "k" * 300})
    assert resp.status_code == 422 and error_of(resp)["details"][0]["path"] == "/headers/Idempotency-Key"
    assert stored_state(services) == before


def test_stock_counters_hold_any_real_shop_and_totals_are_bounded(client, services, tokens) -> None:
    wh = auth(tokens["warehouse"])
    for i in range(22):  # 2.2 billion: past a 32-bit counter; each a distinct adjustment (not a replay)
        resp = client.post("/api/v1/stock/adjust", json={"sku_id": "TEA-1", "delta": 100_000_000, "reason": "inbound"},
                           headers={**wh, "Idempotency-Key": f"inbound-{i}"})
        assert resp.status_code == 200, resp.get_json()
    stock = client.get("/api/v1/stock/TEA-1", headers=wh).get_json()
    assert (stock["total_stock"], stock["available"]) == (2_200_000_000, 2_200_000_000)
    with services.db.transaction() as s:
        s.execute(update(StockItem).where(StockItem.sku_id == "TEA-1").values(total_stock=MAX_STOCK - 5))
    before = stored_state(services)
    resp = client.post("/api/v1/stock/adjust", json={"sku_id": "TEA-1", "delta": 10, "reason": "inbound"}, headers=wh)
    assert resp.status_code == 422
    assert error_of(resp)["details"][0] == {"path": "/delta", "message": "total stock out of range", "minimum": 0,
                                           "maximum": MAX_STOCK, "total_stock": MAX_STOCK - 5}
    assert stored_state(services) == before


def test_the_undeclared_static_route_is_gone(client, repo_root) -> None:
    assert client.get("/static/pyproject.toml").status_code == 404
    assert all(not r.rule.startswith("/static") for r in client.application.url_map.iter_rules())


def test_access_is_denied_by_default(services, tokens) -> None:
    app = create_app(services=services)

    def forgotten() -> str:
        return "open"

    app.add_url_rule("/api/v1/forgotten", "forgotten", forgotten)
    app.add_url_rule("/api/v1/declared", "declared", allow("admin")(lambda: "ok"))
    app.add_url_rule("/api/v1/public", "public_one", public(lambda: "hi"))
    client = app.test_client()
    resp = client.get("/api/v1/forgotten", headers=auth(tokens["admin"]))
    assert resp.status_code == 403 and error_of(resp)["code"] == "undeclared_access"
    assert client.get("/api/v1/declared", headers=auth(tokens["admin"])).status_code == 200
    assert client.get("/api/v1/declared").status_code == 401
    assert client.get("/api/v1/public").status_code == 200


def test_metrics_of_an_unknown_machine_are_404_and_ambiguity_names_working_parameters(client, services, tokens,
                                                                                     clock) -> None:
    resp = client.get("/api/v1/machines/nope/metrics", headers=auth(tokens["cs"]))
    assert resp.status_code == 404 and error_of(resp)["code"] == "unknown_machine"
    from engine.rulesets import publish_guards
    from engine.rulesets import service as rulesets

    machine = 'machine 发票 "发票" {\n    data { order_id: text }\n    initial 待开\n    state 待开 owner 财务\n' \
              '    state 已开 final\n    action 开票 from 待开 to 已开 by 财务\n}\n'
    original = publish_guards.check_unique_names
    try:
        publish_guards.check_unique_names = lambda *a, **k: None  # two owners, as before names were unique
        with services.db.transaction() as s:
            for name in ("a", "b"):
                rulesets.create_ruleset(s, name=name, actor="admin", now=clock.now(), content=machine)
                rulesets.publish(s, name, actor="admin", now=clock.now())
    finally:
        publish_guards.check_unique_names = original
    resp = client.get("/api/v1/machines/发票/metrics", headers=auth(tokens["cs"]))
    assert resp.status_code == 409 and "the query parameter `ruleset` for the diagram and the metrics" in \
        error_of(resp)["message"]
    named = client.get("/api/v1/machines/发票/metrics?ruleset=a", headers=auth(tokens["cs"]))
    assert named.status_code == 200 and named.get_json()["machine"] == "发票"
    created = client.post("/api/v1/machines/发票/instances", json={"data": {"order_id": "O1"}, "ruleset": "b"},
                          headers=auth(tokens["cs"]))
    assert created.status_code == 201 and created.get_json()["ruleset"] == "b"


def test_a_single_valued_query_parameter_given_twice_is_422_and_one_given_once_is_read(client, tokens) -> None:
    headers = auth(tokens["admin"])
    twice = client.get("/api/v1/alerts?alert=面料起球预警&alert=色差预警", headers=headers)
    assert twice.status_code == 422
    assert error_of(twice)["code"] == "repeated_parameter"
    assert error_of(twice)["details"] == [{"path": "/alert", "message": "given more than once"}]
    once = client.get("/api/v1/alerts?alert=面料起球预警,色差预警", headers=headers)
    assert once.status_code == 200 and once.get_json()["items"] == []
