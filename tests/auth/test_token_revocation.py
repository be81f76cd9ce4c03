"""A bearer token stops working the moment it is revoked or its user is deactivated."""

from __future__ import annotations

from sqlalchemy import update

from engine.storage.models import ApiToken, User
from tests.conftest import auth


def test_revoked_token_and_inactive_user_are_refused(client, services, tokens, clock) -> None:
    assert client.get("/api/v1/rulesets", headers=auth(tokens["ops"])).status_code == 200
    assert client.get("/api/v1/rulesets", headers=auth(tokens["cs"])).status_code == 200

    with services.db.transaction() as s:
        s.execute(update(ApiToken).where(ApiToken.prefix == tokens["ops"][:10]).values(revoked_at=clock.now()))
        s.execute(update(User).where(User.username == "user_cs").values(active=False))

    for role in ("ops", "cs"):
        resp = client.get("/api/v1/rulesets", headers=auth(tokens[role]))
        assert resp.status_code == 401
        assert resp.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/rulesets", headers=auth(tokens["finance"])).status_code == 200
    assert client.get("/api/v1/rulesets", headers=auth("op_not-a-real-token")).status_code == 401
