"""``GET /api/v1/outbox/dead`` and ``POST /api/v1/outbox/{id}/replay`` over a fake counterpart:
dead letters filtered by topic, source and order, a page at a time; a replay is recorded with
who and when, keeps the delivery id (the counterpart's idempotency key) and is delivered once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from engine.outbox.registry import Delivery
from tests.conftest import auth


class Counterpart:
    """A WMS-like HTTP counterpart: answers 503 while down; records each accepted call by the
    ``Idempotency-Key`` header and answers a repeated key without doing it again."""

    def __init__(self) -> None:
        self.up = False
        self.accepted: list[str] = []
        self.refused = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("Idempotency-Key") or ""
                if not outer.up:
                    outer.refused += 1
                    status, body = 503, {"error": "maintenance"}
                else:
                    if key not in outer.accepted:
                        outer.accepted.append(key)
                    status, body = 200, {"ok": True}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/outbound"


@pytest.fixture
def counterpart(services: Any) -> Iterator[Counterpart]:
    wms = Counterpart()

    def call(delivery: Delivery) -> None:
        answer = requests.post(wms.url, json=delivery.payload, headers={"Idempotency-Key": delivery.delivery_id},
                               timeout=5)
        answer.raise_for_status()

    services.handlers.register("wms.outbound", call)
    services.handlers.register("wecom.send", call)
    yield wms
    wms.server.shutdown()


def exhaust(dispatcher: Any, clock: Any) -> None:
    """Run the dispatcher through every attempt of every due row."""
    for _ in range(5):
        dispatcher.dispatch_due()
        clock.advance(600)


def dead(client: Any, token: str, query: str = "") -> Any:
    return client.get(f"/api/v1/outbox/dead{query}", headers=auth(token))


def test_dead_letters_are_filtered_by_topic_source_and_order_and_paged(
        client, tokens, clock, dispatcher, put, row, counterpart) -> None:
    a = put("wms.outbound", {"n": 1}, source="douyin", order_ref="douyin/100")
    b = put("wms.outbound", {"n": 2}, source="taobao", order_ref="taobao/200", retry_schedule=(5,))
    c = put("wecom.send", {"n": 3}, source="douyin", order_ref="douyin/100")
    counterpart.up = False
    for _ in range(4):
        dispatcher.dispatch_due()
        clock.advance(300)
    counterpart.up = True
    delivered = put("wms.outbound", {"n": 4}, source="douyin", order_ref="douyin/100")
    dispatcher.dispatch_due()
    counterpart.up = False
    waiting = put("wms.outbound", {"n": 5}, source="douyin", order_ref="douyin/100")
    dispatcher.dispatch_due()
    assert (row(delivered).status, row(waiting).status, row(waiting).attempts) == ("delivered", "pending", 1)

    admin = tokens["admin"]
    body = dead(client, admin).get_json()
    assert [i["id"] for i in body["items"]] == [c, b, a] and body["next_cursor"] is None
    by_id = {i["id"]: i for i in body["items"]}
    assert by_id[b]["attempts"] == 2 and by_id[b]["retry_schedule"] == [5]  # its own schedule, then dead
    assert by_id[a]["attempts"] == 4 and by_id[a]["retry_schedule"] == [30, 120, 300]
    assert by_id[a]["last_error"].startswith("HTTPError: 503") and by_id[a]["replays"] == []
    assert [i["id"] for i in dead(client, admin, "?topic=wms.outbound").get_json()["items"]] == [b, a]
    assert [i["id"] for i in dead(client, admin, "?source=douyin").get_json()["items"]] == [c, a]
    assert [i["id"] for i in dead(client, admin, "?order=douyin/100&topic=wecom.send").get_json()["items"]] == [c]
    assert dead(client, admin, "?order=douyin/999").get_json()["items"] == []

    first = dead(client, admin, "?limit=2").get_json()
    assert [i["id"] for i in first["items"]] == [c, b] and first["next_cursor"]
    second = dead(client, admin, f"?limit=2&cursor={first['next_cursor']}").get_json()
    assert [i["id"] for i in second["items"]] == [a] and second["next_cursor"] is None

    bad = dead(client, admin, "?cursor=bm90LW91cnM")
    assert bad.status_code == 422 and bad.get_json()["error"]["details"][0]["path"] == "/cursor"
    undeclared = dead(client, admin, "?status=pending")
    assert undeclared.status_code == 422
    assert undeclared.get_json()["error"]["code"] == "unknown_parameter"
    assert undeclared.get_json()["error"]["details"] == [{"message": "unknown query parameter", "path": "/status"}]
    assert dead(client, tokens["ops"]).status_code == 403


def test_a_replay_is_recorded_keeps_its_key_and_is_delivered_once(
        client, tokens, services, clock, dispatcher, put, row, counterpart) -> None:
    row_id = put("wms.outbound", {"order_id": "A1"}, source="douyin", order_ref="douyin/A1")
    exhaust(dispatcher, clock)
    key = row(row_id).delivery_id
    assert row(row_id).status == "dead" and counterpart.refused == 4

    replayed = client.post(f"/api/v1/outbox/{row_id}/replay", headers=auth(tokens["admin"]))
    assert replayed.status_code == 200
    body = replayed.get_json()
    assert (body["status"], body["attempts"], body["delivery_id"]) == ("pending", 0, key)
    (history,) = body["replays"]
    assert history["actor"] == "user_admin" and history["previous_attempts"] == 4
    assert history["at"].startswith(clock.now().isoformat()[:19])
    assert "503" in history["previous_error"]

    again = client.post(f"/api/v1/outbox/{row_id}/replay", headers=auth(tokens["admin"]))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_dead"

    counterpart.up = True
    for _ in range(3):
        dispatcher.dispatch_due()
        clock.advance(600)
    assert counterpart.accepted == [key]  # delivered once, with the original idempotency key
    assert row(row_id).status == "delivered"
    assert dead(client, tokens["admin"]).get_json()["items"] == []

    # It fails again later (another row of the same order): the history of the first stays with its row.
    other = put("wms.outbound", {"order_id": "A1", "n": 2}, source="douyin", order_ref="douyin/A1")
    counterpart.up = False
    exhaust(dispatcher, clock)
    client.post(f"/api/v1/outbox/{other}/replay", headers=auth(tokens["admin"]))
    exhaust(dispatcher, clock)
    (listed,) = dead(client, tokens["admin"], "?order=douyin/A1").get_json()["items"]
    assert listed["id"] == other and len(listed["replays"]) == 1 and listed["attempts"] == 4


def test_the_outbox_list_keeps_working(client, tokens, put) -> None:
    row_id = put("wms.outbound", {}, source="douyin")
    items = client.get("/api/v1/outbox?status=pending", headers=auth(tokens["admin"])).get_json()["items"]
    assert [i["id"] for i in items] == [row_id] and items[0]["source"] == "douyin"


def test_a_filter_given_twice_is_refused_with_its_path(client, tokens) -> None:
    resp = client.get("/api/v1/outbox/dead?source=douyin&source=taobao", headers=auth(tokens["admin"]))
    assert resp.status_code == 422
    assert resp.get_json()["error"]["details"][0]["path"] == "/source"
