"""What the fake platforms share to serve orders next to stock: the shop's
:class:`~connectors.fakes.order_scenario.OrderScenario` on the fake's clock, the platform ids
of the SKU codes its orders carry (the fake's shop catalogue's, or stable ids of the fake's
ranges for a code the shop does not list), a rate limit on the order calls, the fake ciphers of
receiver fields and their masked forms, and a push sender for platforms that push over HTTP.

A fake's order calls ask :meth:`OrderShop.order_call_allowed` first (``limit_orders(n, s)``:
at most ``n`` order calls per ``s`` seconds, then the platform's rate-limit answer). The
ciphers are not the platforms' (theirs are keyed and opaque); they are opaque to OrderPulse
too, which only keeps them (``receiver.cipher``) and shows the masked forms.
"""

from __future__ import annotations

import base64
import json
import queue
import threading
import zlib
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests

from connectors.fakes.base import RateWindow
from connectors.fakes.order_scenario import OrderScenario, ScenarioOrder
from engine.logs import get_logger

log = get_logger(__name__)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def cipher(text: str, style: str) -> str:
    """A fake ciphertext of ``text`` in the platform's framing (``#…#1##`` Doudian and
    Kuaishou, ``~…~0~`` PDD, ``#…#`` Xiaohongshu): opaque, stable, never the plain text."""
    body = base64.b64encode(("op:" + text).encode("utf-8")[::-1]).decode("ascii")
    return {"doudian": f"#{body[:4]}#{body}#1##", "kuaishou": f"#{body[:4]}#{body}#1##", "pdd": f"~{body}~0~",
            "pdd_phone": f"${body[:12]}${body}$0$", "xiaohongshu": f"#{body}#"}[style]


def decipher(text: str) -> str:
    """The plain text of a :func:`cipher` (what the platform's decrypt API would give); a text
    that is not one raises ``ValueError``."""
    body = max(text.replace("~", "#").replace("$", "#").split("#"), key=len)
    try:
        plain = base64.b64decode(body, validate=True)[::-1].decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a fake platform cipher") from None
    if not plain.startswith("op:"):
        raise ValueError("not a fake platform cipher")
    return plain[3:]


def epoch_ms(at: datetime | None) -> int:
    """Epoch milliseconds (Kuaishou, Xiaohongshu), 0 for a time that has not happened."""
    return int(at.timestamp() * 1000) if at else 0


def shanghai_text(at: datetime | None) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in GMT+8 (Taobao's and PDD's order times); empty when None."""
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def mask_name(name: str) -> str:
    return name[:1] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


def mask_street(street: str) -> str:
    """The street with its house number hidden (``文三路 90 号`` → ``文三路 ***号``)."""
    out, hiding = [], False
    for ch in street:
        if ch.isdigit():
            if not hiding:
                out.append("***")
            hiding = True
            continue
        hiding = False
        out.append(ch)
    return "".join(out).replace(" ", "")


class OrderShop:
    """Mixin for a :class:`~connectors.fakes.platform_stock.StockCatalogueFake`: see the
    module docstring. ``orders_seed`` seeds the scenario; ``orders_rate_per_minute`` makes it
    produce orders by itself (the demo)."""

    now: Callable[[], float]
    accept: Callable[[dict[str, Any]], None]  # the fake server's: records an accepted message
    catalogue: dict[str, Any]
    item_id_base: int
    sku_id_base: int
    page_size: Callable[[int], int]

    def setup_orders(self, *, orders_seed: int = 1, orders_rate_per_minute: float = 0.0,
                     scenario: OrderScenario | None = None) -> None:
        self.scenario = scenario or OrderScenario(seed=orders_seed, now=lambda: self.now(),
                                                  rate_per_minute=orders_rate_per_minute)
        self._order_calls = RateWindow(None, 1.0)
        self.order_calls = 0

    def limit_orders(self, limit: int | None, seconds: float = 1.0) -> None:
        """At most ``limit`` order calls per ``seconds`` (None: no limit)."""
        self._order_calls = RateWindow(limit, seconds)

    def order_call_allowed(self, now: float) -> bool:
        """Count an order call; False when it is over the limit (call with the lock held)."""
        self.order_calls += 1
        return self._order_calls.allow(now)

    def ids_for(self, code: str) -> tuple[Any, Any]:
        """(item id, SKU id) the platform gives merchant code ``code``: the catalogue's, or for
        a code the shop does not list, stable numbers of the fake's id ranges."""
        sku = self.catalogue.get(code)
        if sku is not None:
            return sku.item_id, sku.sku_id if sku.sku_id is not None else sku.item_id
        n = zlib.crc32(code.encode("utf-8")) % 1_000_000
        return self.item_id_base + 500_000_000 + n, self.sku_id_base + 500_000_000 + n


class PushSender:
    """Posts a fake platform's push messages to ``url`` in order, from its own thread (the
    scenario's listeners must not wait on OrderPulse). ``sign(body) -> headers``; ``encode``
    turns a message into the body (default: compact UTF-8 JSON; Kuaishou encrypts it).
    Messages that fail are kept in ``failed``; ``sent`` holds (status, body) of each attempt
    and ``answers`` the JSON the receiver gave (None when it gave none)."""

    def __init__(self, sign: Callable[[bytes], dict[str, str]], *, timeout: float = 5.0,
                 encode: Callable[[Any], bytes] | None = None) -> None:
        self.url: str | None = None
        self.sign = sign
        self.encode = encode or (lambda m: json.dumps(m, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        self.answers: list[Any] = []
        self.timeout = timeout
        self.sent: list[tuple[int, bytes]] = []
        self.failed: list[bytes] = []
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def push_to(self, url: str | None) -> None:
        """Push to ``url`` from now on (None: stop pushing)."""
        self.url = url
        if url and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fake-push", daemon=True)
            self._thread.start()

    def send(self, message: Any) -> None:
        if self.url:
            self._queue.put(self.encode(message))

    def drain(self, timeout: float = 5.0) -> None:
        """Wait until every queued message was posted (tests)."""
        done = threading.Event()
        self._flushed = done  # before the marker: the sender thread sets this one
        self._queue.put(None)
        done.wait(timeout)

    def _run(self) -> None:
        while True:
            body = self._queue.get()
            if body is None:
                getattr(self, "_flushed", threading.Event()).set()
                continue
            url = self.url
            if not url:
                continue
            try:
                resp = requests.post(url, data=body, headers={"Content-Type": "application/json", **self.sign(body)},
                                     timeout=self.timeout)
                try:
                    self.answers.append(resp.json())
                except ValueError:
                    self.answers.append(None)
                self.sent.append((resp.status_code, body))
                if resp.status_code >= 300:
                    self.failed.append(body)
            except requests.RequestException as exc:
                log.warning("fake platform push failed", url=url, error=str(exc))
                self.failed.append(body)


def line_ids(order: ScenarioOrder, base: int) -> list[int]:
    """Line ids under an order id ``base`` (``base + line_no``)."""
    return [base + line.line_no for line in order.lines]
