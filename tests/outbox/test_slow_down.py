"""A receiver that asks us to slow down did not fail the message: a burst of alerts to one
Feishu bot (the fake enforces the real 5 per second) is delivered whole, the rows over the limit
wait the minute the limit is counted in (spread by delivery id) without using their attempts,
and none ends dead — where four quick attempts used to kill a burst on a busy day. A real
failure still counts its attempts."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select

from connectors.fakes import FakeFeishuBot
from engine.outbox.dispatcher import Dispatcher
from engine.outbox.service import enqueue
from engine.storage.models import OutboxMessage
from tests.connectors.conftest import notify_payload

TOKEN, SECRET = "slow-down-hook", "slow-down-secret"
SETTINGS = {"webhook": {"env": "OP_SLOW_HOOK"}, "secret": {"env": "OP_SLOW_SECRET"}}


def _rows(services: Any) -> list[OutboxMessage]:
    with services.db.session() as s:
        rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify.feishu")
                              .order_by(OutboxMessage.id)))
        for r in rows:
            s.expunge(r)
        return rows


def _dispatch(services: Any) -> None:
    Dispatcher(services, worker_id="test").dispatch_due(now=services.clock.now(), limit=100)


def test_a_burst_over_a_bots_limit_waits_without_using_its_attempts_and_is_all_delivered(
        services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    offset = [0.0]  # the fake's clock follows the test's: real time (signatures) plus what the test moved
    with FakeFeishuBot({TOKEN: SECRET}, now=lambda: time.time() + offset[0]) as bot:
        monkeypatch.setenv("ORDERPULSE_FEISHU_BASE_URL", bot.url)
        monkeypatch.setenv("OP_SLOW_HOOK", f"https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN}")
        monkeypatch.setenv("OP_SLOW_SECRET", SECRET)
        with services.db.transaction() as s:
            for i in range(12):
                enqueue(s, "notify.feishu", notify_payload("feishu", SETTINGS, message=f"库存不足 SKU-{i:02d}"),
                        now=services.clock.now())
        start = services.clock.now()
        _dispatch(services)
        rows = _rows(services)
        waiting = [r for r in rows if r.status == "pending"]
        assert [r.status for r in rows].count("delivered") == 5 and len(waiting) == 7  # 5 per second
        for r in waiting:
            assert r.attempts == 0 and "code 11232" in (r.last_error or "")
            assert 60 <= (r.next_attempt_at - start).total_seconds() <= 90  # the minute, spread by delivery id
        assert len({r.next_attempt_at for r in waiting}) > 1

        for _ in range(3):
            offset[0] += 91
            services.clock.advance(91)
            _dispatch(services)
        rows = _rows(services)
        assert {r.status for r in rows} == {"delivered"}
        assert sorted(m["text"] for m in bot.messages) == [f"库存不足 SKU-{i:02d}" for i in range(12)]
        assert max(r.attempts for r in rows) == 1  # each delivered on the one attempt counted


def test_a_real_failure_still_counts_its_attempts(services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeFeishuBot({TOKEN: "another-secret"}) as bot:  # a wrong secret: refused, not rate limited
        monkeypatch.setenv("ORDERPULSE_FEISHU_BASE_URL", bot.url)
        monkeypatch.setenv("OP_SLOW_HOOK", f"https://open.feishu.cn/open-apis/bot/v2/hook/{TOKEN}")
        monkeypatch.setenv("OP_SLOW_SECRET", SECRET)
        with services.db.transaction() as s:
            enqueue(s, "notify.feishu", notify_payload("feishu", SETTINGS), now=services.clock.now(),
                    retry_schedule=(30,))
        _dispatch(services)
        (row,) = _rows(services)
        assert (row.status, row.attempts) == ("pending", 1) and "code 19021" in (row.last_error or "")
        services.clock.advance(31)
        _dispatch(services)
        (row,) = _rows(services)
        assert (row.status, row.attempts) == ("dead", 2)
