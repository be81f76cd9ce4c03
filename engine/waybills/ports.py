"""What the shipping desk asks of an e-waybill counterpart (快递鸟, or a platform's own
e-waybill service) and what it gets back. Pure: no I/O, nothing of Flask or SQLAlchemy.

A client (``connectors/kdniao.py``, ``connectors/platform_waybills.py``) implements
:class:`WaybillClient`: :meth:`~WaybillClient.issue` answers an :class:`IssuedWaybill` or raises
:class:`WaybillRefused` with the counterpart's own code and reason (bad address, no balance,
a ciphertext receiver Kdniao cannot print …). A transport failure raises whatever the
connector raises; the desk shows it and changes nothing either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = ["IssuedWaybill", "Party", "WaybillClient", "WaybillItem", "WaybillRefused", "WaybillRequest"]


@dataclass(frozen=True)
class Party:
    """A sender or receiver as the order store has it (the receiver of a platform order is
    masked here; its ciphertexts are in :attr:`WaybillRequest.cipher`)."""

    name: str
    phone: str
    province: str
    city: str
    district: str
    address: str  # the street part (without province, city, district)


@dataclass(frozen=True)
class WaybillItem:
    sku_id: str
    title: str
    qty: int


@dataclass(frozen=True)
class WaybillRequest:
    """One order's waybill request. ``request_id`` is stable per order (``OP<order pk>``), so
    a counterpart that keys by it (Kdniao ``OrderCode``, Cainiao/PDD/XHS ``object_id`` and
    package id, Doudian ``pack_id``, Kuaishou ``packageCode``) answers a retry with the same
    number."""

    request_id: str
    channel: str
    order_id: str  # the platform's order id
    courier: str  # our carrier code (SF, ZTO …)
    carrier_code: str  # the counterpart's code for that carrier
    sender: Party
    receiver: Party
    items: tuple[WaybillItem, ...]
    cipher: Mapping[str, str] = field(default_factory=dict)  # name, phone, address, oaid (platform's)
    weight_g: int = 500


@dataclass(frozen=True)
class IssuedWaybill:
    """What the counterpart answered: the tracking number and what to print (Kdniao's HTML
    template, or the platform's cloud-print data for its print component)."""

    tracking_no: str
    print_html: str | None = None
    print_data: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)


class WaybillRefused(Exception):
    """The counterpart refused the request; ``reason`` is its own text, shown to the user."""

    def __init__(self, provider: str, code: str, reason: str) -> None:
        super().__init__(f"{provider} {code}: {reason}")
        self.provider = provider
        self.code = code
        self.reason = reason


class WaybillClient(Protocol):
    """An e-waybill counterpart (see the module docstring)."""

    provider: str

    def issue(self, request: WaybillRequest) -> IssuedWaybill: ...
