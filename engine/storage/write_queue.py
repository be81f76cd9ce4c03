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

    The thread that holds it may take it again (each take released once): a transaction opened
    inside another one of the same thread before that one wrote anything (a request that reads
    its signed-in user while it prepares a publish) goes on as it did without the queue.

    Used as a context manager it waits as long as it takes; :meth:`acquire` with a timeout
    gives up after it (False) and leaves the queue.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiters: deque[threading.Event] = deque()
        self._first: deque[threading.Event] = deque()
        self._owner: int | None = None
        self._depth = 0
        self._last_went_first = False

    def acquire(self, timeout: float | None = None, *, first: bool = False) -> bool:
        me = threading.get_ident()
        with self._guard:
            if self._owner is None or self._owner == me:
                self._owner = me
                self._depth += 1
                return True
            turn = threading.Event()
            queue = self._first if first else self._waiters
            queue.append(turn)
        handed = turn.wait(timeout)
        with self._guard:
            if handed or turn.is_set():  # (handed over just as the wait ran out: it is ours)
                self._owner, self._depth = me, 1
                return True
            queue.remove(turn)
            return False

    def release(self) -> None:
        with self._guard:
            self._depth -= 1
            if self._depth > 0:
                return
            if self._first and not (self._waiters and self._last_went_first):
                queue = self._first
            else:
                queue = self._waiters
            if queue:
                self._last_went_first = queue is self._first
                self._owner = -1  # handed over: nobody else may take it before the next in line
                queue.popleft().set()  # ownership passes straight to the next in line
            else:
                self._owner = None

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
