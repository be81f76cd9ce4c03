"""Admin routes: list dead rows, replay one through HTTP; admin only."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from engine.auth.roles import STAFF_ROLES
from engine.outbox.admin import replay_dead
from engine.outbox.registry import Delivery
from engine.storage.models import OutboxMessage
from tests.conftest import auth

NON_ADMIN = sorted(r for r in STAFF_ROLES if r != "admin")


@pytest.fixture
def dead_row(services, clock, dispatcher, put) -> tuple[int, dict[str, bool]]:
    """A WeCom message whose handler failed four times; the switch makes it work again."""
    platform = {"up": False}

    def wecom(delivery: Delivery) -> None:
        if not platform["up"]:
            raise ConnectionError("企业微信 webhook returned 502")

    services.handlers.register("wecom.send", wecom)
    row_id = put("wecom.send", {"text": "质检通过", "phone": "13812340000"})
    for _ in range(4):
        dispatcher.dispatch_due()
        clock.advance(600)
    return row_id, platform


def test_dead_row_is_listed_and_replayed_by_admin_then_delivered(client, tokens, dispatcher, dead_row, row) -> None:
    row_id, platform = dead_row
    listed = client.get("/api/v1/outbox?status=dead", headers=auth(tokens["admin"]))
    assert listed.status_code == 200
    (item,) = listed.get_json()["items"]
    assert item["id"] == row_id
    assert item["status"] == "dead"
    assert item["attempts"] == 4
    assert item["last_error"] == "ConnectionError: 企业微信 webhook returned 502"

    replayed = client.post(f"/api/v1/outbox/{row_id}/replay", headers=auth(tokens["admin"]))
    assert replayed.status_code == 200
    body = replayed.get_json()
    assert body["status"] == "pending" and body["attempts"] == 0 and body["last_error"] is None

    platform["up"] = True
    assert dispatcher.dispatch_due() == 1
    assert row(row_id).status == "delivered"
    assert client.get("/api/v1/outbox?status=dead", headers=auth(tokens["admin"])).get_json()["items"] == []


def test_replaying_a_row_that_is_not_dead_is_a_conflict(client, tokens, put, row) -> None:
    row_id = put("wecom.send", {})
    resp = client.post(f"/api/v1/outbox/{row_id}/replay", headers=auth(tokens["admin"]))
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "not_dead"
    assert f"row {row_id} is pending" in resp.get_json()["error"]["message"]
    assert row(row_id).status == "pending"


def test_replaying_an_unknown_row_is_not_found(client, tokens) -> None:
    resp = client.post("/api/v1/outbox/999999/replay", headers=auth(tokens["admin"]))
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def test_bad_status_filter_names_the_field(client, tokens) -> None:
    resp = client.get("/api/v1/outbox?status=lost", headers=auth(tokens["admin"]))
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"][0]["path"] == "/status"


def test_other_roles_are_forbidden(client, tokens, dead_row, row) -> None:
    row_id, _ = dead_row
    for role in NON_ADMIN:
        listed = client.get("/api/v1/outbox?status=dead", headers=auth(tokens[role]))
        assert listed.status_code == 403, role
        assert listed.get_json()["error"]["code"] == "forbidden"
        assert client.post(f"/api/v1/outbox/{row_id}/replay", headers=auth(tokens[role])).status_code == 403, role
    assert row(row_id).status == "dead"


def test_no_token_is_unauthorized(client, dead_row, row) -> None:
    row_id, _ = dead_row
    assert client.get("/api/v1/outbox?status=dead").status_code == 401
    assert client.get("/api/v1/outbox?status=bogus").status_code == 401  # auth before validation
    assert client.post(f"/api/v1/outbox/{row_id}/replay").status_code == 401
    assert client.post(f"/api/v1/outbox/{row_id}/replay", headers=auth("op_not_a_token")).status_code == 401
    assert row(row_id).status == "dead"


def test_replay_all_dead_rows(services, clock, dispatcher, put, row) -> None:
    services.handlers.register("x", lambda delivery: None)
    ids = [put("x", {}) for _ in range(3)]
    with services.db.transaction() as s:
        s.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids[:2]))
            .values(status="dead", attempts=4, last_error="old")
        )
    with services.db.transaction(immediate=True) as s:
        replayed = replay_dead(s, "all", now=clock.now(), actor="admin")
    assert sorted(r.id for r in replayed) == ids[:2]
    assert dispatcher.dispatch_due() == 3
    assert {row(i).status for i in ids} == {"delivered"}


def test_the_routes_are_in_the_openapi_document(client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/outbox"]
    assert "post" in paths["/api/v1/outbox/{message_id}/replay"]
