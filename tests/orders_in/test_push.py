"""Douyin pushes over real HTTP: the fake platform posts each order change to
``/api/v1/sources/douyin/push`` with its event-sign; OrderPulse keeps the message, answers
``{"code": 0}`` at once and, through the outbox, fetches the order and stores it. A replayed
message and a badly signed one change nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from werkzeug.serving import make_server

from engine.orders.pull_model import OrderPushMessage
from engine.orders.push import intake_fetched_pushes, register_order_handlers
from engine.outbox.dispatcher import Dispatcher
from tests.orders_in.conftest import count_orders, platform_order_id, stored, timeline
from tests.support.woken_job import runner_with, wait_until


@pytest.fixture
def live_url(app: Any, services: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    register_order_handlers(services)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def messages(services: Any) -> int:
    with services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(OrderPushMessage)) or 0)


def deliver(services: Any, fake: Any) -> None:
    """Wait for the fake's pushes to be answered, then run the outbox once (as the runner does)."""
    fake.push.drain()
    Dispatcher(services, worker_id="test").dispatch_due(now=services.clock.now(), limit=100)
    intake_fetched_pushes(services)


def test_a_pushed_order_is_stored_then_its_shipment_and_cancellation(services: Any, platforms: Any,
                                                                     live_url: str) -> None:
    fake = platforms["douyin"]
    fake.push.push_to(f"{live_url}/api/v1/sources/douyin/push")
    order = fake.scenario.create([("TSHIRT-W-L", 3)], freight=0, platform_discount=0, seller_discount=0)
    started = time.monotonic()
    deliver(services, fake)
    row = stored(services, "douyin", platform_order_id("douyin", order))
    assert time.monotonic() - started < 1.0
    assert row is not None and (row.status, row.total, row.via) == ("awaiting_shipment", 3 * 8990, "push")
    assert [status for status, _ in fake.push.sent] == [200, 200]  # 100 created, 101 paid
    services.clock.advance(30)
    fake.scenario.ship(order.number)
    gone = fake.scenario.create([("TEA-LJ-250", 1)])
    services.clock.advance(5)
    fake.scenario.cancel(gone.number)
    deliver(services, fake)
    assert stored(services, "douyin", platform_order_id("douyin", order)).status == "shipped"
    assert stored(services, "douyin", platform_order_id("douyin", gone)).status == "cancelled"
    assert count_orders(services, "douyin") == 2
    assert not fake.push.failed


def test_a_replayed_message_and_a_bad_signature_change_nothing(services: Any, platforms: Any, live_url: str) -> None:
    fake = platforms["douyin"]
    url = f"{live_url}/api/v1/sources/douyin/push"
    fake.push.push_to(url)
    order = fake.scenario.create([("TEA-LJ-250", 1)])
    deliver(services, fake)
    row = stored(services, "douyin", platform_order_id("douyin", order))
    assert row is not None
    kept, events = messages(services), len(timeline(services, row.id))
    _, body = fake.push.sent[-1]
    headers = fake.push.sign(body)
    replay = requests.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=5)
    assert (replay.status_code, replay.json()) == (200, {"code": 0, "msg": "success"})
    forged = body.replace(b'"101"', b'"106"')
    refused = requests.post(url, data=forged, headers={"Content-Type": "application/json", **headers}, timeout=5)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "push_refused"
    unsigned = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=5)
    assert unsigned.status_code == 401
    Dispatcher(services, worker_id="test").dispatch_due(now=services.clock.now(), limit=100)
    intake_fetched_pushes(services)
    assert messages(services) == kept
    assert len(timeline(services, row.id)) == events
    assert stored(services, "douyin", platform_order_id("douyin", order)).revision == row.revision


def test_a_push_to_a_platform_that_does_not_push_over_http_is_refused(services: Any, platforms: Any,
                                                                        client: Any) -> None:
    answer = client.post("/api/v1/sources/taobao/push", data=b"{}", content_type="application/json")
    assert answer.status_code == 404
    assert client.post("/api/v1/sources/nosuch/push", data=b"[]").status_code == 404
    assert messages(services) == 0


def test_the_runner_stores_a_pushed_order_by_waking_the_intake_not_at_its_period(services: Any, platforms: Any,
                                                                                live_url: str) -> None:
    """The intake runs in a thread of its own, woken when push messages are written: with the
    runner's period at an hour, a pushed order is fetched (outbox, woken) and stored (woken)."""
    with runner_with(services, "engine.orders.jobs", "orders.push_intake") as job:
        fake = platforms["douyin"]
        fake.push.push_to(f"{live_url}/api/v1/sources/douyin/push")
        order = fake.scenario.create([("TEA-LJ-250", 2)])
        wait_until(lambda: stored(services, "douyin", platform_order_id("douyin", order)) is not None,
                   "the pushed order stored")
        row = stored(services, "douyin", platform_order_id("douyin", order))
        assert (row.via, row.status) == ("push", "awaiting_shipment")
        wait_until(lambda: job.woken_runs >= 1, "the woken run counted")  # counted once its run returned
