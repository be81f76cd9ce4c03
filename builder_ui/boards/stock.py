"""库存: per SKU the total, reserved, safety and available figures; per channel the figure as
pushed and as the platform last showed it (a difference is highlighted as drift); the ledger of
every change with who and why; and adjustments with a reason (管理员, 仓储 — as
``POST /api/v1/stock/adjust``).

Reads the inventory tables through the inventory service's own views
(:meth:`engine.inventory.service.InventoryService.channel_view`); adjustments go through
:meth:`~engine.inventory.service.InventoryService.adjust`. Each adjustment form carries its own
key, so a double click adjusts once and two deliberate adjustments adjust twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from sqlalchemy import and_, select

from builder_ui.pages import READERS, may, page, services
from engine.auth.access import allow, current_principal
from engine.errors import ApiError
from engine.inventory.domain import available_of
from engine.inventory.models import ChannelPush, ChannelSnapshot, LedgerEntry, StockItem
from engine.inventory.service import inventory_for
from engine.orders.document import CHANNELS

PAGE_SIZE = 50
LEDGER_ROWS = 50
ADJUSTERS = ("admin", "warehouse")  # as POST /api/v1/stock/adjust
MAX_DELTA = 1_000_000
OPERATIONS = {"reserve": "预占", "release": "释放", "ship": "出库", "adjust": "调整", "safety": "安全库存"}


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/stock", "stock", stock_page, methods=["GET"])
    bp.add_url_rule("/stock/<sku_id>", "stock_sku", sku_page, methods=["GET"])
    bp.add_url_rule("/stock/<sku_id>/adjust", "stock_adjust", adjust, methods=["POST"])


def _drifting(session: Any, skus: list[str]) -> set[str]:
    """SKUs whose figure on some channel differs from what was last pushed there."""
    if not skus:
        return set()
    rows = session.execute(
        select(ChannelSnapshot.sku_id).join(ChannelPush, and_(ChannelPush.sku_id == ChannelSnapshot.sku_id,
                                                              ChannelPush.channel == ChannelSnapshot.channel))
        .where(ChannelSnapshot.sku_id.in_(skus), ChannelPush.pushed_available.is_not(None),
               ChannelSnapshot.reported_stock != ChannelPush.pushed_available)).scalars()
    return set(rows)


@allow(*READERS)
def stock_page() -> Any:
    q = request.args.get("q", "").strip()[:64]
    after = request.args.get("after", "")[:64]
    stmt = select(StockItem)
    if q:
        stmt = stmt.where(StockItem.sku_id >= q, StockItem.sku_id < q + "\U0010ffff")
    if after:
        stmt = stmt.where(StockItem.sku_id > after)
    with services().db.session() as session:
        rows = list(session.scalars(stmt.order_by(StockItem.sku_id).limit(PAGE_SIZE + 1)))
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        drift = _drifting(session, [r.sku_id for r in rows])
    items = [{"sku_id": r.sku_id, "total": r.total_stock, "reserved": r.reserved_stock, "safety": r.safety_stock,
              "available": available_of(r.total_stock, r.reserved_stock, r.safety_stock),
              "drift": r.sku_id in drift, "at": r.sync_timestamp} for r in rows]
    return page("boards/stock.html", title="库存", active_nav="stock", items=items, q=q,
                next_after=rows[-1].sku_id if more and rows else None)


def _sku(sku_id: str, status: int = 200, error: str | None = None, form: dict[str, str] | None = None) -> Any:
    svc = services()
    figures = inventory_for(svc).get(sku_id)
    if figures is None:
        return page("refused.html", 404, title="未找到", message=f"没有 SKU「{sku_id}」的库存记录。")
    channels = inventory_for(svc).channel_view(sku_id)
    for c in channels:
        c["label"] = CHANNELS.get(c["channel"], c["channel"])
        c["drift"] = (c["reported_stock"] is not None and c["pushed_available"] is not None
                      and c["reported_stock"] != c["pushed_available"])
    with svc.db.session() as session:
        ledger = list(session.scalars(select(LedgerEntry).where(LedgerEntry.sku_id == sku_id)
                                      .order_by(LedgerEntry.version.desc(), LedgerEntry.id.desc())
                                      .limit(LEDGER_ROWS)))
        session.expunge_all()
    return page("boards/stock_sku.html", status, title=f"库存 · {sku_id}", active_nav="stock", sku=figures,
                channels=channels, ledger=ledger, operations=OPERATIONS, may_adjust=may(*ADJUSTERS),
                nonce=uuid.uuid4().hex, error=error, form=form or {})


@allow(*READERS)
def sku_page(sku_id: str) -> Any:
    return _sku(sku_id)


def _int(text: str) -> int | None:
    try:
        value = int(text.strip())
    except ValueError:
        return None
    return value if value != 0 and abs(value) <= MAX_DELTA else None


@allow(*ADJUSTERS)
def adjust(sku_id: str) -> Any:
    user = current_principal()
    delta = _int(request.form.get("delta", ""))
    reason = request.form.get("reason", "").strip()
    nonce = request.form.get("nonce", "").strip()[:40] or uuid.uuid4().hex
    form = {"delta": request.form.get("delta", ""), "reason": reason}
    if delta is None:
        return _sku(sku_id, 422, f"调整数量应为非零整数（-{MAX_DELTA:,} 至 {MAX_DELTA:,}）", form)
    if not reason or len(reason) > 200:
        return _sku(sku_id, 422, "请填写调整原因（1 至 200 个字）", form)
    try:
        outcome = inventory_for(services()).adjust(sku_id, delta, reason, key=f"adjust:page:{nonce}",
                                                  actor=user.username)
    except ApiError as err:
        message = ("调整后总库存将低于已预占数量，未做任何修改" if err.code == "adjust_below_reserved"
                   else err.message)
        return _sku(sku_id, err.status, message, form)
    if not outcome.replayed:
        flash(f"已调整 {sku_id}：{'+' if delta > 0 else ''}{delta}（{reason}）")
    return redirect(url_for("builder.stock_sku", sku_id=sku_id))
