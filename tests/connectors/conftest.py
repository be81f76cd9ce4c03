"""Fixtures for connector tests: fake counterparts on 127.0.0.1, a helper that runs a
handler the way the dispatcher does (one delivery, a stable delivery id), and no platform
base-URL override from the developer's shell."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.fakes import (
    FakeDingTalkRobot,
    FakeFeishuBot,
    FakeSmsGateway,
    FakeWeComBot,
    FakeWms,
)
from connectors.platform_stock import base_url_variable
from engine.clock import ManualClock
from engine.inventory.channels import CHANNELS
from engine.outbox.registry import Delivery

WECOM_KEY = "wecom-key-0001"
FEISHU_TOKEN = "feishu-hook-token"
FEISHU_SECRET = "feishu-secret"
DINGTALK_TOKEN = "dingtalk-access-token"
DINGTALK_SECRET = "SECdingtalk-secret"
PHONE = "13800138000"


@pytest.fixture(autouse=True)
def _no_platform_base_url_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """``ORDERPULSE_<PLATFORM>_BASE_URL`` is unset unless a test sets it, so the stock
    connectors' defaults are what the tests see."""
    for channel in CHANNELS:
        monkeypatch.delenv(base_url_variable(channel), raising=False)


@pytest.fixture
def wecom_fake() -> Iterator[FakeWeComBot]:
    with FakeWeComBot([WECOM_KEY]) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def feishu_fake() -> Iterator[FakeFeishuBot]:
    with FakeFeishuBot({FEISHU_TOKEN: FEISHU_SECRET, "unsigned-token": None}) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def dingtalk_fake() -> Iterator[FakeDingTalkRobot]:
    with FakeDingTalkRobot({DINGTALK_TOKEN: DINGTALK_SECRET}) as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def sms_fake() -> Iterator[FakeSmsGateway]:
    with FakeSmsGateway(token="sms-token") as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def wms_fake() -> Iterator[FakeWms]:
    with FakeWms(token="wms-token") as fake:
        yield fake  # type: ignore[misc]


def notify_payload(channel_type: str, settings: dict[str, Any], message: str = "售后单 7 质检通过，请处理",
                   to: Any = None) -> dict[str, Any]:
    """A payload shaped exactly like the one engine.workflow.effects writes for ``notify``."""
    return {"instance_id": 7, "machine": "aftersales", "action": "质检通过", "seq": 3, "actor": "cangchu",
            "channel": "测试群", "channel_type": channel_type, "settings": settings, "message": message, "to": to}


def call_payload(settings: dict[str, Any], args: list[Any]) -> dict[str, Any]:
    """A payload shaped like the workflow's ``call wms.outbound(order_id)``."""
    return {"instance_id": 7, "machine": "aftersales", "action": "生成补发单", "seq": 4, "actor": "kefu",
            "target": "wms", "operation": "outbound", "args": args, "settings": settings}


@pytest.fixture
def run(clock: ManualClock) -> Callable[..., str]:
    """``run(handler, topic, payload, delivery_id=None)``: one delivery; returns its id."""

    def _run(handler: Callable[[Delivery], None], topic: str, payload: dict[str, Any],
             delivery_id: str | None = None, attempt: int = 1) -> str:
        did = delivery_id or str(uuid.uuid4())
        handler(Delivery(delivery_id=did, topic=topic, payload=payload, attempt=attempt, now=clock.now(),
                         session=None))  # type: ignore[arg-type]  # these handlers write nothing to SQL
        return did

    return _run
