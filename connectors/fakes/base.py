"""A fake counterpart HTTP server for tests and the demo: runs in a daemon thread on
127.0.0.1 with a random port, records every request, and can be told to fail.

Subclasses implement :meth:`FakeServer.answer` (verify keys and signatures the way the real
platform does and answer like it); accepted messages go to ``messages``, every request to
``requests``. ``fail_next(n, status)`` makes the next ``n`` requests fail with an HTTP error
before any check (a flaky counterpart); ``answer_next(body)`` forces the next JSON answer
(a platform error code); ``stall_next(seconds)`` holds the next request that long before it is
handled (a time-out on the caller's side; the request is still handled, late);
``hold_answer_next(seconds)`` handles the next request at once, then holds its answer that
long (done, but the caller may never hear it).
Use as a context manager or call ``start()``/``stop()``.

Answers go out with ``TCP_NODELAY``: the headers and the body are two writes, and without it
Nagle's algorithm holds the body until the client ACKs the headers, which a client delays —
about 40 ms an answer on Linux.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    """One request as the fake saw it (``query`` keeps the first value of each parameter)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default=0.0)

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except ValueError:
            return None

    @property
    def form(self) -> dict[str, str]:
        """The body as a URL-encoded form, the first value of each field (blank ones kept)."""
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items()}


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that, like a real one, says nothing when a client goes away
    mid-connection (a process holding a kept-alive connection ends or is killed)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class FakeServer:
    """Base class; see the module docstring."""

    name = "fake"
    tcp_nodelay = True  # bench/ship_latency.py turns it off to measure what it saves

    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self.requests: list[Received] = []
        self.arrived = 0  # requests that reached the fake (counted before any stall)
        self.messages: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._failures: list[tuple[int, Any]] = []
        self._forced: list[tuple[int, Any]] = []
        self._stalls: list[float] = []
        self._holds: list[float] = []
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                if fake.tcp_nodelay:
                    self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._connections.discard(self.connection)
                super().finish()

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop the kept-alive connections too, as a server going down
        does (a client's kept connection must not be answered by a stopped fake)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            kept, self._connections = list(self._connections), set()
        for conn in kept:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "fake server not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL (scheme, host and port, no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    # --- scripting ---------------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 500, body: Any = None) -> None:
        with self._lock:
            self._failures.extend([(status, body if body is not None else {"error": "internal error"})] * count)

    def answer_next(self, body: Any, status: int = 200, count: int = 1) -> None:
        with self._lock:
            self._forced.extend([(status, body)] * count)

    def stall_next(self, seconds: float, count: int = 1) -> None:
        """Hold the next ``count`` requests ``seconds`` before answering them."""
        with self._lock:
            self._stalls.extend([seconds] * count)

    def hold_answer_next(self, seconds: float, count: int = 1) -> None:
        """Do the next ``count`` requests, then hold each answer ``seconds`` before sending it."""
        with self._lock:
            self._holds.extend([seconds] * count)

    # --- the request path --------------------------------------------------------------------

    def answer(self, request: Received) -> tuple[int, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def accept(self, message: dict[str, Any]) -> None:
        """Record an accepted message (call with the lock held, from :meth:`answer`)."""
        self.messages.append(message)

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(http.path)
        length = int(http.headers.get("Content-Length") or 0)
        body = http.rfile.read(length) if length else b""
        request = Received(
            method=http.command,
            path=parts.path,
            query={k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            headers={k.lower(): v for k, v in http.headers.items()},
            body=body,
            at=self.now(),
        )
        with self._lock:
            self.arrived += 1
            stall = self._stalls.pop(0) if self._stalls else 0.0
        if stall:
            time.sleep(stall)
        with self._lock:
            self.requests.append(request)
            if self._failures:
                status, answer = self._failures.pop(0)
            elif self._forced:
                status, answer = self._forced.pop(0)
            else:
                status, answer = self.answer(request)
            hold = self._holds.pop(0) if self._holds else 0.0
        if hold:
            time.sleep(hold)
        data = answer if isinstance(answer, bytes) else json.dumps(answer, ensure_ascii=False).encode("utf-8")
        http.send_response(status)
        http.send_header("Content-Type", "application/json; charset=utf-8")
        http.send_header("Content-Length", str(len(data)))
        try:
            http.end_headers()
            http.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the caller gave up waiting (a time-out)


class RateWindow:
    """At most ``limit`` events per ``seconds`` (sliding window), on the fake's clock."""

    def __init__(self, limit: int | None, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self._events: list[float] = []

    def allow(self, now: float) -> bool:
        if self.limit is None:
            return True
        self._events = [t for t in self._events if now - t < self.seconds]
        if len(self._events) >= self.limit:
            return False
        self._events.append(now)
        return True


class IdempotentFake(FakeServer):
    """A counterpart taking one ``POST`` on :attr:`path` per ``Idempotency-Key`` (our SMS
    gateway and WMS contracts): checks the bearer token when one is configured, requires the
    key and the body field :attr:`required`, and answers a replayed key with its first accepted
    answer (counted in ``replays``). Subclasses act on a new key in :meth:`create`; an answer
    with ``code`` 0 is remembered for the key, any other is not."""

    path = "/"
    required = ""
    not_found = "not found"
    bad_request = "Idempotency-Key is required"

    def __init__(self, *, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.replays = 0
        self._answers: dict[str, dict[str, Any]] = {}

    def create(self, key: str, body: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def answer(self, request: Received) -> tuple[int, Any]:
        if request.method != "POST" or request.path != self.path:
            return 404, {"code": 404, "message": self.not_found}
        if self.token is not None and request.headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"code": 401, "message": "unauthorized"}
        key = request.headers.get("idempotency-key")
        body = request.json
        if not key or not isinstance(body, dict) or not body.get(self.required):
            return 400, {"code": 400, "message": self.bad_request}
        if key in self._answers:
            self.replays += 1
            return 200, self._answers[key]
        answer = self.create(key, body)
        if answer.get("code") == 0:
            self._answers[key] = answer
        return 200, answer
