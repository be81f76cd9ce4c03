"""User administration over ``/api/v1/users`` (管理员 only): create with a role, list, change
role / disable / reset password, issue a token (shown once) and revoke it (refused from the
next request on); other roles get 403; the OpenAPI document describes the routes."""

from __future__ import annotations

from typing import Any

from tests.conftest import auth


def test_admin_creates_lists_and_changes_users(client: Any, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    resp = client.post("/api/v1/users", json={"username": "liu_cc", "role": "仓储", "password": "仓库-口令-2026",
                                              "display_name": "刘仓储"}, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    user = resp.get_json()
    assert (user["username"], user["role"], user["active"], user["display_name"]) == ("liu_cc", "warehouse", True, "刘仓储")
    assert "password_hash" not in user

    again = client.post("/api/v1/users", json={"username": "liu_cc", "role": "cs"}, headers=admin)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "user_exists"
    bad = client.post("/api/v1/users", json={"username": "x", "role": "boss"}, headers=admin)
    assert bad.status_code == 422

    names = [u["username"] for u in client.get("/api/v1/users", headers=admin).get_json()]
    assert "liu_cc" in names and "user_admin" in names

    resp = client.patch(f"/api/v1/users/{user['id']}", json={"role": "finance", "active": False}, headers=admin)
    assert resp.status_code == 200
    assert (resp.get_json()["role"], resp.get_json()["active"]) == ("finance", False)
    weak = client.patch(f"/api/v1/users/{user['id']}", json={"password": "short"}, headers=admin)
    assert weak.status_code == 422
    assert client.patch("/api/v1/users/9999", json={"active": True}, headers=admin).status_code == 404


def test_admin_cannot_disable_themself(client: Any, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    me = next(u for u in client.get("/api/v1/users", headers=admin).get_json() if u["username"] == "user_admin")
    resp = client.patch(f"/api/v1/users/{me['id']}", json={"active": False}, headers=admin)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "own_account"


def test_token_is_shown_once_and_revoking_it_refuses_the_next_request(client: Any, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    user = client.post("/api/v1/users", json={"username": "erp_bot", "role": "ops"}, headers=admin).get_json()
    issued = client.post(f"/api/v1/users/{user['id']}/tokens", json={"name": "ERP 对接"}, headers=admin)
    assert issued.status_code == 201
    body = issued.get_json()
    assert body["token"].startswith("op_") and body["prefix"] == body["token"][:10] and body["name"] == "ERP 对接"
    assert client.get("/api/v1/rulesets", headers=auth(body["token"])).status_code == 200
    listed = next(u for u in client.get("/api/v1/users", headers=admin).get_json() if u["id"] == user["id"])
    assert listed["tokens"][0]["prefix"] == body["prefix"] and "token" not in listed["tokens"][0]

    resp = client.delete(f"/api/v1/users/{user['id']}/tokens/{body['id']}", headers=admin)
    assert resp.status_code == 200 and resp.get_json()["revoked_at"] is not None
    assert client.get("/api/v1/rulesets", headers=auth(body["token"])).status_code == 401

    second = client.post(f"/api/v1/users/{user['id']}/tokens", json={}, headers=admin).get_json()
    third = client.post(f"/api/v1/users/{user['id']}/tokens", json={}, headers=admin).get_json()
    revoked = client.delete(f"/api/v1/users/{user['id']}/tokens", json={}, headers=admin).get_json()
    assert sorted(t["id"] for t in revoked) == sorted([second["id"], third["id"]])
    assert client.get("/api/v1/rulesets", headers=auth(third["token"])).status_code == 401
    assert client.delete(f"/api/v1/users/{user['id']}/tokens/424242", headers=admin).status_code == 404


def test_only_admins_manage_users(client: Any, tokens: dict[str, str]) -> None:
    for role in ("ops", "cs", "finance"):
        assert client.get("/api/v1/users", headers=auth(tokens[role])).status_code == 403
        assert client.post("/api/v1/users", json={"username": "x", "role": "cs"},
                           headers=auth(tokens[role])).status_code == 403
        assert client.patch("/api/v1/users/1", json={"active": False}, headers=auth(tokens[role])).status_code == 403
        assert client.post("/api/v1/users/1/tokens", json={}, headers=auth(tokens[role])).status_code == 403
        assert client.delete("/api/v1/users/1/tokens/1", headers=auth(tokens[role])).status_code == 403
    assert client.get("/api/v1/users").status_code == 401


def test_openapi_describes_the_user_routes(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    assert set(paths["/api/v1/users"]) >= {"get", "post"}
    assert "patch" in paths["/api/v1/users/{user_id}"]
    assert set(paths["/api/v1/users/{user_id}/tokens"]) >= {"post", "delete"}
    assert "delete" in paths["/api/v1/users/{user_id}/tokens/{token_id}"]
    schemas = doc["components"]["schemas"]
    assert {"User", "UserCreate", "UserPatch", "IssuedToken"} <= set(schemas)


def test_an_admin_cannot_revoke_the_token_the_request_uses(client: Any, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    me = next(u for u in client.get("/api/v1/users", headers=admin).get_json() if u["username"] == "user_admin")
    mine = me["tokens"][0]["id"]
    resp = client.delete(f"/api/v1/users/{me['id']}/tokens/{mine}", headers=admin)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "own_token"
    assert client.delete(f"/api/v1/users/{me['id']}/tokens", json={}, headers=admin).status_code == 409
    assert client.get("/api/v1/users", headers=admin).status_code == 200


def test_ids_beyond_the_32_bit_columns_name_no_user_or_token(client: Any, tokens: dict[str, str]) -> None:
    admin = auth(tokens["admin"])
    me = next(u for u in client.get("/api/v1/users", headers=admin).get_json() if u["username"] == "user_admin")
    big = 2**31  # one past PostgreSQL's integer: a 404, never a database error
    for method, url, body, code in [
        ("PATCH", f"/api/v1/users/{big}", {"active": True}, "user_not_found"),
        ("POST", f"/api/v1/users/{big}/tokens", {}, "user_not_found"),
        ("DELETE", f"/api/v1/users/{big}/tokens", {}, "user_not_found"),
        ("DELETE", f"/api/v1/users/{me['id']}/tokens/{big}", None, "token_not_found"),
        ("DELETE", f"/api/v1/users/{me['id']}/tokens", {"id": big}, "token_not_found"),
    ]:
        resp = client.open(url, method=method, json=body, headers=admin)
        assert resp.status_code == 404, (method, url, resp.get_json())
        assert resp.get_json()["error"]["code"] == code
