"""The seams of the orders area: what a platform order client offers the puller and the push
route, and what the mapping, cleaning and region resolver offer intake.

This module owns types and protocols only (no I/O, no Flask, no SQLAlchemy, no connector
import). Connectors implement :class:`PlatformOrderClient`; the composition root builds them
from the published ``source`` declarations and hands them to the engine, which never imports
``connectors``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

# A normalized order as mapping and cleaning produce it and the store takes it: the fields of
# the normalized order in ARCHITECTURE.md; money integer fen, times aware datetimes in UTC.
NormalizedOrder = dict[str, Any]


# --------------------------------------------------------------------------- pulling and push


@dataclass(frozen=True)
class OrderPage:
    """One page of a platform's incremental order listing, as detail payloads the source's
    mapping takes (a client that lists ids only fetches the details before yielding)."""

    orders: list[dict[str, Any]]
    page_no: int
    total: int | None = None


@dataclass(frozen=True)
class PushEvent:
    """One order event out of a verified platform push message.

    ``message_id`` makes replays idempotent (the platform's message id, else a digest of the
    message); ``order`` is the detail payload when the message carries it whole, else None and
    the order is fetched with :meth:`PlatformOrderClient.order_detail`."""

    message_id: str
    order_id: str
    event: str
    order: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class PushRefused(Exception):
    """A push message that failed its signature, timestamp or shape check; nothing is stored.
    ``reason`` is for the log; the caller answers the platform with ``status``."""

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class PlatformOrderClient(Protocol):
    """What the puller needs from one platform's order API (built per published source).

    Errors: transport failures, HTTP 5xx, time-outs and documented rate-limit or busy codes
    raise a retryable ``connectors.outbound.ConnectorError`` (``permanent=False``), with
    ``retry_after`` seconds as an attribute when the platform says how long to wait;
    credential and configuration errors raise it with ``permanent=True``.
    """

    platform: str
    #: the widest modified-time window the platform's incremental API accepts
    max_window: timedelta

    def pages(self, start: datetime, end: datetime) -> Iterator[OrderPage]:
        """Every order modified in ``[start, end)``, page by page, in the order the platform
        documents (Taobao and PDD increment APIs: from the last page backwards)."""
        ...

    def order_detail(self, order_id: str) -> dict[str, Any]:
        """The order-detail payload for one order (what the source's mapping takes)."""
        ...

    def parse_push(self, headers: Mapping[str, str], body: bytes) -> list[PushEvent]:
        """Verify a push message (signature, timestamp) before parsing anything else, and
        return its order events; raise :class:`PushRefused` when it does not verify. A
        platform that does not push over HTTP raises ``PushRefused(status=404)``."""
        ...


# --------------------------------------------------------------------------- shipping write-back


@dataclass(frozen=True)
class ShippedLine:
    """One line of a shipment as the platform knows it: its line id (Taobao ``oid``, Doudian
    sku order id …), the merchant SKU code, the platform's SKU id and the quantity shipped."""

    line_id: str | None
    sku_id: str
    platform_sku_id: str | None
    qty: int


@dataclass(frozen=True)
class ShipmentWriteBack:
    """A shipment to show on the platform: the platform's order id, the carrier code that
    platform takes (from the carrier × platform table), the tracking number, and the lines
    (all of the order's lines when ``partial`` is false). ``shipment_id`` is ours and stable
    across retries, so a platform that takes a request id can deduplicate. ``check_first``
    (a retry or a replay, whose earlier try may have been accepted with its answer lost):
    read the order first and send nothing when it already shows this tracking number."""

    order_id: str
    carrier_code: str | int
    carrier_name: str
    tracking_no: str
    lines: tuple[ShippedLine, ...]
    partial: bool
    shipment_id: int
    check_first: bool = False


class ShipmentWriter(Protocol):
    """What the write-back needs from a platform order client: show a shipment on the
    platform with its own ship API, signed like the platform; return what the platform
    answered (for the log). A platform that already shows this tracking number on the order
    counts as accepted (a retry after a lost answer must not fail or ship twice). Errors as
    :class:`PlatformOrderClient`'s (``connectors.outbound.ConnectorError``)."""

    def write_back_shipment(self, shipment: ShipmentWriteBack) -> dict[str, Any]:
        ...


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True, slots=True)
class Region:
    """A resolved China administrative region: official current names (municipalities give
    ``city`` = 北京市 etc., never 市辖区), the district's 6-digit adcode and its centroid."""

    province: str
    city: str
    district: str
    adcode: str
    lat: float
    lng: float


class RegionResolver(Protocol):
    """Address text (and the platform's structured fields when it has them) → :class:`Region`."""

    def resolve(self, text: str, *, province: str | None = None, city: str | None = None,
                district: str | None = None) -> Region | None:
        """The region of an address, or None when not even a province can be told."""
        ...
