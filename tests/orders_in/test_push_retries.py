"""The source's declared ``retry`` on its outbox deliveries: Douyin pushes an order id, the fetch
of its detail goes through the outbox, and the fake platform refuses it. The fetch is tried at
once and then at the delays ``source douyin`` declares (manual clock, counted by the requests
the fake received), then it is a dead letter found by source and by order; a replay fetches it
once more, with the same delivery id, and the order is stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.orders.push import PUSH_TOPIC, intake_fetched_pushes
from engine.outbox.admin import list_dead, replay_dead
from engine.outbox.dispatcher import Dispatcher
from engine.outbox.retries import source_retry
from engine.rulesets import service as rulesets
from engine.storage.models import OutboxMessage, OutboxReplay
from tests.orders_in.conftest import platform_order_id, stored
from tests.orders_in.test_push import live_url  # noqa: F401 - the fixture

DECLARED = "retry 10s, 45s"


def declare_douyin_retry(services: Any, line: str) -> None:
    """Publish sources_six_channels with Douyin's ``retry`` line replaced by ``line`` (the
    template's own line: keep what the fixture published)."""
    if line == "retry 30s, 2m, 5m":
        return
    with services.db.transaction(immediate=True) as s:
        content = rulesets.get_ruleset(s, "sources_six_channels").draft_content
        head, douyin, rest = content.partition('source douyin "抖店" {')
        block, end, tail = rest.partition("}")
        assert "retry 30s, 2m, 5m" in block
        changed = head + douyin + block.replace("retry 30s, 2m, 5m", line) + end + tail
        rulesets.put_draft(s, "sources_six_channels", content=changed, actor="admin", now=services.clock.now())
        rulesets.publish(s, "sources_six_channels", actor="admin", now=services.clock.now(), note="retry")


def detail_calls(fake: Any) -> list[float]:
    """When (on the manual clock) the fake was asked for an order's detail."""
    return [r.at for r in fake.requests if "orderdetail" in r.path.lower()]


@pytest.mark.parametrize("line, schedule", [(DECLARED, (10, 45)), ("retry 30s, 2m, 5m", (30, 120, 300))])
def test_a_refused_fetch_is_retried_at_the_declared_times_then_dead_and_a_replay_delivers_it_once(
        services: Any, platforms: Any, live_url: str, line: str, schedule: tuple[int, ...]) -> None:  # noqa: F811
    fake = platforms["douyin"]
    declare_douyin_retry(services, line)
    with services.db.session() as s:
        assert source_retry(s, "douyin") == schedule
    fake.push.push_to(f"{live_url}/api/v1/sources/douyin/push")
    dispatcher = Dispatcher(services, worker_id="test")
    order = fake.scenario.create([("TEA-LJ-250", 1)])
    fake.push.drain()
    start = services.clock.now()
    with services.db.session() as s:
        rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.topic == PUSH_TOPIC)))
    assert rows and all(r.retry_schedule == list(schedule) and r.source == "douyin" for r in rows)
    assert {r.order_ref for r in rows} == {f"douyin/{platform_order_id('douyin', order)}"}
    fake.fail_next(len(rows) * (len(schedule) + 1), status=502)  # every attempt of every fetch

    attempted_at: list[int] = []
    for second in range(0, sum(schedule) + 600):
        services.clock.set(start + timedelta(seconds=second))
        if dispatcher.dispatch_due():
            attempted_at.append(second)
    expected = [sum(schedule[:i]) for i in range(len(schedule) + 1)]  # at once, then each declared delay
    assert attempted_at == expected
    base = start.timestamp()
    assert sorted({round(at - base) for at in detail_calls(fake)}) == expected
    with services.db.session() as s:
        page = list_dead(s, source="douyin", order=f"douyin/{platform_order_id('douyin', order)}")
        assert page.items and all(r.attempts == len(schedule) + 1 for r in page.items)
        assert "502" in (page.items[0].last_error or "")
        assert list_dead(s, source="taobao").items == []
        dead = [(r.id, r.delivery_id) for r in page.items]

    calls_before = len(detail_calls(fake))
    with services.db.transaction(immediate=True) as s:
        replay_dead(s, [i for i, _ in dead], now=services.clock.now(), actor="admin")
    for _ in range(3):
        dispatcher.dispatch_due()
        services.clock.advance(600)
    assert len(detail_calls(fake)) - calls_before == len(dead)  # once each, not again
    intake_fetched_pushes(services)
    assert stored(services, "douyin", platform_order_id("douyin", order)) is not None
    with services.db.session() as s:
        for row_id, delivery_id in dead:
            row = s.get(OutboxMessage, row_id)
            assert row is not None and (row.status, row.delivery_id) == ("delivered", delivery_id)
        replays = list(s.scalars(select(OutboxReplay)))
        assert {(r.outbox_id, r.actor, r.previous_attempts) for r in replays} == {
            (i, "admin", len(schedule) + 1) for i, _ in dead}
