"""发货台 (the shipping desk, 仓储 and 管理员): orders waiting to ship with filters (channel,
courier, region, promised time); several selected → 获取电子面单 (one click, a result per order:
the tracking number, or the counterpart's refusal with its reason); 打印面单 (the labels, then
已打印，确认发货, which ships them through the order pipeline's ship step); 拣货单 (the picking
wave of the selection, printable).

Use cases are :mod:`engine.waybills.service`; this module only reads forms and renders.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, request, url_for

from builder_ui.pages import page, services
from engine.auth.access import allow, current_principal
from engine.errors import ApiError
from engine.orders.carriers import carriers
from engine.orders.document import CHANNELS, STATUSES
from engine.waybills import service as desk
from engine.waybills.requests import PROVIDER_LABELS

DESK_ROLES = ("admin", "warehouse")
PROMISED = {"": "全部", "overdue": "已超时", "today": "今天内", "24h": "24 小时内"}
WAYBILL_STATUS = {"issued": "已取号", "shipped": "已发货"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
SOURCES = {"auto": "自动（小程序走快递鸟，平台订单走平台电子面单）", "kdniao": "快递鸟"}


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/desk", "desk", desk_page, methods=["GET"])
    bp.add_url_rule("/desk/waybills", "desk_waybills", get_waybills, methods=["POST"])
    bp.add_url_rule("/desk/print", "desk_print", print_view, methods=["GET"])
    bp.add_url_rule("/desk/ship", "desk_ship", ship_printed, methods=["POST"])
    bp.add_url_rule("/desk/pick-list", "desk_pick_list", pick_list_view, methods=["GET"])
    bp.add_url_rule("/desk/locations", "desk_location", save_location, methods=["POST"])


def shanghai(value: datetime | None) -> str:
    """A stored UTC time as the warehouse reads it (Asia/Shanghai)."""
    return value.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if value is not None else "—"


def _selected(values: list[str]) -> list[int]:
    out = []
    for value in values:
        if value.isdigit() and len(value) < 19:
            out.append(int(value))
    return out[:desk.MAX_SELECTED]


def _filters() -> desk.DeskFilters:
    args = request.args  # the filters live in the address (a POST's courier is the waybills')
    channel, courier = args.get("channel", ""), args.get("courier", "")
    promised = args.get("promised", "")
    return desk.DeskFilters(channel=channel if channel in CHANNELS else "",
                            courier=courier if courier == "none" or courier in {c.code for c in carriers()} else "",
                            province=args.get("province", "")[:32], promised=promised if promised in PROMISED else "")


def _render(status: int = 200, **extra: Any) -> Any:
    svc = services()
    filters = _filters()
    return page("desk/desk.html", status, title="发货台", active_nav="desk", filters=filters,
                rows=desk.desk_orders(svc, filters), provinces=desk.provinces(svc), channels=CHANNELS,
                statuses=STATUSES, couriers=carriers(), courier_names={c.code: c.name for c in carriers()},
                promised=PROMISED, sources=SOURCES,
                waybill_status=WAYBILL_STATUS, chosen=set(extra.pop("chosen", ())), shanghai=shanghai,
                now=svc.clock.now(), **extra)


@allow(*DESK_ROLES)
def desk_page() -> Any:
    return _render()


@allow(*DESK_ROLES)
def get_waybills() -> Any:
    chosen = _selected(request.form.getlist("order"))
    if not chosen:
        return _render(422, error="请先勾选要取号的订单")
    source = request.form.get("source", "auto")
    try:
        outcomes = desk.issue_waybills(services(), chosen, courier=request.form.get("courier", ""),
                                       choice=source if source in SOURCES else "auto",
                                       actor=f"user:{current_principal().username}")
    except ApiError as err:
        return _render(422, error=err.message, chosen=chosen)
    refused = sum(1 for o in outcomes if not o.ok)
    return _render(200, outcomes=outcomes, chosen=chosen,
                   summary=f"取号完成：成功 {len(outcomes) - refused} 单，失败 {refused} 单")


@allow(*DESK_ROLES)
def print_view() -> Any:
    chosen = _selected(request.args.getlist("order"))
    waybills = [w for w in desk.waybills_of(services(), chosen)]
    missing = len(chosen) - len(waybills)
    return page("desk/print.html", title="打印面单", active_nav="desk", waybills=waybills, missing=missing,
                providers=PROVIDER_LABELS, channels=CHANNELS, waybill_status=WAYBILL_STATUS)


@allow(*DESK_ROLES)
def ship_printed() -> Any:
    chosen = _selected(request.form.getlist("order"))
    if not chosen:
        return _render(422, error="没有要发货的面单")
    results = desk.ship_waybills(services(), chosen, actor=f"user:{current_principal().username}")
    failed = sum(1 for r in results if not r.ok)
    return _render(200, shipped=results, summary=f"发货完成：成功 {len(results) - failed} 单，失败 {failed} 单")


@allow(*DESK_ROLES)
def pick_list_view(chosen: list[int] | None = None, status: int = 200, **extra: Any) -> Any:
    if chosen is None:
        chosen = _selected(request.args.getlist("order"))
    wave = desk.pick_list(services(), chosen)
    return page("desk/pick_list.html", status, title="拣货单", active_nav="desk", wave=wave, chosen=chosen,
                printed_at=shanghai(services().clock.now()), **extra)


@allow(*DESK_ROLES)
def save_location() -> Any:
    """Keep where a SKU is picked from (库位), then show the same pick list again."""
    sku, location = request.form.get("sku_id", "").strip(), request.form.get("location", "").strip()
    chosen = _selected(request.form.getlist("order"))
    if not sku or len(sku) > 128 or not location or len(location) > 64:
        return pick_list_view(chosen, status=422, error="请填写 SKU 和库位（库位不超过 64 个字符）")
    desk.set_location(services(), sku, location)
    flash(f"已设置 {sku} 的库位为 {location}")
    return redirect(url_for("builder.desk_pick_list", order=chosen))
