"""The shipping desk's use cases: issue e-waybills for selected orders, ship the printed ones
through the order pipeline's ship step, list the orders waiting at the desk, and build the
picking wave.

Issuing (:func:`issue_waybills`), per order and on its own (one refusal never stops the
others):

1. an order that already has a waybill answers it (``replayed``): a retry, a double click or
   two people at once never ask the counterpart for a second number (the unique
   ``waybills.order_pk`` settles a race; the request id is the same ``OP<pk>`` anyway, which
   the counterparts key by);
2. only orders 待发货 or 部分发货 get one;
3. the counterpart (:func:`engine.waybills.requests.provider_for`) is asked over HTTP; a
   refusal (:class:`~engine.waybills.ports.WaybillRefused`) or a transport failure is answered
   with its reason and changes nothing — no waybill, no tracking number, no shipment;
4. an issued waybill is stored with its print data, and the order's timeline says so.

Shipping (:func:`ship_waybills`) is the decision "ship on print": the warehouse prints the
labels, then confirms 已打印，确认发货; each waybill's tracking number then goes through
:func:`engine.orders.shipping.ship_order` (stock out, order 已发货, the platform write-back
through the outbox) — the same path as ``POST /orders/{id}/ship``, idempotent by tracking
number. Nothing is shipped before a person confirms the labels are on the parcels.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from engine.errors import ApiError
from engine.logs import get_logger
from engine.orders.carriers import UnknownCarrier, find_carrier
from engine.orders.model import Order, OrderEvent
from engine.orders.shipping import SHIPPABLE, read_request, ship_order
from engine.orders.sources import order_client, order_sources
from engine.waybills.model import SkuLocation, Waybill
from engine.waybills.pick_list import PickWave, pick_wave
from engine.waybills.ports import IssuedWaybill, Party, WaybillRefused
from engine.waybills.requests import PROVIDER_LABELS, NoWaybillCode, build_request, provider_for

if TYPE_CHECKING:
    from engine.services import Services

log = get_logger(__name__)
SHANGHAI = ZoneInfo("Asia/Shanghai")

__all__ = ["DeskFilters", "DeskRow", "IssueOutcome", "MissingSender", "ShipOutcome", "desk_orders", "issue_waybills",
           "pick_list", "sender_from_environ", "set_location", "ship_waybills", "waybills_of"]

SENDER_VARIABLES = ("NAME", "PHONE", "PROVINCE", "CITY", "DISTRICT", "ADDRESS")
MAX_SELECTED = 200


class MissingSender(LookupError):
    """The warehouse's sender address is not configured."""


@dataclass(frozen=True)
class IssueOutcome:
    order_pk: int
    ref: str
    ok: bool
    provider: str
    tracking_no: str | None = None
    courier: str | None = None
    replayed: bool = False
    reason: str | None = None  # the counterpart's (or our) reason for a refusal

    @property
    def provider_label(self) -> str:
        return PROVIDER_LABELS.get(self.provider, self.provider)


@dataclass(frozen=True)
class ShipOutcome:
    order_pk: int
    ref: str
    ok: bool
    tracking_no: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class DeskFilters:
    channel: str = ""
    courier: str = ""  # our carrier code of the issued waybill; "none": not issued yet
    province: str = ""
    promised: str = ""  # "overdue" | "today" | "24h" | ""


@dataclass(frozen=True)
class DeskRow:
    order_pk: int
    channel: str
    order_id: str
    status: str
    province: str
    city: str
    promised_ship_at: datetime | None
    lines: tuple[tuple[str, int], ...]
    waybill: Waybill | None


# --------------------------------------------------------------------------- configuration


def sender_from_environ(environ: Mapping[str, str] | None = None) -> Party:
    """The warehouse's sender (``ORDERPULSE_SENDER_NAME``, ``_PHONE``, ``_PROVINCE``, ``_CITY``,
    ``_DISTRICT``, ``_ADDRESS``); a missing one raises :class:`MissingSender` naming it."""
    env = os.environ if environ is None else environ
    values = {k: (env.get(f"ORDERPULSE_SENDER_{k}") or "").strip() for k in SENDER_VARIABLES}
    missing = [f"ORDERPULSE_SENDER_{k}" for k, v in values.items() if not v]
    if missing:
        raise MissingSender(f"未设置寄件人信息：{', '.join(missing)}")
    return Party(name=values["NAME"], phone=values["PHONE"], province=values["PROVINCE"], city=values["CITY"],
                 district=values["DISTRICT"], address=values["ADDRESS"])


def _client(services: Services, provider: str, source: str) -> Any:
    factory = services.ports.waybill_clients
    if factory is None:
        return None
    platform_client = None
    if provider != "kdniao":
        found = order_sources(services).get(source)
        platform_client = order_client(services, found) if found is not None else None
        if platform_client is None:
            return None
    return factory(provider, platform_client, os.environ, lambda: services.clock.now().timestamp())


# --------------------------------------------------------------------------- issuing


def _stored(services: Services, order_pk: int) -> Waybill | None:
    with services.db.session() as s:
        row = s.scalar(select(Waybill).where(Waybill.order_pk == order_pk))
        if row is not None:
            s.expunge(row)
        return row


def issue_waybills(services: Services, order_pks: Sequence[int], *, courier: str, actor: str,
                   choice: str = "auto", now: datetime | None = None) -> list[IssueOutcome]:
    """Issue a waybill for each order (see the module docstring); one outcome per order, in
    the order given."""
    now = now or services.clock.now()
    try:
        carrier = find_carrier(courier)
    except UnknownCarrier as exc:
        raise ApiError(f"未知快递公司：{courier}", code="unknown_courier", status=422,
                       details=[{"path": "/courier", "message": exc.message}]) from None
    sender: Party | None = None
    sender_problem: str | None = None
    try:
        sender = sender_from_environ()
    except MissingSender as exc:
        sender_problem = str(exc)
    clients: dict[tuple[str, str], Any] = {}
    out = []
    for pk in list(dict.fromkeys(order_pks))[:MAX_SELECTED]:
        out.append(_issue_one(services, pk, carrier.code, choice, actor, now, sender, sender_problem, clients))
    return out


def _issue_one(services: Services, pk: int, courier: str, choice: str, actor: str, now: datetime,
               sender: Party | None, sender_problem: str | None, clients: dict[tuple[str, str], Any]) -> IssueOutcome:
    with services.db.session() as s:
        order = s.get(Order, pk)
        if order is None:
            return IssueOutcome(pk, f"#{pk}", False, "", reason="订单不存在")
        ref, channel, order_id, status, source = (f"{order.channel}/{order.order_id}", order.channel, order.order_id,
                                                  order.status, order.source or order.channel)
        doc = {**(order.doc or {}), "channel": channel, "order_id": order_id}
    provider = provider_for(channel, choice)
    first = _stored(services, pk)
    if first is not None:
        return IssueOutcome(pk, ref, True, first.provider, first.tracking_no, first.courier, replayed=True)
    if status not in SHIPPABLE:
        return IssueOutcome(pk, ref, False, provider, reason=f"订单状态为 {status}，只有待发货、部分发货的订单可以取号")
    if sender is None:
        return IssueOutcome(pk, ref, False, provider, reason=sender_problem)
    try:
        request = build_request(pk, doc, provider=provider, courier=courier, sender=sender)
    except NoWaybillCode as exc:
        return IssueOutcome(pk, ref, False, provider, reason=str(exc))
    key = (provider, source)
    if key not in clients:
        clients[key] = _client(services, provider, source)
    client = clients[key]
    if client is None:
        return IssueOutcome(pk, ref, False, provider,
                            reason=f"{PROVIDER_LABELS[provider]}未配置（缺少凭据或未发布数据源 {source}）")
    try:
        issued: IssuedWaybill = client.issue(request)
    except WaybillRefused as refused:
        log.info("waybill refused", order=ref, provider=provider, code=refused.code, reason=refused.reason)
        return IssueOutcome(pk, ref, False, provider, reason=f"{PROVIDER_LABELS[provider]}拒绝：{refused.reason}")
    except Exception as exc:  # noqa: BLE001 - a transport failure is shown, and nothing changes
        log.warning("waybill request failed", order=ref, provider=provider, error=str(exc))
        return IssueOutcome(pk, ref, False, provider, reason=f"{PROVIDER_LABELS[provider]}暂不可用：{exc}")
    return _keep(services, pk, ref, provider, request.request_id, courier, request.carrier_code, issued, actor, now)


def _keep(services: Services, pk: int, ref: str, provider: str, request_id: str, courier: str, carrier_code: str,
          issued: IssuedWaybill, actor: str, now: datetime) -> IssueOutcome:
    try:
        with services.db.transaction() as s:
            s.add(Waybill(order_pk=pk, channel=ref.split("/", 1)[0], order_id=ref.split("/", 1)[1],
                          provider=provider, request_id=request_id, courier=courier, carrier_code=carrier_code,
                          tracking_no=issued.tracking_no, print_html=issued.print_html, print_data=issued.print_data,
                          detail=dict(issued.detail), status="issued", actor=actor, issued_at=now))
            s.flush()
            revision = s.scalar(select(Order.revision).where(Order.id == pk)) or 0
            s.execute(insert(OrderEvent).values(
                order_pk=pk, revision=revision, kind="waybill_issued", at=now, actor=actor, payload_id=None,
                changes=[], ruleset=None, ruleset_version=None,
                detail={"provider": provider, "courier": courier, "tracking_no": issued.tracking_no,
                        "message": f"{PROVIDER_LABELS[provider]}电子面单 {issued.tracking_no}（{courier}）"}))
    except IntegrityError:  # another request stored this order's waybill first: answer that one
        first = _stored(services, pk)
        if first is None:
            raise
        return IssueOutcome(pk, ref, True, first.provider, first.tracking_no, first.courier, replayed=True)
    log.info("waybill issued", order=ref, provider=provider, courier=courier, tracking_no=issued.tracking_no)
    return IssueOutcome(pk, ref, True, provider, issued.tracking_no, courier)


# --------------------------------------------------------------------------- shipping


def ship_waybills(services: Services, order_pks: Sequence[int], *, actor: str) -> list[ShipOutcome]:
    """Ship each order with its waybill's tracking number (see the module docstring)."""
    out = []
    for pk in list(dict.fromkeys(order_pks))[:MAX_SELECTED]:
        waybill = _stored(services, pk)
        if waybill is None:
            out.append(ShipOutcome(pk, f"#{pk}", False, reason="还没有电子面单，请先取号"))
            continue
        ref = f"{waybill.channel}/{waybill.order_id}"
        try:
            result = ship_order(services, pk, read_request({"courier": waybill.courier,
                                                            "tracking_no": waybill.tracking_no}),
                                via="api", actor=actor)
        except ApiError as exc:
            out.append(ShipOutcome(pk, ref, False, waybill.tracking_no, reason=exc.message))
            continue
        with services.db.transaction() as s:
            row = s.get(Waybill, waybill.id)
            if row is not None and row.status != "shipped":
                row.status, row.shipment_id, row.shipped_at = "shipped", result.shipment["id"], services.clock.now()
        out.append(ShipOutcome(pk, ref, True, waybill.tracking_no))
    return out


# --------------------------------------------------------------------------- the desk's lists


def waybills_of(services: Services, order_pks: Iterable[int]) -> list[Waybill]:
    """The stored waybills of these orders, in the order given."""
    pks = list(dict.fromkeys(order_pks))
    with services.db.session() as s:
        rows = {w.order_pk: w for w in s.scalars(select(Waybill).where(Waybill.order_pk.in_(pks)))}
        s.expunge_all()
    return [rows[pk] for pk in pks if pk in rows]


def desk_orders(services: Services, filters: DeskFilters, *, limit: int = 200) -> list[DeskRow]:
    """Orders waiting at the desk (待发货, 部分发货, and those shipped from it today are not
    listed), the most urgent promise first."""
    now = services.clock.now()
    q = (select(Order, Waybill).outerjoin(Waybill, Waybill.order_pk == Order.id)
         .where(Order.status.in_(SHIPPABLE), Order.dropped_rule.is_(None)))
    if filters.channel:
        q = q.where(Order.channel == filters.channel)
    if filters.province:
        q = q.where(Order.province == filters.province)
    if filters.courier == "none":
        q = q.where(Waybill.id.is_(None))
    elif filters.courier:
        q = q.where(Waybill.courier == filters.courier)
    if filters.promised == "overdue":
        q = q.where(Order.promised_ship_at < now)
    elif filters.promised == "24h":
        q = q.where(Order.promised_ship_at < now + timedelta(hours=24))
    elif filters.promised == "today":
        local = now.astimezone(SHANGHAI)
        end = (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).astimezone(now.tzinfo)
        q = q.where(Order.promised_ship_at < end)
    q = q.order_by(Order.promised_ship_at.is_(None), Order.promised_ship_at, Order.id).limit(limit)
    out = []
    with services.db.session() as s:
        for order, waybill in s.execute(q).all():
            lines = tuple((str(ln.get("sku_id")), int(ln.get("qty") or 0))
                          for ln in (order.doc or {}).get("lines") or [] if ln.get("sku_id"))
            out.append(DeskRow(order.id, order.channel, order.order_id, order.status, order.province or "",
                               order.city or "", order.promised_ship_at, lines, waybill))
        s.expunge_all()
    return out


def provinces(services: Services) -> list[str]:
    """The provinces of the orders waiting at the desk (the region filter's choices)."""
    with services.db.session() as s:
        rows = s.scalars(select(Order.province).where(Order.status.in_(SHIPPABLE), Order.province.is_not(None))
                         .distinct().order_by(Order.province))
        return [p for p in rows if p]


def set_location(services: Services, sku_id: str, location: str) -> None:
    """Keep where ``sku_id`` is picked from."""
    with services.db.transaction() as s:
        row = s.get(SkuLocation, sku_id)
        if row is None:
            s.add(SkuLocation(sku_id=sku_id, location=location, updated_at=services.clock.now()))
        else:
            row.location, row.updated_at = location, services.clock.now()


def pick_list(services: Services, order_pks: Sequence[int]) -> PickWave:
    """The picking wave of these orders (see :mod:`engine.waybills.pick_list`)."""
    pks = list(dict.fromkeys(order_pks))[:MAX_SELECTED]
    with services.db.session() as s:
        orders = {o.id: (f"{o.channel}/{o.order_id}", o.doc or {})
                  for o in s.scalars(select(Order).where(Order.id.in_(pks)))}
        skus = {str(ln.get("sku_id")) for _, doc in orders.values() for ln in doc.get("lines") or []}
        locations = {r.sku_id: r.location for r in s.scalars(select(SkuLocation).where(SkuLocation.sku_id.in_(skus)))}
    return pick_wave([orders[pk] for pk in pks if pk in orders], locations)
