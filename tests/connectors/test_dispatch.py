"""The outbox dispatcher with the default handlers, over real HTTP to the fakes: rows the
workflow writes are delivered (WeCom, SMS, WMS); a flaky counterpart is retried on the row's
schedule on the manual clock; a missing secret ends as a dead letter that says why."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from connectors.fakes import FakeCounterparts, FakeWeComBot
from connectors.handlers import DEFAULT_HANDLERS
from engine.outbox import enqueue
from engine.outbox.dispatcher import Dispatcher
from engine.outbox.registry import Delivery
from engine.services import Services
from engine.storage.models import OutboxMessage
from tests.conftest import auth
from tests.connectors.conftest import WECOM_KEY, notify_payload
from tests.workflow.helpers import fire, publish_template

WECOM = notify_payload("wecom", {"key": {"env": "WECOM_CS_LEAD_KEY"}})


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCounterparts]:
    with FakeCounterparts() as counterparts:
        for name, value in counterparts.environment().items():
            monkeypatch.setenv(name, value)
        yield counterparts


def _rows(services: Services, topic: str | None = None) -> list[OutboxMessage]:
    with services.db.session() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if topic:
            query = query.where(OutboxMessage.topic == topic)
        return list(s.scalars(query))


def _put(services: Services, topic: str, payload: dict, **kwargs) -> int:
    with services.db.transaction() as s:
        row = enqueue(s, topic, payload, now=services.clock.now(), source="test", **kwargs)
        s.flush()
        return row.id


def test_default_topics_registered_and_tests_can_replace_them(services: Services) -> None:
    assert services.handlers is not None
    topics = services.handlers.topics()
    assert set(DEFAULT_HANDLERS) <= set(topics)
    assert {"notify.wecom", "notify.feishu", "notify.dingtalk", "notify.sms", "call.wms.outbound"} <= set(topics)
    assert "test.receipt" in topics  # plug-in modules still load after the defaults
    seen: list[Delivery] = []
    services.handlers.register("notify.wecom", seen.append)
    _put(services, "notify.wecom", WECOM)
    assert Dispatcher(services, worker_id="t").dispatch_due() == 1
    assert len(seen) == 1 and _rows(services)[0].status == "delivered"


def test_workflow_rows_delivered_to_the_fakes(client, services: Services, tokens, clock, fakes) -> None:
    publish_template(client, tokens, "aftersales_standard")
    created = client.post("/api/v1/machines/aftersales/instances",
                          json={"data": {"order_id": "TB20261111001", "consumer_id": "c-88",
                                         "consumer_phone": "13800138000"}},
                          headers=auth(tokens["cs"]))
    assert created.status_code == 201, created.get_json()
    tid = created.get_json()["id"]
    assert fire(client, tokens["cs"], tid, "审核通过").status_code == 200
    assert fire(client, tokens["cs"], tid, "登记退货物流", {"return_tracking_no": "SF1"}).status_code == 200
    assert fire(client, tokens["warehouse"], tid, "质检通过", {"qc_result": "合格"}).status_code == 200
    [row] = _rows(services, "notify.wecom")
    assert row.payload["settings"] == {"key": {"env": "WECOM_CS_LEAD_KEY"}}

    dispatcher = Dispatcher(services, worker_id="test-dispatcher")
    assert dispatcher.dispatch_due() == 1
    assert fakes.wecom.messages == [{"key": "fake-wecom-cs-lead-key", "content": f"售后单 {tid} 质检通过，请处理",
                                     "mentioned_list": [], "mentioned_mobile_list": []}]
    assert _rows(services, "notify.wecom")[0].status == "delivered"

    assert fire(client, tokens["cs"], tid, "生成补发单").status_code == 200
    assert dispatcher.dispatch_due() == 2
    wms_row = _rows(services, "call.wms.outbound")[0]
    sms_row = _rows(services, "notify.sms")[0]
    assert wms_row.status == "delivered" and sms_row.status == "delivered"
    assert fakes.wms.messages[0]["order_id"] == "TB20261111001"
    assert fakes.wms.messages[0]["idempotency_key"] == wms_row.delivery_id
    assert fakes.sms.messages == [{"phone": "13800138000", "text": "您的补发商品已出库",
                                   "idempotency_key": sms_row.delivery_id}]


def test_flaky_counterpart_retried_on_the_rows_schedule(services: Services, clock, monkeypatch) -> None:
    with FakeWeComBot([WECOM_KEY]) as fake:
        monkeypatch.setenv("ORDERPULSE_WECOM_BASE_URL", fake.url)
        monkeypatch.setenv("WECOM_CS_LEAD_KEY", WECOM_KEY)
        fake.fail_next(2, status=500)
        row_id = _put(services, "notify.wecom", WECOM, retry_schedule=(30, 120, 300))
        dispatcher = Dispatcher(services, worker_id="test-dispatcher")
        start = clock.now()

        assert dispatcher.dispatch_due() == 1
        [row] = _rows(services)
        assert (row.status, row.attempts) == ("pending", 1)
        assert (row.last_error or "").startswith("ConnectorError: WeCom bot: HTTP 500")
        assert row.next_attempt_at.replace(tzinfo=start.tzinfo) == start + timedelta(seconds=30)

        clock.advance(29)
        assert dispatcher.dispatch_due() == 0  # not due yet
        clock.advance(1)
        assert dispatcher.dispatch_due() == 1
        [row] = _rows(services)
        assert (row.status, row.attempts) == ("pending", 2)
        assert row.next_attempt_at.replace(tzinfo=start.tzinfo) == start + timedelta(seconds=30 + 120)

        clock.advance(119)
        assert dispatcher.dispatch_due() == 0
        clock.advance(1)
        assert dispatcher.dispatch_due() == 1
        [row] = _rows(services)
        assert row.id == row_id and (row.status, row.attempts) == ("delivered", 3)
        assert len(fake.requests) == 3 and fake.messages[0]["content"] == WECOM["message"]


def test_missing_secret_ends_dead_with_a_clear_error(services: Services, clock, monkeypatch) -> None:
    monkeypatch.delenv("WECOM_CS_LEAD_KEY", raising=False)
    _put(services, "notify.wecom", WECOM, retry_schedule=(30,))
    dispatcher = Dispatcher(services, worker_id="test-dispatcher")
    assert dispatcher.dispatch_due() == 1
    clock.advance(30)
    assert dispatcher.dispatch_due() == 1
    [row] = _rows(services)
    assert row.status == "dead" and row.attempts == 2
    error = row.last_error or ""
    assert "environment variable WECOM_CS_LEAD_KEY" in error and "retrying will not help" in error


def test_platform_error_code_keeps_the_row_retrying(services: Services, clock, monkeypatch) -> None:
    with FakeWeComBot([WECOM_KEY]) as fake:
        monkeypatch.setenv("ORDERPULSE_WECOM_BASE_URL", fake.url)
        monkeypatch.setenv("WECOM_CS_LEAD_KEY", "revoked-key")
        _put(services, "notify.wecom", WECOM)
        assert Dispatcher(services, worker_id="test-dispatcher").dispatch_due() == 1
        [row] = _rows(services)
        error = row.last_error or ""
        assert row.status == "pending" and "WeCom bot: errcode 93000" in error and "revoked-key" not in error


def test_the_checkers_catalogue_of_effect_targets_is_what_the_default_handlers_deliver() -> None:
    """dsl refuses at check time what no handler would deliver; the two lists stay in step."""
    from dsl import order_model as om

    declared = {f"notify.{t}" for t in om.NOTIFY_CHANNEL_TYPES}
    declared |= {f"call.{t}.{op}" for t, ops in om.CALL_OPERATIONS.items() for op in ops}
    assert declared == set(DEFAULT_HANDLERS)
    assert om.ARCHIVE_TARGETS == ("finance_voucher",)  # written by the workflow itself, in the transition
