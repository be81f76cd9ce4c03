"""A small TCP fault proxy for tests: pass traffic, add latency, reset, blackhole, or let a
request through and drop its reply (the server acted, the client never hears).

Threads, no dependencies; one proxy per target. Used for the inventory faults F4, F5 and F7.
"""

from __future__ import annotations

import socket
import threading
import time

MODES = ("pass", "latency", "reset", "blackhole", "drop_reply")


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.mode = "pass"
        self.latency = 0.0
        self.drops_left = 0
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

    def set_mode(self, mode: str, *, latency: float = 0.0, drops: int = 1) -> None:
        """``drop_reply``: the next ``drops`` replies are swallowed and their connections closed."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode}; one of {MODES}")
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
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, is_reply: bool) -> None:
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
