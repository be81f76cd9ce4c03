"""The puller under faults, over real HTTP against the fakes: the platform answers 5xx, times
out, rate-limits, or the puller is killed with SIGKILL in the middle of a window. Each time
the cursor stays where it was, the source is held back until its retry time (the platform's
``retry_after`` when it gives one), and the next run stores every order once: no window
skipped, no order duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.douyin_orders import DouyinOrderClient
from connectors.fakes.base import Received
from connectors.pdd_orders import PddOrderClient
from connectors.taobao_orders import TaobaoOrderClient
from engine.orders.pull_model import OrderPullCursor
from engine.orders.pulling import pull_due_sources, pull_source
from engine.orders.sources import order_client, order_sources
from tests.orders_in.conftest import (
    count_orders,
    credentials,
    platform_order_id,
    stored,
    timeline,
)

CLIENTS = {"taobao": TaobaoOrderClient, "pdd": PddOrderClient, "douyin": DouyinOrderClient}
# how a list request for the window's second page looks on each platform
SECOND_PAGE = {"taobao": lambda r: b"page_no=2" in r.body and b"increment" in r.body,
               "pdd": lambda r: b"page=2&" in r.body + b"&" and b"increment" in r.body,
               "douyin": lambda r: r.path.endswith("searchList") and (r.json or {}).get("page") == 1,
               "kuaishou": lambda r: r.path == "/open/order/cursor/list" and '"cursor":""' not in r.query["param"],
               "xiaohongshu": lambda r: (r.json or {}).get("method") == "order.getOrderList"
               and r.json.get("pageNo") == 2,
               "miniprogram": lambda r: r.path == "/orders" and "cursor" in r.query}


def client_for(services: Any, fake: Any, channel: str, timeout: float = 5.0) -> Any:
    if channel not in CLIENTS:  # built from the published source, as the scheduler does
        return order_client(services, order_sources(services)[channel])
    return CLIENTS[channel].from_credentials(channel, credentials(channel), fake.url, timeout=timeout,
                                             clock=lambda: services.clock.now().timestamp())


def five_orders(services: Any, fake: Any) -> list[Any]:
    """Five orders a minute ago, listed two a page (three pages), and the cursor two minutes back."""
    fake.page_size_cap = 2
    made = []
    for _ in range(5):
        made.append(fake.scenario.create([("TEA-LJ-250", 1)]))
        services.clock.advance(2)
    services.clock.advance(10)
    with services.db.transaction() as s:
        s.add(OrderPullCursor(source=fake.name, next_start=services.clock.now() - timedelta(minutes=2),
                              pages_stored=0, orders_seen=0, failures=0, updated_at=services.clock.now()))
    return made


def cursor(services: Any, source: str) -> OrderPullCursor:
    with services.db.session() as s:
        row = s.get(OrderPullCursor, source)
        s.expunge(row)
        return row


def on_second_page(fake: Any, channel: str, act: Any) -> None:
    """Run ``act(request)`` instead of the fake's answer for the first request of page 2."""
    answer, done = fake.answer, threading.Event()

    def patched(request: Received) -> Any:
        if not done.is_set() and SECOND_PAGE[channel](request):
            done.set()
            return act(request, answer)
        return answer(request)

    fake.answer = patched


def answer_after(fake: Any, wait: Any) -> Any:
    """An answer given only after ``wait()`` returns (other requests are served meanwhile)."""
    def act(request: Received, answer: Any) -> Any:
        fake._lock.release()
        try:
            wait()
        finally:
            fake._lock.acquire()
        return answer(request)
    return act


def assert_all_stored_once(services: Any, channel: str, orders: list[Any]) -> None:
    assert count_orders(services, channel) == len(orders)
    for order in orders:
        row = stored(services, channel, platform_order_id(channel, order))
        assert row is not None and [e.kind for e in timeline(services, row.id)] == ["created"]


@pytest.mark.parametrize("channel", ["taobao", "pdd", "douyin", "kuaishou", "xiaohongshu", "miniprogram"])
def test_a_5xx_mid_window_keeps_the_cursor_and_the_next_run_stores_every_order_once(
        services: Any, platforms: Any, channel: str) -> None:
    fake = platforms[channel]
    orders = five_orders(services, fake)
    before = cursor(services, channel).next_start
    on_second_page(fake, channel, lambda request, answer: (502, {"error": "bad gateway"}))
    first = pull_source(services, channel, client_for(services, fake, channel))
    assert first.error and "502" in first.error and first.pages == 1
    held = cursor(services, channel)
    assert (held.next_start, held.failures, held.pages_stored) == (before, 1, 1)
    assert held.retry_at == services.clock.now() + timedelta(seconds=5)
    assert channel not in [r.source for r in pull_due_sources(services)]  # held back until retry_at
    services.clock.advance(5)  # the retry time, well before the next 60 s interval
    again = {r.source: r for r in pull_due_sources(services)}[channel]
    assert again.error is None and again.windows == 1
    assert cursor(services, channel).next_start == services.clock.now() - timedelta(seconds=2)
    assert_all_stored_once(services, channel, orders)


def test_a_time_out_mid_window_is_retried_without_skipping(services: Any, platforms: Any) -> None:
    fake = platforms["taobao"]
    orders = five_orders(services, fake)

    on_second_page(fake, "taobao", answer_after(fake, lambda: time.sleep(1.0)))
    first = pull_source(services, "taobao", client_for(services, fake, "taobao", timeout=0.3))
    assert first.error and "Timeout" in first.error
    assert cursor(services, "taobao").failures == 1
    services.clock.advance(5)
    again = pull_source(services, "taobao", client_for(services, fake, "taobao", timeout=0.3))
    assert again.error is None
    assert_all_stored_once(services, "taobao", orders)


@pytest.mark.parametrize(("channel", "wait", "calls"), [
    ("taobao", 2, 3), ("pdd", 5, 3), ("douyin", 5, 3),
    ("kuaishou", 1, 2), ("xiaohongshu", 1, 3), ("miniprogram", 1, 2)])  # 3 list pages, no detail calls: 2
def test_a_rate_limit_holds_the_source_back_as_the_platform_says(services: Any, platforms: Any, channel: str,
                                                                 wait: int, calls: int) -> None:
    fake = platforms[channel]
    orders = five_orders(services, fake)
    fake.limit_orders(calls, 60)
    first = pull_source(services, channel, client_for(services, fake, channel))
    assert first.error is not None
    held = cursor(services, channel)
    # Taobao says "This ban will last for 1 more seconds": wait 2 s; PDD and Doudian do not say: back-off 5 s;
    # a Kuaishou QPS limit, Xiaohongshu's 429 and the shop's retry_after: 1 s
    assert held.retry_at == services.clock.now() + timedelta(seconds=wait)
    fake.limit_orders(None)
    services.clock.advance(wait)
    assert pull_source(services, channel, client_for(services, fake, channel)).error is None
    assert_all_stored_once(services, channel, orders)


WORKER = """
import json, sys
from datetime import datetime
from engine.clock import ManualClock
from engine.config import Settings
from engine.services import Services
from engine.orders.pulling import pull_source
from connectors.taobao_orders import TaobaoOrderClient
args = json.loads(sys.argv[1])
clock = ManualClock(datetime.fromisoformat(args["now"]))
services = Services.build(Settings(database_url=args["db"], secret_key="x"), clock=clock)
client = TaobaoOrderClient.from_credentials("taobao", args["credentials"], args["url"],
                                            clock=lambda: clock.now().timestamp())
pull_source(services, "taobao", client, holder="doomed-process")
"""


def test_a_puller_killed_mid_page_leaves_no_window_skipped_and_no_order_twice(
        services: Any, platforms: Any, settings: Any) -> None:
    fake = platforms["taobao"]
    orders = five_orders(services, fake)
    release = threading.Event()

    on_second_page(fake, "taobao", answer_after(fake, lambda: release.wait(30)))  # the doomed puller waits here
    args = {"now": services.clock.now().isoformat(), "db": settings.database_url, "url": fake.url,
            "credentials": credentials("taobao")}
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(args)], env=env)
    try:
        deadline = time.monotonic() + 30
        while cursor_pages(services) < 1:  # the last page is stored, page 2 is being read
            assert worker.poll() is None, "the puller ended before it was killed"
            assert time.monotonic() < deadline, "the puller never stored its first page"
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        release.set()
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL
    assert count_orders(services, "taobao") == 1  # page 3 (the oldest order) only
    held = cursor(services, "taobao")
    assert held.window_end is not None and held.pages_stored == 1
    # its lease runs out; the next puller reads the whole window again
    services.clock.advance(150)
    again = pull_source(services, "taobao", client_for(services, fake, "taobao"), holder="next-process")
    assert again.error is None and not again.busy
    assert again.outcomes["created"] == 4 and again.outcomes["unchanged"] >= 1
    assert_all_stored_once(services, "taobao", orders)
    done = cursor(services, "taobao")
    assert done.window_end is None and done.next_start > held.next_start


def cursor_pages(services: Any) -> int:
    with services.db.session() as s:
        row = s.get(OrderPullCursor, "taobao")
        return int(row.pages_stored) if row is not None else 0
