"""SMS gateway and WMS handlers over real HTTP against their fakes: the delivery id travels as
the idempotency key (a replayed delivery sends no second SMS and ships nothing twice), tokens
are checked, errors raise without the customer's phone number, and logs mask it."""

from __future__ import annotations

import io

import pytest

from connectors import sms_gateway, wms
from connectors.fakes import FakeSmsGateway, FakeWms
from connectors.outbound import ConnectorError, MissingSetting
from tests.connectors.conftest import PHONE, call_payload, notify_payload

SMS = notify_payload("sms", {"url": {"env": "OP_SMS_URL"}, "token": {"env": "OP_SMS_TOKEN"}},
                     message="您的补发商品已出库", to=PHONE)
WMS = call_payload({"url": {"env": "OP_WMS_URL"}, "token": {"env": "OP_WMS_TOKEN"}}, ["TB20261111001"])


@pytest.fixture
def sms_env(monkeypatch: pytest.MonkeyPatch, sms_fake: FakeSmsGateway) -> FakeSmsGateway:
    monkeypatch.setenv("OP_SMS_URL", sms_fake.send_url)
    monkeypatch.setenv("OP_SMS_TOKEN", "sms-token")
    return sms_fake


@pytest.fixture
def wms_env(monkeypatch: pytest.MonkeyPatch, wms_fake: FakeWms) -> FakeWms:
    monkeypatch.setenv("OP_WMS_URL", wms_fake.url)
    monkeypatch.setenv("OP_WMS_TOKEN", "wms-token")
    return wms_fake


def test_sms_delivered_once_per_delivery_id(sms_env: FakeSmsGateway, run) -> None:
    did = run(sms_gateway.deliver, "notify.sms", SMS)
    run(sms_gateway.deliver, "notify.sms", SMS, delivery_id=did, attempt=2)  # the dispatcher retried
    assert sms_env.messages == [{"phone": PHONE, "text": "您的补发商品已出库", "idempotency_key": did}]
    assert sms_env.replays == 1
    assert [r.headers["idempotency-key"] for r in sms_env.requests] == [did, did]
    run(sms_gateway.deliver, "notify.sms", SMS)  # another delivery: another SMS
    assert len(sms_env.messages) == 2


def test_sms_phone_written_with_country_code_and_dashes(sms_env: FakeSmsGateway, run) -> None:
    run(sms_gateway.deliver, "notify.sms", {**SMS, "to": "+86 138-0013-8000"})
    assert sms_env.messages[0]["phone"] == PHONE


def test_sms_wrong_token_raises_without_phone_or_token(sms_env: FakeSmsGateway, run, monkeypatch) -> None:
    monkeypatch.setenv("OP_SMS_TOKEN", "stolen-token")
    with pytest.raises(ConnectorError, match="SMS gateway: HTTP 401") as info:
        run(sms_gateway.deliver, "notify.sms", SMS)
    assert info.value.permanent
    assert PHONE not in str(info.value) and "stolen-token" not in str(info.value)
    assert sms_env.messages == []


def test_sms_gateway_error_code_raises(sms_env: FakeSmsGateway, run) -> None:
    sms_env.answer_next({"code": 2001, "message": f"channel busy for {PHONE}"})
    with pytest.raises(ConnectorError, match="SMS gateway: code 2001: channel busy") as info:
        run(sms_gateway.deliver, "notify.sms", SMS)
    assert PHONE not in str(info.value)


def test_sms_refused_number_and_missing_recipient(sms_env: FakeSmsGateway, run) -> None:
    with pytest.raises(ConnectorError, match="code 1001"):
        run(sms_gateway.deliver, "notify.sms", {**SMS, "to": "12812345678"})
    with pytest.raises(ConnectorError, match="no recipient") as info:
        run(sms_gateway.deliver, "notify.sms", {**SMS, "to": None})
    assert info.value.permanent
    with pytest.raises(ConnectorError, match="not a phone number"):
        run(sms_gateway.deliver, "notify.sms", {**SMS, "to": "call me"})
    assert sms_env.messages == []


def test_sms_missing_gateway_url(sms_env: FakeSmsGateway, run, monkeypatch) -> None:
    monkeypatch.delenv("OP_SMS_URL")
    with pytest.raises(MissingSetting, match="OP_SMS_URL"):
        run(sms_gateway.deliver, "notify.sms", SMS)


def test_sms_log_line_masks_the_phone(sms_env: FakeSmsGateway, run, log_stream: io.StringIO) -> None:
    run(sms_gateway.deliver, "notify.sms", SMS)
    out = log_stream.getvalue()
    assert "sms sent" in out and "138****8000" in out
    assert PHONE not in out


def test_wms_outbound_carries_order_id_and_idempotency_key(wms_env: FakeWms, run) -> None:
    did = run(wms.deliver, "call.wms.outbound", WMS)
    [shipped] = wms_env.messages
    assert shipped["order_id"] == "TB20261111001" and shipped["idempotency_key"] == did
    assert shipped["reference"] == {"machine": "aftersales", "instance_id": 7, "action": "生成补发单", "seq": 4}
    request = wms_env.requests[0]
    assert request.path == "/outbound" and request.headers["authorization"] == "Bearer wms-token"
    run(wms.deliver, "call.wms.outbound", WMS, delivery_id=did, attempt=2)
    assert len(wms_env.messages) == 1 and wms_env.replays == 1


def test_wms_errors_raise(wms_env: FakeWms, run, monkeypatch) -> None:
    wms_env.fail_next(1, status=503)
    with pytest.raises(ConnectorError, match="WMS: HTTP 503") as info:
        run(wms.deliver, "call.wms.outbound", WMS)
    assert not info.value.permanent
    wms_env.answer_next({"code": 3001, "message": "order not found"})
    with pytest.raises(ConnectorError, match="WMS: outbound: code 3001: order not found"):
        run(wms.deliver, "call.wms.outbound", WMS)
    with pytest.raises(ConnectorError, match="needs an order id"):
        run(wms.deliver, "call.wms.outbound", {**WMS, "args": [None]})
    with pytest.raises(ConnectorError, match="unknown operation 'cancel'"):
        run(wms.deliver, "call.wms.cancel", {**WMS, "operation": "cancel"})
    monkeypatch.setenv("OP_WMS_TOKEN", "nope")
    with pytest.raises(ConnectorError, match="HTTP 401"):
        run(wms.deliver, "call.wms.outbound", WMS)
    assert wms_env.messages == []
