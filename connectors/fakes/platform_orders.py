"""What the fake platforms' order side shares (Kuaishou, Xiaohongshu, the mini-program shop):
the shop's order history (an :class:`~connectors.fakes.order_scenario.OrderScenario` on the
fake's clock), a rate window on order calls, the receiver's fields sealed and masked the way
platforms show them, and pushes of each change to a URL.

A fake that serves orders mixes :class:`OrderDesk` into its stock fake (one gateway per
platform) and implements :meth:`OrderDesk.push_messages` (the HTTP requests its platform
sends for a change). ``push_to(url)`` starts pushing; every push and its answer is kept in
``pushes``. Pushes leave from a sender thread in the order of the changes (never from inside
a request the fake is serving, so the receiver may call the fake back at once);
``wait_for_pushes()`` waits until every change so far was sent. ``order_rate_limit=(n, seconds)`` makes the fake refuse order calls beyond ``n``
per ``seconds`` as its platform does.
"""

from __future__ import annotations

import base64
import hashlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from connectors.fakes.base import RateWindow
from connectors.fakes.order_scenario import Buyer, OrderScenario, ScenarioOrder

FAKE_SEAL_KEY = hashlib.sha256(b"fake platform receiver key").digest()


def seal(text: str) -> str:
    """A receiver field as a platform's ciphertext: deterministic (the same text gives the same
    cipher, as the platforms' searchable ciphers do), opaque, and readable by :func:`unseal`."""
    nonce = hashlib.sha256(text.encode("utf-8")).digest()[:16]
    encryptor = Cipher(algorithms.AES(FAKE_SEAL_KEY), modes.CTR(nonce)).encryptor()
    sealed = nonce + encryptor.update(text.encode("utf-8")) + encryptor.finalize()
    return "#" + base64.b64encode(sealed).decode("ascii") + "#"


def unseal(cipher: str) -> str:
    raw = base64.b64decode(cipher.strip("#"))
    decryptor = Cipher(algorithms.AES(FAKE_SEAL_KEY), modes.CTR(raw[:16])).decryptor()
    return (decryptor.update(raw[16:]) + decryptor.finalize()).decode("utf-8")


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "*" * len(phone)


def mask_address(buyer: Buyer) -> str:
    """The region in full, the street hidden (as the platforms' desensitised addresses)."""
    city = "" if buyer.city == buyer.province else buyer.city
    return f"{buyer.province}{city}{buyer.district}****"


def ms(at: datetime | None) -> int:
    """Epoch milliseconds, 0 for a time that has not happened (the platforms' habit)."""
    return int(at.timestamp() * 1000) if at else 0


@dataclass(frozen=True)
class PushRequest:
    """One HTTP request a platform sends for a change: path suffix, headers, body bytes."""

    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class PushResult:
    event: str
    order_number: int
    status: int | None  # None: the request failed
    answer: Any


@dataclass(frozen=True)
class _Outgoing:
    url: str
    messages: list[PushRequest]
    order: ScenarioOrder
    event: str


class OrderDesk:
    """The order side of a fake platform (a mixin for a :class:`~connectors.fakes.base.FakeServer`)."""

    now: Callable[[], float]
    _lock: threading.Lock

    def init_orders(self, scenario: OrderScenario | None, order_rate_limit: tuple[int, float] | None) -> None:
        self.scenario = scenario or OrderScenario(seed=7, now=self.now)
        self.pushes: list[PushResult] = []
        self.push_url: str | None = None
        self._order_window = RateWindow(order_rate_limit[0] if order_rate_limit else None,
                                        order_rate_limit[1] if order_rate_limit else 1.0)
        self._outbox: queue.Queue[_Outgoing | threading.Event] = queue.Queue()
        self._sender: threading.Thread | None = None
        self.scenario.on_change(self._changed)

    # --- test and demo helpers ----------------------------------------------------------------

    def push_to(self, url: str | None) -> None:
        """Send each later change to ``url`` (None stops pushing)."""
        self.push_url = url

    def wait_for_pushes(self, timeout: float = 10.0) -> None:
        """Block until every change made so far was pushed (and answered)."""
        done = threading.Event()
        self._outbox.put(done)
        self._start_sender()
        if not done.wait(timeout):
            raise TimeoutError("pushes still pending")

    def order_call_allowed(self) -> bool:
        """False when this order call is over the rate limit (call with the lock held)."""
        return self._order_window.allow(self.now())

    # --- what each platform provides ----------------------------------------------------------

    def push_messages(self, order: ScenarioOrder, event: str) -> list[PushRequest]:  # pragma: no cover
        raise NotImplementedError

    # --- pushing ------------------------------------------------------------------------------

    def _changed(self, order: ScenarioOrder, event: str) -> None:
        url = self.push_url
        if url:
            self._outbox.put(_Outgoing(url, self.push_messages(order, event), order, event))
            self._start_sender()

    def _start_sender(self) -> None:
        with self._lock:
            if self._sender is None:
                self._sender = threading.Thread(target=self._send_forever, name="fake-push-sender", daemon=True)
                self._sender.start()

    def _send_forever(self) -> None:
        while True:
            item = self._outbox.get()
            if isinstance(item, threading.Event):
                item.set()  # everything queued before it was sent
                continue
            for message in item.messages:
                self._send(item.url, message, item.order, item.event)

    def _send(self, url: str, message: PushRequest, order: ScenarioOrder, event: str) -> None:
        try:
            resp = requests.post(url, data=message.body, headers=message.headers, timeout=5)
            try:
                answer: Any = resp.json()
            except ValueError:
                answer = resp.text
            result = PushResult(event, order.number, resp.status_code, answer)
        except requests.RequestException as exc:
            result = PushResult(event, order.number, None, str(exc))
        with self._lock:
            self.pushes.append(result)
