"""Shared pieces of the fulfillment tests: the warehouse's Feishu bot and DingTalk robot as fake
servers over real HTTP (each checks its own signature), the standard template published, and
orders stored through the real intake."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from connectors.fakes import FakeDingTalkRobot, FakeFeishuBot
from engine.analytics.sql_time import SHANGHAI
from engine.outbox.dispatcher import Dispatcher
from engine.storage.models import OutboxMessage

FEISHU_TOKEN, FEISHU_SECRET = "warehouse-hook", "warehouse-secret"
DINGTALK_TOKEN, DINGTALK_SECRET = "warehouse-robot", "SECwarehouse-robot-secret"


def sh(text: str) -> datetime:
    """A Beijing time."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def bots(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    with FakeFeishuBot({FEISHU_TOKEN: FEISHU_SECRET}) as feishu, \
            FakeDingTalkRobot({DINGTALK_TOKEN: DINGTALK_SECRET}) as dingtalk:
        monkeypatch.setenv("ORDERPULSE_FEISHU_BASE_URL", feishu.url)
        monkeypatch.setenv("ORDERPULSE_DINGTALK_BASE_URL", dingtalk.url)
        monkeypatch.setenv("FEISHU_WAREHOUSE_HOOK", f"https://open.feishu.cn/open-apis/bot/v2/hook/{FEISHU_TOKEN}")
        monkeypatch.setenv("FEISHU_WAREHOUSE_SECRET", FEISHU_SECRET)
        monkeypatch.setenv("DINGTALK_ROBOT_WEBHOOK", f"https://oapi.dingtalk.com/robot/send?access_token={DINGTALK_TOKEN}")
        monkeypatch.setenv("DINGTALK_ROBOT_SECRET", DINGTALK_SECRET)
        yield feishu, dingtalk


def dispatch(services: Any) -> int:
    return Dispatcher(services, worker_id="fulfillment").dispatch_due()


def warning_rows(services: Any) -> list[OutboxMessage]:
    with services.db.session() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.source.like("fulfillment:%"))
                              .order_by(OutboxMessage.id)))
