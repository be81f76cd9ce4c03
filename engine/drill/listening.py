"""A local server process on a free port, and waiting until it listens or answers.

Shared by the drill's target (``orderpulse serve`` and a private ``redis-server``) and the
benches (gunicorn, ``orderpulse serve``). Owns only finding a port and polling it: starting,
stopping and measuring the processes belongs to their callers.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import requests


class NotListening(RuntimeError):
    """``what`` did not listen or answer within ``timeout`` seconds, or its process exited first
    (``exit_code``)."""

    def __init__(self, what: str, timeout: float, exit_code: int | None = None) -> None:
        self.what = what
        self.timeout = timeout
        self.exit_code = exit_code
        if exit_code is not None:
            message = f"{what} exited with {exit_code}"
        else:
            message = f"{what} did not answer in {timeout:.0f}s"
        super().__init__(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise NotListening(f"port {port}", timeout)


def wait_until_answering(url: str, timeout: float, *, answered: Callable[[int], bool] = lambda status: status == 200,
                         process: subprocess.Popen[bytes] | None = None, request_timeout: float = 2.0,
                         what: str | None = None) -> None:
    """Return once ``GET url`` gets a status that ``answered`` accepts (200 by default), polling
    every 0.1 s; raise :class:`NotListening` when ``timeout`` passes or ``process`` exits first."""
    what = what or url
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise NotListening(what, timeout, process.returncode)
        try:
            if answered(requests.get(url, timeout=request_timeout).status_code):
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise NotListening(what, timeout)
