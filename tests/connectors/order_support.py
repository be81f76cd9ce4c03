"""Helpers the platform order client tests share: a clock both a fake and a client read, and
a push receiver over real HTTP that answers the way OrderPulse's push route does — the
client's ``parse_push`` first, then the platform's acknowledgement, or the refusal's status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.fakes.base import FakeServer, Received
from engine.orders.ports import PushEvent, PushRefused

T0 = 1_764_720_000.0  # 2025-12-03 00:00:00 UTC


class Clock:
    """A settable clock (unix seconds) for a fake and the client that calls it."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def at(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class PushedRequest:
    """One push request as a fake platform would send it: its headers and body."""

    headers: dict[str, str]
    body: bytes


class PushReceiver(FakeServer):
    """Receives pushes on any path: ``parse(headers, body)`` decides; accepted events go to
    ``events``, refusals to ``refusals``."""

    name = "push-receiver"

    def __init__(self, parse: Callable[[dict[str, str], bytes], list[PushEvent]], ack: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.parse = parse
        self.ack = ack
        self.events: list[PushEvent] = []
        self.refusals: list[str] = []

    def answer(self, request: Received) -> tuple[int, Any]:
        try:
            events = self.parse(request.headers, request.body)
        except PushRefused as refused:
            self.refusals.append(refused.reason)
            return refused.status, {"error": refused.reason}
        self.events.extend(events)
        return 200, self.ack
