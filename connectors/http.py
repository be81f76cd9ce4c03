"""The connectors' HTTP: one ``requests`` session per thread, so calls to a platform reuse their
kept-alive connections (no TCP and TLS handshake per call), and the environment's proxy
settings read once per host instead of on every call.

``requests.request`` builds a new session for every call: a new connection, and a fresh read
of the proxy variables, ``no_proxy`` and ``~/.netrc``. Profiling a worker at the drill's peak
put a fifth of its CPU under connector requests, much of it there. Sessions are kept per
thread (a session is not meant to be shared between threads; the outbox delivers side by
side). Proxies (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) are honoured as before, read
when a thread first calls a host; a ``.netrc`` is not read (every platform call is signed).
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = ["request"]

_local = threading.local()
_proxies: dict[tuple[str, str], dict[str, str]] = {}
_proxies_lock = threading.Lock()


def _session() -> requests.Session:
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # the proxies come from _proxies_for, read once per host
        _local.session = session
    return session


def _proxies_for(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    key = (parts.scheme, parts.netloc)
    found = _proxies.get(key)
    if found is None:
        found = dict(requests.utils.get_environ_proxies(url))
        with _proxies_lock:
            _proxies[key] = found
    return found


def request(method: str, url: str, **kwargs: Any) -> requests.Response:
    """``requests.request`` on this thread's kept session (same arguments, same answer)."""
    proxies = _proxies_for(url)
    if proxies:
        kwargs.setdefault("proxies", proxies)
    return _session().request(method, url, **kwargs)
