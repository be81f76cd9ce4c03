"""What the platform order clients share (each implements
:class:`engine.orders.ports.PlatformOrderClient` on top of its platform's stock connector,
which owns the signing and the request code): paging a window from the last page backwards,
and the refusal of push for platforms that do not push over HTTP.

Why backwards: a window in the past only loses orders (one modified again moves to a later
window), and a loss shifts the rows after it one place towards page 1; reading the last page
first, a row not yet read can only move to a page not yet read — at worst a row is read twice,
never skipped. The puller keeps its windows' end a little in the past, so none gains rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from connectors.outbound import ConnectorError
from connectors.platform_stock import MAX_LISTING_PAGES
from engine.orders.ports import OrderPage, PushEvent, PushRefused

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
