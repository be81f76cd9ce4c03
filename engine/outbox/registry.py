"""Outbox handlers: who delivers which topic.

A handler is ``handler(delivery) -> None``; raising means "failed, retry later". Each
delivery carries a stable ``delivery_id`` so a handler can be idempotent, and ``session``,
the transaction that marks the row delivered: writes made through it commit together with
the delivery mark, so effects kept in our own database happen exactly once.
The composition root (:meth:`engine.services.Services.build`) registers the connectors' default
handlers (``connectors.handlers``), then the modules named in ``ORDERPULSE_HANDLER_MODULES`` are
imported and their ``register_handlers(registry)`` called (a plug-in may replace a default
topic). This module knows no connector.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    topic: str
    payload: Any
    attempt: int
    now: datetime
    session: Session


Handler = Callable[[Delivery], None]
# A topic whose rows may be delivered side by side names, per payload, what must stay in order
# (rows with the same key are delivered one after another, in claim order).
OrderingKey = Callable[[Any], str]


class UnknownTopic(LookupError):
    pass


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}
        self._ordering: dict[str, OrderingKey] = {}
        self._first: set[str] = set()

    def register(self, topic: str, handler: Handler, *, ordering_key: OrderingKey | None = None,
                 claimed_first: bool = False) -> None:
        """``handler`` delivers ``topic``; with ``ordering_key`` its rows may be delivered side by
        side (on PostgreSQL), those with the same key one after another. With ``claimed_first``
        its due rows are claimed before any other topic's (a merchant waits on them, e.g. the
        tracking-number write-back), so a flood of other rows never queues them."""
        self._handlers[topic] = handler
        if ordering_key is None:
            self._ordering.pop(topic, None)
        else:
            self._ordering[topic] = ordering_key
        if claimed_first:
            self._first.add(topic)
        else:
            self._first.discard(topic)

    def claimed_first_topics(self) -> tuple[str, ...]:
        """The topics whose due rows the dispatcher claims before the others' (sorted)."""
        return tuple(sorted(self._first))

    def ordering_key(self, topic: str, payload: Any) -> str | None:
        """The lane of a row of ``topic`` delivered side by side, or None (delivered in turn)."""
        key = self._ordering.get(topic)
        return None if key is None else key(payload)

    def get(self, topic: str) -> Handler:
        try:
            return self._handlers[topic]
        except KeyError:
            raise UnknownTopic(f"no handler registered for outbox topic {topic!r}") from None

    def topics(self) -> list[str]:
        return sorted(self._handlers)

    def load_modules(self, modules: Iterable[str]) -> None:
        for name in modules:
            module = importlib.import_module(name)
            module.register_handlers(self)
