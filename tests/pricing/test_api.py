"""``POST /api/v1/pricing/quote`` end to end: a dry run with rules text, the latest published
version of a ruleset (template imported, published, republished), the contract's errors with
field paths, and access for every staff role."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dsl
from engine.auth.roles import STAFF_ROLES
from engine.pricing import quote_order
from engine.pricing.loading import plan_from_content, quote_json
from engine.pricing.plan import checksum_of
from tests.conftest import auth
from tests.pricing.helpers import line, order

URL = "/api/v1/pricing/quote"
TEMPLATE = (Path(__file__).resolve().parents[2] / "templates_library"
            / "promotion_apparel_festival.op").read_text(encoding="utf-8")
ORDER = order(line("L1", 45900, "连衣裙"), line("L2", 29900, "针织衫"),
              line("L3", 5900, "T恤", tags=["秒杀"]), level="金卡", red_packet=1000,
              province="新疆维吾尔自治区")


def post(client: Any, token: str, body: dict[str, Any]) -> Any:
    return client.post(URL, json=body, headers=auth(token))


def test_dry_run_returns_the_quote_body_byte_for_byte(client: Any, tokens: dict[str, str]) -> None:
    resp = post(client, tokens["cs"], {"order": ORDER, "rules": TEMPLATE})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert list(body) == ["lines", "totals", "gifts", "log", "ruleset", "promotion"]
    assert body["ruleset"] == {"name": "dry-run", "version": None, "checksum": checksum_of(TEMPLATE)}
    assert body["totals"]["payable"] == 68910
    assert set(body["lines"][0]) >= {"line_id", "sku_id", "original", "discounts", "payable"}
    assert set(body["lines"][0]["discounts"][0]) == {"rule", "tier", "amount", "funded_by"}
    expected = quote_json(quote_order(plan_from_content(TEMPLATE, name="dry-run"), ORDER))
    assert resp.get_data(as_text=True) == expected


def test_dry_run_accepts_the_json_form_of_the_rules(client: Any, tokens: dict[str, str]) -> None:
    as_json = dsl.to_json_text(dsl.parse_text(TEMPLATE))
    resp = post(client, tokens["ops"], {"order": ORDER, "rules": as_json, "format": "json"})
    assert resp.status_code == 200, resp.get_json()
    dsl_body = post(client, tokens["ops"], {"order": ORDER, "rules": TEMPLATE}).get_json()
    json_body = resp.get_json()
    assert json_body["lines"] == dsl_body["lines"] and json_body["totals"] == dsl_body["totals"]
    assert json_body["ruleset"]["checksum"] == checksum_of(as_json)


def test_quote_runs_on_the_latest_published_version(client: Any, tokens: dict[str, str]) -> None:
    ops = auth(tokens["ops"])
    imported = client.post("/api/v1/templates/promotion_apparel_festival/import",
                           json={"ruleset": "festival"}, headers=ops)
    assert imported.status_code == 201, imported.get_json()
    # imported but not published yet: nothing to price with
    missing = post(client, tokens["cs"], {"order": ORDER, "ruleset": "festival"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "version_not_found"

    v1 = client.post("/api/v1/rulesets/festival/publish", json={}, headers=ops)
    assert v1.status_code == 201, v1.get_json()
    first = post(client, tokens["cs"], {"order": ORDER, "ruleset": "festival"}).get_json()
    assert first["ruleset"] == {"name": "festival", "version": 1, "checksum": v1.get_json()["checksum"]}
    assert first["log"][0]["ruleset"] == first["ruleset"]
    assert first["totals"]["payable"] == 68910

    richer = TEMPLATE.replace('"金卡95折" when customer.level == "金卡" { percent_off 5%',
                              '"金卡9折" when customer.level == "金卡" { percent_off 10%')
    assert richer != TEMPLATE
    assert client.put("/api/v1/rulesets/festival/draft", json={"content": richer},
                      headers=ops).status_code == 200
    v2 = client.post("/api/v1/rulesets/festival/publish", json={}, headers=ops)
    assert v2.status_code == 201, v2.get_json()
    second = post(client, tokens["finance"], {"order": ORDER, "ruleset": "festival"}).get_json()
    assert second["ruleset"]["version"] == 2
    assert second["ruleset"]["checksum"] == v2.get_json()["checksum"] != first["ruleset"]["checksum"]
    assert second["lines"][0]["discounts"][0]["rule"] == "金卡9折"
    assert second["totals"]["payable"] < first["totals"]["payable"]


def test_bad_orders_get_422_with_field_paths(client: Any, tokens: dict[str, str]) -> None:
    bad = json.loads(json.dumps(ORDER))
    bad["lines"][0]["qty"] = -1
    bad["lines"][1]["unit_price"] = 299.0
    bad["red_packet"] = "10"
    resp = post(client, tokens["cs"], {"order": bad, "rules": TEMPLATE})
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "invalid_order"
    assert [d["path"] for d in error["details"]] == ["/order/lines/0/qty", "/order/lines/1/unit_price",
                                                     "/order/red_packet"]
    no_order = post(client, tokens["cs"], {"rules": TEMPLATE})
    assert no_order.status_code == 422 and no_order.get_json()["error"]["details"][0]["path"] == "/order"


def test_choosing_the_rules_is_checked(client: Any, tokens: dict[str, str]) -> None:
    both = post(client, tokens["cs"], {"order": ORDER, "rules": TEMPLATE, "ruleset": "x"})
    assert both.status_code == 422
    neither = post(client, tokens["cs"], {"order": ORDER})
    assert neither.status_code == 422
    assert {d["path"] for d in neither.get_json()["error"]["details"]} == {"/ruleset", "/rules"}
    unknown = post(client, tokens["cs"], {"order": ORDER, "ruleset": "no_such_ruleset"})
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "ruleset_not_found"
    broken = post(client, tokens["cs"], {"order": ORDER, "rules": 'promotion p {\n  tier t {\n'
                                                                    '    rule "r" { percent_of 5% }\n}}'})
    assert broken.status_code == 422
    error = broken.get_json()["error"]
    assert error["code"] == "invalid_rules"
    assert error["details"][0]["path"] == "/rules" and error["details"][0]["line"] == 3
    two = post(client, tokens["cs"], {"order": ORDER, "rules": TEMPLATE + TEMPLATE.replace(
        "apparel_festival", "second")})
    assert two.status_code == 422 and "name the one" in two.get_json()["error"]["message"]
    named = post(client, tokens["cs"], {"order": ORDER, "promotion": "second",
                                        "rules": TEMPLATE + TEMPLATE.replace("apparel_festival", "second")})
    assert named.status_code == 200 and named.get_json()["promotion"] == "second"
    extra = post(client, tokens["cs"], {"order": ORDER, "rules": TEMPLATE, "dry": True})
    assert extra.status_code == 422


def test_every_staff_role_may_quote_and_anonymous_callers_may_not(client: Any, tokens: dict[str, str]) -> None:
    for role in STAFF_ROLES:
        assert post(client, tokens[role], {"order": ORDER, "rules": TEMPLATE}).status_code == 200, role
    assert client.post(URL, json={"order": ORDER, "rules": TEMPLATE}).status_code == 401


def test_the_route_is_in_the_openapi_document(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/pricing/quote"]["post"]
    assert {"200", "404", "422"} <= set(operation["responses"])
