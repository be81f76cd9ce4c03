"""Outbox handlers: who delivers which topic.

A handler is ``handler(delivery) -> None``; raising means "failed, retry later". Each
delivery carries a stable ``delivery_id`` so a handler can be idempotent, and ``session``,
the transaction that marks the row delivered: writes made through it commit together with
the delivery mark, so effects kept in our own database happen exactly once.

A topic registered with ``calls_out`` has a handler that reads, makes its call to a counterpart
through ``delivery.outside(call)``, and writes only after it: on SQLite the delivery's
transaction is then two phases (``engine.storage.db.Phases``), so the database's one write
lock is not held while a platform answers (a platform timing out for 5 s would otherwise stop
every writer of the embedded default for 5 s); the handler re-reads after the call what
another writer may have changed meanwhile.
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
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from engine.storage.db import Phases

T = TypeVar("T")


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    topic: str
    payload: Any
    attempt: int
    now: datetime
    session: Session
    phases: Phases | None = None  # a calls_out topic's two-phase transaction

    def outside(self, call: Callable[[], T]) -> T:
        """Run the call to the counterpart (see the module docstring): outside the write lock on
        SQLite for a ``calls_out`` topic, else simply in the transaction."""
        return call() if self.phases is None else self.phases.outside(call)

    def start_writing(self) -> None:
        """A ``calls_out`` handler that writes without having called (nothing to push): the
        write phase begins here."""
        if self.phases is not None:
            self.phases.start_writing()


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
        self._calls_out: set[str] = set()

    def register(self, topic: str, handler: Handler, *, ordering_key: OrderingKey | None = None,
                 claimed_first: bool = False, calls_out: bool = False) -> None:
        """``handler`` delivers ``topic``; with ``ordering_key`` its rows may be delivered side by
        side (on PostgreSQL), those with the same key one after another. With ``claimed_first``
        its due rows are claimed before any other topic's (a merchant waits on them, e.g. the
        tracking-number write-back), so a flood of other rows never queues them. With
        ``calls_out`` the handler makes its call through ``delivery.outside`` and writes after
        it (see the module docstring)."""
        self._handlers[topic] = handler
        if calls_out:
            self._calls_out.add(topic)
        else:
            self._calls_out.discard(topic)
        if ordering_key is None:
            self._ordering.pop(topic, None)
        else:
            self._ordering[topic] = ordering_key
        if claimed_first:
            self._first.add(topic)
        else:
            self._first.discard(topic)

    def calls_out(self, topic: str) -> bool:
        """Whether ``topic``'s handler calls out through ``delivery.outside`` (two phases)."""
        return topic in self._calls_out

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
