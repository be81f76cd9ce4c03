"""What the platform order clients share (each implements
:class:`engine.orders.ports.PlatformOrderClient` on top of its platform's stock connector,
which owns the signing and the request code): paging a window from the last page backwards,
the refusal of push for platforms that do not push over HTTP, the conversion of aware
datetimes to the platforms' epoch milliseconds, and the first checks of a push message — its
size, a header read case-insensitively, a timestamp within the platform's window, a signature
compared in constant time, a JSON body — each failing with
:class:`~engine.orders.ports.PushRefused` before anything of the message is believed.

Why backwards: a window in the past only loses orders (one modified again moves to a later
window), and a loss shifts the rows after it one place towards page 1; reading the last page
first, a row not yet read can only move to a page not yet read — at worst a row is read twice,
never skipped. The puller keeps its windows' end a little in the past, so none gains rows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from connectors.outbound import ConnectorError
from connectors.platform_stock import MAX_LISTING_PAGES
from engine.logs import get_logger
from engine.orders.ports import OrderPage, PushEvent, PushRefused, ShipmentWriteBack

MAX_PUSH_BYTES = 1024 * 1024  # a push message is a few KB; anything near this is not one
DETAIL_WORKERS = 4  # detail calls in flight per page (well inside the platforms' per-second limits)
PageFetch = Callable[[int], tuple[list[Any], int]]  # page number → (rows, total rows of the window)


def backward_pages(fetch: PageFetch, *, first: int, page_size: int, platform: str,
                   what: str) -> Iterator[tuple[int, list[Any], int]]:
    """``(page number, rows, total)`` of a window's listing from the last page to ``first``:
    one request to learn the total, then the pages backwards (the first page's rows are
    reused when it is the only one)."""
    rows, total = fetch(first)
    if total <= 0 or not rows:
        return
    size = len(rows) if len(rows) < page_size and total > len(rows) else page_size  # the size the platform applied
    pages = -(-total // size)
    if pages > MAX_LISTING_PAGES:
        raise ConnectorError(platform, f"{what}: {total} rows in one window is more than {MAX_LISTING_PAGES} pages")
    last = first + pages - 1
    for page in range(last, first - 1, -1):
        if page != first or pages > 1:
            rows, total = fetch(page)
        if rows:
            yield page, rows, total


def order_pages(fetch: PageFetch, detail: Callable[[Any], dict[str, Any]], *, first: int, page_size: int,
                platform: str, what: str, workers: int = DETAIL_WORKERS) -> Iterator[OrderPage]:
    """:func:`backward_pages` with each row turned into its detail payload, ``workers`` detail
    calls at a time (the page keeps its order; the first failure fails the page)."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"{platform}-detail") as pool:
        for page, rows, total in backward_pages(fetch, first=first, page_size=page_size, platform=platform,
                                                what=what):
            yield OrderPage(list(pool.map(detail, rows)), page, total)


class NoHttpPush:
    """``parse_push`` of a platform whose push is not an HTTP POST to us (Taobao's TMC and
    PDD's message WebSocket): refused with 404, nothing read."""

    platform: str

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> list[PushEvent]:
        raise PushRefused(f"{self.platform} does not push orders over HTTP (the puller reads them)", status=404)


log = get_logger(__name__)


class ShipsOrders:
    """``write_back_shipment`` (:class:`engine.orders.ports.ShipmentWriter`) of a platform
    order client: on a retry or replay, read the order and send nothing when the platform
    already shows the tracking number (an earlier try was accepted, its answer lost); else
    send the platform's ship call. Subclasses implement :meth:`send_shipment` and
    :meth:`shown_tracking_numbers`."""

    platform: str

    def order_detail(self, order_id: str) -> dict[str, Any]:  # pragma: no cover - the client's
        raise NotImplementedError

    def send_shipment(self, shipment: ShipmentWriteBack) -> dict[str, Any]:  # pragma: no cover - abstract
        """The platform's ship call; its answer (raises ``ConnectorError`` on a refusal)."""
        raise NotImplementedError

    def shown_tracking_numbers(self, detail: Mapping[str, Any]) -> set[str]:  # pragma: no cover - abstract
        """The tracking numbers an order-detail payload shows."""
        raise NotImplementedError

    def write_back_shipment(self, shipment: ShipmentWriteBack) -> dict[str, Any]:
        if shipment.check_first:
            shown = self.shown_tracking_numbers(self.order_detail(shipment.order_id))
            if shipment.tracking_no in shown:
                log.info("shipment already shown by the platform; not sent again", platform=self.platform,
                         order_id=shipment.order_id, shipment=shipment.shipment_id)
                return {"already_shown": True}
        return self.send_shipment(shipment)


def epoch_ms(at: datetime) -> int:
    """``at`` (aware) as epoch milliseconds."""
    if at.tzinfo is None:
        raise ValueError(f"{at!r} has no time zone")
    return int(at.timestamp() * 1000)


def from_epoch_ms(value: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(value / 1000, UTC)


def header(headers: Mapping[str, str], name: str) -> str:
    """Header ``name`` (any case) of a push request, or ``""``."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value)
    return ""


def refuse_oversized(body: bytes) -> None:
    if len(body) > MAX_PUSH_BYTES:
        raise PushRefused(f"push body of {len(body)} bytes is larger than {MAX_PUSH_BYTES}", status=413)


def require_fresh(timestamp: str, now: float, window: float, *, scale: int = 1) -> int:
    """The push's timestamp (unix seconds, or milliseconds with ``scale=1000``) when it is
    within ``window`` seconds of ``now``; else :class:`PushRefused`."""
    if not timestamp.isdigit():
        raise PushRefused("push timestamp missing or not a number")
    value = int(timestamp)
    if abs(now - value / scale) > window:
        raise PushRefused(f"push timestamp {timestamp} is more than {int(window)} s from our clock")
    return value


def require_signature(expected: str, given: str) -> None:
    """Refuse unless ``given`` equals ``expected`` (compared in constant time)."""
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise PushRefused("push signature does not verify")


def json_body(body: bytes | str, what: str = "push body") -> Any:
    """The JSON of a verified push body; a body that is not UTF-8 JSON is refused (400)."""
    try:
        return json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except (UnicodeDecodeError, ValueError):
        raise PushRefused(f"{what} is not UTF-8 JSON", status=400) from None


def digest(value: Any) -> str:
    """A stable id for a message without one: SHA-256 of its canonical JSON."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
