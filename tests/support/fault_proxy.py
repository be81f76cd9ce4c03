"""A small TCP fault proxy for tests: pass traffic, add latency, reset, blackhole, let a
request through and drop its reply (the server acted, the client never hears), or cut the
connection when the client sends a given byte pattern — before the server sees it, or after
the server answered it (``cut_on``: e.g. ``b"COMMIT"`` for a reset during commit).

Threads, no dependencies; one proxy per target. Used for the inventory faults F4, F5 and F7.
"""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

MODES = ("pass", "latency", "reset", "blackhole", "drop_reply", "cut_on")


class _Pair:
    """State shared by the two pumps of one proxied connection."""

    def __init__(self) -> None:
        self.swallow_reply = False


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.latency = 0.0
        self.drops_left = 0
        self.pattern = b""
        self.cut_after_reply = False
        self.cuts = 0
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def route(self, url: str) -> str:
        """``url`` (any scheme) with its host and port replaced by this proxy's."""
        parts = urlsplit(url)
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + f"127.0.0.1:{self.port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    def set_mode(self, mode: str, *, latency: float = 0.0, drops: int = 1, pattern: bytes = b"",
                 after_reply: bool = False) -> None:
        """``drop_reply``: the next ``drops`` replies are swallowed and their connections closed.
        ``cut_on``: the next ``drops`` client messages containing ``pattern`` cut their
        connection — at once (the server never sees them) or, with ``after_reply``, once a
        reply carrying the same pattern came back (PostgreSQL echoes ``COMMIT`` when the commit
        is durable); replies are swallowed from the cut message on."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode}; one of {MODES}")
        if mode == "cut_on" and not pattern:
            raise ValueError("cut_on needs a pattern")
        self.pattern, self.cut_after_reply = pattern, after_reply
        self.mode, self.latency, self.drops_left = mode, latency, drops
        if mode == "reset":
            self.reset_all()

    def reset_all(self) -> None:
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self._conns.clear()

    def stop(self) -> None:
        self._stop.set()
        self.reset_all()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self.mode == "reset":
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            pair = _Pair()
            threading.Thread(target=self._pump, args=(client, upstream, False, pair), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True, pair), daemon=True).start()

    def _take_cut(self) -> bool:
        with self._lock:
            if self.drops_left <= 0:
                return False
            self.drops_left -= 1
            self.cuts += 1
            return True

    def _pump(self, src: socket.socket, dst: socket.socket, is_reply: bool, pair: _Pair) -> None:
        try:
            while not self._stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                mode = self.mode
                if mode == "blackhole":
                    continue
                if mode == "latency" and self.latency:
                    time.sleep(self.latency)
                if is_reply and mode == "drop_reply" and self.drops_left > 0:
                    self.drops_left -= 1
                    break
                if is_reply and pair.swallow_reply:
                    if self.pattern in data:  # the server has answered the message: cut now
                        break
                    continue
                if not is_reply and mode == "cut_on" and self.pattern in data and self._take_cut():
                    if not self.cut_after_reply:
                        break
                    pair.swallow_reply = True
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)  # wakes the twin pump and sends FIN to the peer
                except OSError:
                    pass
                s.close()
