"""No secret in an error text or a log line: every connector fails against a counterpart that
echoes the request it got (URL, headers and body) in an HTTP 500, and neither the outbox's
``last_error`` (served by ``GET /outbox``) nor the log holds any of the known secrets. Phones
are masked in their full-width and dotted forms too."""

from __future__ import annotations

import importlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from connectors.outbound import ConnectorError
from engine.masking import mask_text
from engine.outbox import enqueue
from engine.outbox.dispatcher import Dispatcher
from engine.redaction import redact
from engine.storage.models import OutboxMessage
from tests.conftest import auth
from tests.connectors.conftest import call_payload, notify_payload


class _Echo(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        echo = json.dumps({"path": self.path, "headers": dict(self.headers), "body": body}, ensure_ascii=False)
        data = echo.encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# (topic, payload builder, environment) — neutral variable names, so the values are known
# only because the connectors resolved them, not because a name looked secret
def _notify_cases(echo: str) -> list[tuple[str, dict, dict[str, str], list[str]]]:
    return [
        ("notify.sms", notify_payload("sms", {"url": {"env": "OP_A"}}, to="13812345678"),
         {"OP_A": f"{echo}/sms/send?apikey=sms-apikey-4f9c21"}, ["sms-apikey-4f9c21"]),
        ("call.wms.outbound", call_payload({"url": {"env": "OP_B"}, "token": {"env": "OP_C"}}, ["TB1"]),
         {"OP_B": f"{echo}/wms?key=wms-key-77ab31", "OP_C": "wms-bearer-8c1d5e"}, ["wms-key-77ab31", "wms-bearer-8c1d5e"]),
        ("notify.wecom", notify_payload("wecom", {"key": {"env": "OP_D"}, "base_url": echo}),
         {"OP_D": "wecom-key-1b2c3d4e"}, ["wecom-key-1b2c3d4e"]),
        ("notify.feishu", notify_payload("feishu", {"webhook": {"env": "OP_E"}, "secret": {"env": "OP_F"},
                                                    "base_url": echo}),
         {"OP_E": "https://open.feishu.cn/open-apis/bot/v2/hook/feishu-tok-9e8d7c6b", "OP_F": "feishu-sec-5a4b3c"},
         ["feishu-tok-9e8d7c6b", "feishu-sec-5a4b3c"]),
        ("notify.dingtalk", notify_payload("dingtalk", {"webhook": {"env": "OP_G"}, "secret": {"env": "OP_H"}}),
         {"OP_G": f"{echo}/robot/send?access_token=ding-tok-3c2b1a0f", "OP_H": "SECding-sec-6f5e4d"},
         ["ding-tok-3c2b1a0f", "SECding-sec-6f5e4d"]),
    ]


def test_no_connector_error_or_log_line_holds_a_secret(client, services, tokens, echo, monkeypatch,
                                                        log_stream) -> None:
    secrets: list[str] = []
    with services.db.transaction() as s:
        for topic, payload, env, known in _notify_cases(echo):
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            secrets += known
            enqueue(s, topic, payload, now=services.clock.now(), source="test", retry_schedule=())
    dispatcher = Dispatcher(services, worker_id="redaction")
    assert dispatcher.dispatch_due() == 5
    with services.db.session() as s:
        rows = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    assert [r.status for r in rows] == ["dead"] * 5
    assert all(r.last_error for r in rows)
    served = client.get("/api/v1/outbox", headers=auth(tokens["admin"])).get_data(as_text=True)
    logged = log_stream.getvalue()
    for secret in secrets:
        for row in rows:
            assert secret not in (row.last_error or ""), (row.topic, row.last_error)
        assert secret not in served
        assert secret not in logged, secret
    assert "HTTP 500" in rows[0].last_error and "***" in rows[0].last_error


@pytest.mark.parametrize("platform", ["douyin", "taobao", "pdd", "kuaishou", "xiaohongshu", "miniprogram"])
def test_platform_connectors_never_put_credentials_in_their_errors(platform, echo) -> None:
    module = importlib.import_module(f"connectors.{platform}_stock")
    credentials = {"app_key": f"{platform}-appkey-a1b2c3", "app_secret": f"{platform}-secret-d4e5f6",
                   "access_token": f"{platform}-token-0718293"}
    connector = module.build(platform, credentials, echo)
    with pytest.raises(ConnectorError) as failed:
        connector.push_stock("TEA-1", 5, 1)
    text = str(failed.value)
    assert "500" in text
    for secret in (credentials["app_secret"], credentials["access_token"]):
        assert secret not in text, (platform, text)
        assert secret not in redact(text)


def test_redaction_of_secret_looking_url_parts_and_tokens() -> None:
    text = ("POST https://u:p4ss-w0rd@sms.example.com/send?apikey=abc123456&to=1 failed; "
            "Authorization: Bearer op_abcdefghijklmnopqrstuvwxyz; webhook /bot/v2/hook/0123456789abcdef")
    assert redact(text) == ("POST https://***@sms.example.com/send?apikey=***&to=1 failed; "
                            "Authorization: Bearer ***; webhook /bot/v2/hook/***")


@pytest.mark.parametrize(("raw", "masked"), [
    ("１３８１２３４５６７８", "１３８****５６７８"),
    ("138.1234.5678", "138****5678"),
    ("电话：１３８－１２３４－５６７８。", "电话：１３８****５６７８。"),
    ("138 1234 5678", "138****5678"),
])
def test_log_masking_of_full_width_and_dotted_phones(raw, masked) -> None:
    assert mask_text(raw) == masked


def test_the_wms_path_goes_before_the_query_string(echo) -> None:
    from connectors import wms
    from connectors.outbound import join_path

    assert join_path("https://wms.example.com/api?key=K1", "outbound") == "https://wms.example.com/api/outbound?key=K1"
    with pytest.raises(ConnectorError) as failed:
        wms.call(f"{echo}/wms?key=wms-key-path-test", "outbound", {"order_id": "TB1"}, request_id="d-1")
    echoed = str(failed.value)
    assert "/wms/outbound?key=***" in echoed and "wms-key-path-test" not in echoed
