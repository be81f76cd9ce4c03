"""A dispatcher killed with SIGKILL in the middle of a write-back: after the platform took the
shipment but before we recorded it, or while the platform was still holding the request.
After restart the write-back is delivered and the platform has shipped the order exactly
once — the same end state as a run that was never killed (no double write-back, no lost one)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import auth
from tests.shipping.conftest import bring_in, client_of, dispatch, outbox_rows, timeline_kinds

WORKER = """
import json, sys
from datetime import datetime
from engine.clock import ManualClock
from engine.config import Settings
from engine.services import Services
from engine.orders.writeback import register_writeback_handler
from engine.outbox.dispatcher import Dispatcher
args = json.loads(sys.argv[1])
clock = ManualClock(datetime.fromisoformat(args["now"]))
services = Services.build(Settings(database_url=args["db"], redis_url=args["redis"], redis_prefix=args["prefix"],
                                   secret_key="x"), clock=clock)
register_writeback_handler(services)
Dispatcher(services, worker_id="doomed", lease_seconds=60).dispatch_due(now=clock.now(), limit=1)
"""


def accepted(fake: Any) -> list[dict[str, Any]]:
    return [m for m in fake.messages if m.get("tracking_no")]


def kill_worker_when(settings: Any, services: Any, ready: Callable[[], bool]) -> None:
    args = {"now": services.clock.now().isoformat(), "db": settings.database_url, "redis": settings.redis_url,
            "prefix": settings.redis_prefix}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(args)], env=env)
    try:
        deadline = time.monotonic() + 30
        while not ready():
            assert worker.poll() is None, "the dispatcher ended before it was killed"
            assert time.monotonic() < deadline, "the dispatcher never reached the platform"
            time.sleep(0.02)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL


def end_state(services: Any, client: Any, tokens: dict[str, str], fake: Any, pk: int, order_id: str,
              channel: str) -> tuple[Any, ...]:
    page = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["ops"])).get_json()
    (row,) = outbox_rows(services)
    shown = client_of(services, channel).shown_tracking_numbers(client_of(services, channel).order_detail(order_id))
    return (page["status"], [s["writeback"]["status"] for s in page["shipments"]], page["dead_letters"], row.status,
            [(m["method"], m["tracking_no"]) for m in accepted(fake)], sorted(shown),
            timeline_kinds(services, pk).count("writeback_accepted"))


@pytest.mark.parametrize("moment", ["after_the_platform_took_it", "while_the_platform_holds_it", "never_killed"])
def test_a_write_back_killed_midway_is_delivered_once(moment: str, services: Any, settings: Any, platforms: Any,
                                                      client: Any, tokens: dict[str, str]) -> None:
    channel = "pdd"
    fake = platforms[channel]
    pk, order_id, _ = bring_in(services, fake, channel, [("TEA-LJ-250", 1)])
    answer = client.post(f"/api/v1/orders/{pk}/ship", json={"courier": "JT", "tracking_no": "JT0001234567"},
                         headers=auth(tokens["warehouse"]))
    assert answer.status_code == 201
    arrived = fake.arrived
    if moment == "after_the_platform_took_it":
        fake.hold_answer_next(20)  # the platform ships it; the dispatcher dies before it hears so
        kill_worker_when(settings, services, lambda: bool(accepted(fake)))
        assert outbox_rows(services)[0].status == "pending"  # nothing of the delivery was recorded
        services.clock.advance(61)  # the dead dispatcher's claim runs out
    elif moment == "while_the_platform_holds_it":
        fake.stall_next(1.5)  # the request reaches the platform, which takes 1.5 s to handle it
        kill_worker_when(settings, services, lambda: fake.arrived > arrived)
        services.clock.advance(61)
    assert dispatch(services) == 1
    time.sleep(1.6 if moment == "while_the_platform_holds_it" else 0)  # the held request is handled meanwhile
    assert dispatch(services) == 0
    expected = ("shipped", ["accepted"], [], "delivered", [("pdd.logistics.online.send", "JT0001234567")],
                ["JT0001234567"], 1)
    assert end_state(services, client, tokens, fake, pk, order_id, channel) == expected
