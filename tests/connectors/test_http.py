"""The connectors' HTTP: calls from one thread to one host reuse a kept-alive connection, the
environment's proxy settings still apply, and a fake platform that stops drops its kept
connections (a stopped fake must not answer through one)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from connectors import http
from connectors.fakes.wecom_bot import FakeWeComBot


class _Recorder:
    """A tiny HTTP/1.1 server that answers ``{}`` and records each request's client port and
    request line."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.seen.append((self.client_address[1], self.requestline))
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    found = _Recorder()
    yield found
    found.close()


def test_calls_from_one_thread_to_one_host_reuse_one_connection(recorder: _Recorder) -> None:
    for n in range(5):
        assert http.request("POST", f"{recorder.url}/api", data=json.dumps({"n": n}), timeout=5).json() == {}
    ports = {port for port, _ in recorder.seen}
    assert len(recorder.seen) == 5 and len(ports) == 1  # requests.request would have opened five

    other: list[int] = []
    thread = threading.Thread(target=lambda: other.append(http.request("GET", f"{recorder.url}/x", timeout=5)
                                                          .status_code))
    thread.start()
    thread.join()
    assert other == [200]
    assert recorder.seen[-1][0] not in ports  # another thread, its own session and connection


def test_the_environment_proxy_still_carries_the_calls(recorder: _Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", recorder.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    answer = http.request("GET", "http://platform.proxied.invalid/router/rest?method=x", timeout=5)
    assert answer.status_code == 200
    # the proxy got the absolute-form request line: the call went through it, not around it
    assert recorder.seen[-1][1] == "GET http://platform.proxied.invalid/router/rest?method=x HTTP/1.1"


def test_a_stopped_fake_does_not_answer_through_a_kept_connection() -> None:
    fake = FakeWeComBot(["kept-key"]).start()
    url = f"{fake.url}/cgi-bin/webhook/send?key=kept-key"
    first = http.request("POST", url, data=b"{}", timeout=5)
    assert first.status_code == 200 and fake.arrived == 1
    fake.stop()
    with pytest.raises(requests.ConnectionError):
        http.request("POST", url, data=b"{}", timeout=5)


def test_a_client_that_resets_its_kept_connection_leaves_no_traceback_on_the_fake(capfd) -> None:
    """A process holding a kept-alive connection that ends or is killed resets it; the fake,
    like a real server, answers the others and prints nothing about it (a merchant's drill
    output stays readable)."""
    import socket
    import struct
    import time

    fake = FakeWeComBot(["kept-key"]).start()
    try:
        raw = socket.create_connection(("127.0.0.1", fake.port))
        raw.sendall(b"POST /cgi-bin/webhook/send?key=kept-key HTTP/1.1\r\nHost: fake\r\nContent-Length: 2\r\n\r\n{}")
        assert raw.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(0.2)  # the handler waits for the connection's next request
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()  # RST: the handler thread's next read fails with ConnectionResetError
        deadline = time.monotonic() + 5
        while fake._connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not fake._connections  # the handler is done with the reset connection
        ok = http.request("POST", f"{fake.url}/cgi-bin/webhook/send?key=kept-key", data=b"{}", timeout=5)
        assert ok.status_code == 200 and fake.arrived == 2
    finally:
        fake.stop()
    err = capfd.readouterr().err
    assert "ConnectionResetError" not in err and "Traceback" not in err
