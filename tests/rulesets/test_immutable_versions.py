"""A published version cannot be changed through any route, nor by code through the ORM."""

from __future__ import annotations

import pytest

from engine.rulesets import service
from engine.rulesets.history import ImmutableVersionError
from tests.conftest import auth
from tests.rulesets.helpers import L1, L2, Api, text


def test_no_route_changes_a_published_version(client, tokens) -> None:
    api = Api(client, tokens)
    api.call("POST", "", body={"name": "fixed", "content": text(L1)})
    status, v1 = api.call("POST", "/fixed/publish", body={})
    assert status == 201

    tampered = {"content": text(L2), "checksum": "sha256:00", "version": 1}
    for path in ("/api/v1/rulesets/fixed/versions/1", "/api/v1/rulesets/fixed/versions"):
        for method in ("PUT", "PATCH", "DELETE", "POST"):
            resp = client.open(path, method=method, json=tampered, headers=auth(tokens["admin"]))
            assert resp.status_code in (404, 405), (method, path, resp.status_code)
            assert "error" in resp.get_json()
    for path in ("/api/v1/rulesets/fixed/versions/1/content", "/api/v1/rulesets/fixed/versions/1/checksum"):
        for method in ("GET", "PUT", "PATCH", "POST", "DELETE"):
            assert client.open(path, method=method, json=tampered, headers=auth(tokens["admin"])).status_code == 404

    # Every route that changes anything leaves v1 as it was.
    api.call("PUT", "/fixed/draft", role="admin", body={"content": text(L2)})
    api.call("POST", "/fixed/publish", role="admin", body={})
    api.call("POST", "/fixed/rollback", role="admin", body={"to_version": 1})
    assert api.get("/fixed/versions/1") == v1
    assert [v["version"] for v in api.get("/fixed/versions")] == [3, 2, 1]


def test_the_orm_refuses_to_update_or_delete_a_version(services) -> None:
    now = services.clock.now()
    with services.db.transaction(immediate=True) as s:
        service.create_ruleset(s, name="orm", content=text(L1), actor="li", now=now)
        service.publish(s, "orm", actor="li", now=now)
    with pytest.raises(ImmutableVersionError), services.db.transaction() as s:
        service.get_version(s, "orm", 1).content = text(L2)
    with pytest.raises(ImmutableVersionError), services.db.transaction() as s:
        s.delete(service.get_version(s, "orm", 1))
    with services.db.session() as s:
        assert service.get_version(s, "orm").content == text(L1)
