"""Rulesets through the API: draft → publish v1 → edit → publish v2 → rollback to v1 gives v3
with v1's content and checksum; the draft follows; versions are listed newest first."""

from __future__ import annotations

import hashlib

import pytest

from tests.rulesets.helpers import L1, L2, L3, Api, text


@pytest.fixture
def api(client, tokens) -> Api:
    return Api(client, tokens)


def sha(content: str) -> str:
    return "sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


def test_create_edit_publish_edit_publish_rollback(api: Api, clock) -> None:
    status, created = api.call("POST", "", body={"name": "spring", "title": "春节大促", "content": text(L1), "format": "dsl"})
    assert status == 201, created
    assert created["ruleset"] == "spring" and created["title"] == "春节大促"
    assert (created["revision"], created["base_version"], created["latest_version"]) == (1, 0, 0)
    assert created["updated_by"] == "user_ops"

    clock.advance(60)
    status, draft = api.call("PUT", "/spring/draft", body={"content": text(L1, L2), "revision": 1})
    assert status == 200, draft
    assert draft["revision"] == 2 and draft["content"] == text(L1, L2)

    clock.advance(60)
    status, v1 = api.call("POST", "/spring/publish", body={"base_version": 0, "note": "首发"})
    assert status == 201, v1
    assert v1["version"] == 1
    assert v1["content"] == text(L1, L2)
    assert v1["checksum"] == sha(text(L1, L2))
    assert v1["published_by"] == "user_ops"
    assert v1["published_at"].startswith("2026-11-11T00:02:00")
    assert v1["rolled_back_from"] is None and v1["note"] == "首发"

    status, draft = api.call("PUT", "/spring/draft", role="admin", body={"content": text(L1, L3), "revision": 2})
    assert status == 200 and draft["revision"] == 3 and draft["base_version"] == 1
    status, v2 = api.call("POST", "/spring/publish", role="admin", body={"base_version": 1})
    assert status == 201 and v2["version"] == 2 and v2["checksum"] == sha(text(L1, L3))
    assert v2["published_by"] == "user_admin"

    clock.advance(3600)
    status, v3 = api.call("POST", "/spring/rollback", body={"to_version": 1})
    assert status == 201, v3
    assert v3["version"] == 3
    assert v3["rolled_back_from"] == 1
    assert v3["content"] == v1["content"]
    assert v3["checksum"] == v1["checksum"]

    draft = api.get("/spring/draft")
    assert draft["content"] == text(L1, L2)
    assert draft["revision"] == 4 and draft["base_version"] == 3 and draft["latest_version"] == 3

    versions = api.get("/spring/versions")
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert "content" not in versions[0]
    assert [v["checksum"] for v in versions] == [sha(text(L1, L2)), sha(text(L1, L3)), sha(text(L1, L2))]
    # Earlier versions are still there, untouched.
    assert api.get("/spring/versions/2")["content"] == text(L1, L3)
    assert api.get("/spring", role="finance")["latest_version"] == 3
    assert [r["name"] for r in api.get("", role="warehouse")] == ["spring"]


def test_stale_draft_revision_is_refused_and_changes_nothing(api: Api) -> None:
    api.call("POST", "", body={"name": "r", "content": text(L1)})
    assert api.call("PUT", "/r/draft", body={"content": text(L1, L2), "revision": 1})[0] == 200
    before = api.snapshot("r")
    status, body = api.call("PUT", "/r/draft", role="admin", body={"content": text(L3), "revision": 1})
    assert status == 409
    assert body["error"]["code"] == "stale_revision"
    assert body["error"]["details"][0] == {
        "path": "/revision", "message": "stale draft revision", "revision": 1, "current_revision": 2,
    }
    assert api.snapshot("r") == before


def test_publish_refuses_a_draft_identical_to_the_latest_version(api: Api) -> None:
    api.call("POST", "", body={"name": "same", "content": text(L1)})
    assert api.call("POST", "/same/publish", body={})[0] == 201
    status, body = api.call("POST", "/same/publish", body={})
    assert status == 409 and body["error"]["code"] == "unchanged"
    assert [v["version"] for v in api.get("/same/versions")] == [1]


def test_publish_with_a_stale_draft_revision_is_refused(api: Api) -> None:
    api.call("POST", "", body={"name": "rev", "content": text(L1)})
    api.call("PUT", "/rev/draft", body={"content": text(L2)})
    status, body = api.call("POST", "/rev/publish", body={"revision": 1})
    assert status == 409 and body["error"]["code"] == "stale_revision"
    assert api.get("/rev/versions") == []


def test_rollback_refusals(api: Api) -> None:
    api.call("POST", "", body={"name": "rb", "content": text(L1)})
    api.call("POST", "/rb/publish", body={})
    api.call("PUT", "/rb/draft", body={"content": text(L2)})
    api.call("POST", "/rb/publish", body={})
    before = api.snapshot("rb")

    status, body = api.call("POST", "/rb/rollback", body={"to_version": 9})
    assert status == 422 and body["error"]["code"] == "unknown_version"
    assert body["error"]["details"][0]["path"] == "/to_version"

    status, body = api.call("POST", "/rb/rollback", body={"to_version": 2})
    assert status == 409 and body["error"]["code"] == "already_latest"

    status, body = api.call("POST", "/rb/rollback", body={"to_version": 1, "base_version": 1})
    assert status == 409 and body["error"]["code"] == "stale_base"

    status, body = api.call("POST", "/rb/rollback", body={"to_version": "1"})
    assert status == 422 and body["error"]["details"][0]["path"] == "/to_version"
    assert api.snapshot("rb") == before


def test_create_refusals(api: Api) -> None:
    assert api.call("POST", "", body={"name": "dup", "content": text(L1)})[0] == 201
    status, body = api.call("POST", "", body={"name": "dup", "content": text(L2)})
    assert status == 409 and body["error"]["code"] == "ruleset_exists"
    assert api.get("/dup/draft")["content"] == text(L1)

    status, body = api.call("POST", "", body={"name": "bad/name"})
    assert status == 422 and body["error"]["details"][0]["path"] == "/name"
    status, body = api.call("POST", "", body={"name": "fmt", "format": "yaml"})
    assert status == 422 and body["error"]["details"][0]["path"] == "/format"
    status, body = api.call("POST", "", body={"title": "no name"})
    assert status == 422 and body["error"]["details"][0]["path"] == "/name"
    status, body = api.call("POST", "", body={"name": "x", "surprise": 1})
    assert status == 422 and body["error"]["details"][0]["path"] == "/surprise"
    assert [r["name"] for r in api.get("")] == ["dup"]


def test_chinese_names_are_allowed(api: Api) -> None:
    status, _ = api.call("POST", "", body={"name": "春节大促", "content": text(L1)})
    assert status == 201
    assert api.get("/春节大促/draft")["ruleset"] == "春节大促"


def test_unknown_ruleset_is_404_with_error_body(api: Api) -> None:
    for path in ("/nope", "/nope/draft", "/nope/versions", "/nope/versions/1", "/nope/audit"):
        status, body = api.call("GET", path)
        assert status == 404, path
        assert body["error"]["code"] == "ruleset_not_found"
    status, body = api.call("POST", "/nope/publish", body={})
    assert status == 404
    api.call("POST", "", body={"name": "empty", "content": text(L1)})
    status, body = api.call("GET", "/empty/versions/1")
    assert status == 404 and body["error"]["code"] == "version_not_found"


def test_reading_is_open_to_every_staff_role_but_changing_is_not(api: Api) -> None:
    api.call("POST", "", body={"name": "roles", "content": text(L1)})
    for role in ("admin", "ops", "warehouse", "finance", "cs", "cs_lead"):
        assert api.call("GET", "/roles/draft", role=role)[0] == 200
    for role in ("warehouse", "finance", "cs", "cs_lead"):
        status, body = api.call("POST", "/roles/publish", role=role, body={})
        assert status == 403 and body["error"]["code"] == "forbidden"
        assert api.call("PUT", "/roles/draft", role=role, body={"content": text(L2)})[0] == 403
    assert api.get("/roles/versions") == []
    assert api.get("/roles/draft")["content"] == text(L1)


def test_openapi_documents_the_ruleset_routes(client) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    for path, method in [
        ("/api/v1/rulesets", "get"), ("/api/v1/rulesets", "post"),
        ("/api/v1/rulesets/{name}/draft", "get"), ("/api/v1/rulesets/{name}/draft", "put"),
        ("/api/v1/rulesets/{name}/check", "post"), ("/api/v1/rulesets/{name}/publish", "post"),
        ("/api/v1/rulesets/{name}/rollback", "post"), ("/api/v1/rulesets/{name}/versions", "get"),
        ("/api/v1/rulesets/{name}/versions/{version}", "get"), ("/api/v1/rulesets/{name}/audit", "get"),
    ]:
        assert method in paths[path], (path, method)
    publish = paths["/api/v1/rulesets/{name}/publish"]["post"]
    assert {"201", "409", "422"} <= set(publish["responses"])
    assert "base_version" in doc["components"]["schemas"]["Publish"]["properties"]
