"""Helpers the platform stock connector tests share: reading the form a connector posted to
a fake, and an address where nothing listens (an unreachable gateway)."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs

from connectors.fakes.base import FakeServer, Received


def form(request: Received) -> dict[str, str]:
    """The form body of ``request`` (first value of each field)."""
    return {k: v[0] for k, v in parse_qs(request.body.decode("utf-8")).items()}


def form_calls(fake: FakeServer, field: str, value: str) -> list[dict[str, str]]:
    """The forms ``fake`` received whose ``field`` is ``value`` (a router's method or type)."""
    return [f for f in map(form, fake.requests) if f.get(field) == value]


def closed_url() -> str:
    """``http://127.0.0.1:<port>`` of a port that was free a moment ago and is closed now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"
