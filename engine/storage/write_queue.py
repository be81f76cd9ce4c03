"""The queue of one process's SQLite writers: a lock handed to waiters in arrival order.

SQLite lets one transaction write at a time; a writer that finds the lock taken sleeps in the
busy handler (1, 2, 5, … up to 100 ms between tries) while newcomers may take the lock first.
Under a crowd of threads that is unfair and wasteful: some writers wait for seconds (the
outbox dispatcher behind the API's writers), and the lock sits free while the waiters sleep.
:class:`Database` (``engine.storage.db``) puts every ``BEGIN IMMEDIATE`` of its process through
a :class:`FifoLock` first, so the writers of a process queue in order and each is woken the
moment the one before commits; other processes still meet in SQLite's busy handler.

A waiter may come ``first``: the outbox dispatcher, whose short turns (a claim, a delivery's
record) stand for every merchant waiting on a write-back; queued behind every API thread at
each of its turns it fell thousands of rows behind on a busy day. While both kinds wait, the
turns alternate between them, so neither side can starve the other (a dispatcher with six
lanes, all first, would otherwise keep the API's writers out for as long as it had work).
"""

from __future__ import annotations

import threading
from collections import deque


class FifoLock:
    """A lock handed to waiters in arrival order (``threading.Lock`` is not fair: under a crowd
    some threads would wait for seconds while others get it again and again). Waiters that
    come ``first`` queue apart: a release hands the lock to the head of that queue, unless
    its previous hand-over went there and others wait too (then to theirs): turns alternate.

    Used as a context manager it waits as long as it takes; :meth:`acquire` with a timeout
    gives up after it (False) and leaves the queue.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._first: deque[threading.Event] = deque()
        self._held = False
        self._last_went_first = False

    def acquire(self, timeout: float | None = None, *, first: bool = False) -> bool:
        with self._guard:
            if not self._held:
                self._held = True
                return True
            turn = threading.Event()
            queue = self._first if first else self._waiters
            queue.append(turn)
        if turn.wait(timeout):
            return True
        with self._guard:
            if turn.is_set():  # handed over just as the wait ran out: it is ours
                return True
            queue.remove(turn)
            return False

    def release(self) -> None:
        with self._guard:
            if self._first and not (self._waiters and self._last_went_first):
                queue = self._first
            else:
                queue = self._waiters
            if queue:
                self._last_went_first = queue is self._first
                queue.popleft().set()  # ownership passes straight to the next in line
            else:
                self._held = False

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
