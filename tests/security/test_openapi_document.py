"""The API document tells the truth: one ``ErrorBody`` schema on every error response, every
status the shared steps can give declared on every operation, no ``default`` catch-all, and
the constraints the server enforces (identifier pattern and length, integer bounds, enums,
required fields) written into the schemas."""

from __future__ import annotations

import re

from engine.values import IDENTIFIER_PATTERN, MONEY_MAX_FEN


def test_no_default_and_every_error_response_uses_the_error_body(client) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    operations = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
                  if method in ("get", "post", "put", "patch", "delete")]
    assert len(operations) >= 25
    for path, method, op in operations:
        responses = op["responses"]
        assert "default" not in responses, (path, method)
        for status, response in responses.items():
            if int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"} or \
                    schema["$ref"].endswith("ErrorBody"), (path, method, status, schema)
        assert {"400", "422"} <= set(responses), (path, method)
        if method in ("post", "put", "patch"):
            assert {"413", "415"} <= set(responses), (path, method)
        if op.get("security") != []:
            assert {"401", "403"} <= set(responses), (path, method)
    error = doc["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error"]


def test_declared_success_responses_and_public_routes(client) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    assert paths["/api/v1/hooks/{hook}"]["post"]["security"] == []
    assert {"200", "401", "503"} <= set(paths["/api/v1/hooks/{hook}"]["post"]["responses"])
    assert "200" in paths["/api/v1/templates/{name}"]["get"]["responses"]
    assert "200" in paths["/api/v1/machines/{machine}/metrics"]["get"]["responses"]
    svg = paths["/api/v1/machines/{machine}/diagram.svg"]["get"]["responses"]["200"]
    assert "image/svg+xml" in svg["content"]


def test_enforced_constraints_are_in_the_document(client) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    adjust = schemas["Adjust"]["properties"]
    assert adjust["sku_id"]["maxLength"] == 64 and adjust["sku_id"]["pattern"] == IDENTIFIER_PATTERN
    assert adjust["delta"]["not"] == {"enum": [0]}
    assert (adjust["delta"]["minimum"], adjust["delta"]["maximum"]) == (-100_000_000, 100_000_000)
    assert schemas["RulesetCreate"]["properties"]["name"]["pattern"]
    assert schemas["Rollback"]["properties"]["to_version"]["maximum"] == 2**31 - 1
    instance = doc["paths"]["/api/v1/instances/{instance_id}"]["parameters"][0]["schema"]
    assert instance["maximum"] == 2**63 - 1
    assert re.compile(IDENTIFIER_PATTERN).match("待审核-SKU 1") and not re.compile(IDENTIFIER_PATTERN).match("a/b")
    assert MONEY_MAX_FEN == 10**12
