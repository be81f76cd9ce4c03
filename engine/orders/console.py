"""The demo console: one short Chinese line per order event a person cares about.

``console_line`` turns an ``order_intake`` log event (or one row of an ``orders_intake`` page
event; see engine/orders/intake.py) into a line
such as ``新订单 抖音 6920…3581 ¥317.00 重庆-重庆-璧山区``; repeats and stale versions print
nothing. :class:`ConsoleHandler` is a logging handler that prints those lines (the JSON logs
keep going to their own handler). No personal data: the order id, the amount and the region.

``timeline_line`` does the same for one entry of an order's timeline (what the pipeline's
stages, shipping and the write-back record: 风控, 核价, 锁库存, 开工单, 发货, 回传 …) and
``dead_letter_line`` for a write-back that became a dead letter; the demo's console tail
(:mod:`engine.orders.console_tail`) reads them and logs ``order_story`` events, which
:class:`ConsoleHandler` prints too. Their texts carry ids, SKUs, figures and reasons, never a
phone or an address.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from engine.masking import mask_text
from engine.orders.document import CHANNELS, STATUSES

__all__ = ["ConsoleHandler", "attach_console", "console_line", "dead_letter_line", "short_id", "timeline_line",
           "yuan"]

_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市")


def yuan(fen: int) -> str:
    """``31700`` → ``¥317.00`` (integer arithmetic)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def short_id(order_id: str | None) -> str:
    """Long platform ids shortened to their head and tail: ``6920…3581``."""
    text = order_id or "?"
    return f"{text[:4]}…{text[-4:]}" if len(text) > 10 else text


def _short_place(name: Any) -> str:
    text = str(name or "")
    for suffix in _SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            return text[: -len(suffix)]
    return text


def _region(event: Mapping[str, Any]) -> str:
    province, city, district = (list(event.get("region") or ()) + [None, None, None])[:3]
    parts = [_short_place(province), _short_place(city), str(district or "")]
    return "-".join(p for p in parts if p)


def console_line(event: Mapping[str, Any]) -> str | None:
    """The console line of one ``order_intake`` event (or one order of an ``orders_pipeline``
    event), or None when it is not worth a line."""
    if event.get("pipeline"):
        channel = CHANNELS.get(str(event.get("channel")), str(event.get("channel") or ""))
        message = str(event.get("message") or "")
        if event.get("kind") == "reserved":
            message = "到货放行，" + message
        return f"{message} {channel} {short_id(event.get('order_id'))}".strip()
    outcome = event.get("outcome")
    channel = CHANNELS.get(str(event.get("channel")), str(event.get("channel") or event.get("source") or ""))
    oid = short_id(event.get("order_id"))
    if outcome == "parked":
        source = CHANNELS.get(str(event.get("source")), str(event.get("source") or ""))
        where = event.get("path") or ""
        return f"映射失败已挂起 {source} {where}".rstrip()
    if outcome == "dropped":
        return f"测试单已剔除 {channel} {oid} 规则: {event.get('rule') or ''}".rstrip()
    if outcome == "created":
        total = event.get("total")
        money = yuan(int(total)) if isinstance(total, int) else ""
        return " ".join(p for p in ("新订单", channel, oid, money, _region(event)) if p)
    if outcome == "updated":
        status = str(event.get("status") or "")
        if status == "cancelled":
            return f"已取消 {channel} {oid}"
        changed = [c for c in event.get("changes") or () if c != "updated_at"]
        what = f"状态 {STATUSES.get(status, status)}" if "status" in changed else "、".join(changed[:3])
        return f"订单更新 {channel} {oid} {what}".rstrip()
    return None


def _money(value: Any) -> str:
    return yuan(value) if isinstance(value, int) and not isinstance(value, bool) else "?"


def _units(lines: Any) -> int:
    return sum(int(ln.get("qty") or 0) for ln in lines or () if isinstance(ln, Mapping))


def _skus(lines: Any) -> str:
    return "、".join(f"{ln.get('sku_id')}×{ln.get('qty')}" for ln in lines or () if isinstance(ln, Mapping))


def _released(value: Any) -> Any:
    if isinstance(value, Mapping):
        return [{"sku_id": k, "qty": v} for k, v in value.items()]
    return value


def _hold_reason(detail: Mapping[str, Any]) -> str:
    text = str(detail.get("reason") or detail.get("summary") or detail.get("message") or "")
    return mask_text(text.removeprefix("风控挂起：")[:60])


def timeline_line(kind: str, detail: Mapping[str, Any] | None, channel: str, order_id: str) -> str | None:
    """The console line of one timeline entry of order ``channel``/``order_id``, or None when
    the entry is not part of the story (ticket actions, skipped stages …)."""
    d = detail if isinstance(detail, Mapping) else {}
    who = f"{CHANNELS.get(channel, channel)} {short_id(order_id)}"
    if kind == "risk_passed":
        return f"风控通过 {who}"
    if kind in ("risk_hold", "risk_held"):
        return f"风控挂起 {who} {_hold_reason(d)}".rstrip()
    if kind in ("price_checked", "priced"):
        if "charged" in d:
            return f"核价 {who} 规则最低应付 {_money(d.get('allowed'))} 平台实收 {_money(d.get('charged'))}"
        return f"核价 {who} 商品应付 {_money(d.get('goods'))}"
    if kind == "price_anomaly":
        return (f"价格异常 {who} 平台实收 {_money(d.get('charged'))} 低于规则允许 {_money(d.get('allowed'))}，"
                f"少收 {_money(d.get('difference'))}")
    if kind == "reserved":
        return f"锁库存 {who} {_skus(d.get('lines'))}".rstrip()
    if kind == "short":
        return f"缺货 {who} {'、'.join(str(s) for s in d.get('short_skus') or ())}".rstrip()
    if kind == "ticket_opened":
        ticket = f"工单#{d.get('ticket')} {d.get('machine') or ''}".rstrip()
        if d.get("refund_id"):
            reason = mask_text(str(d.get("reason") or ""))[:40]
            return f"售后单 {who} {ticket} 退款 {_money(d.get('amount'))} {reason}".rstrip()
        return f"开工单 {who} {ticket} {d.get('state') or ''}".rstrip()
    if kind in ("shipped", "partially_shipped"):
        what = "发货" if kind == "shipped" else "部分发货"
        return f"{what} {who} {d.get('courier_name') or d.get('courier') or ''} {d.get('tracking_no') or ''}".rstrip()
    if kind == "writeback_accepted":
        return f"回传平台成功 {who} 运单号 {d.get('tracking_no') or ''}".rstrip()
    if kind == "reservation_released":
        why = "取消释放库存" if d.get("reason") == "cancelled" else "退款释放库存"
        return f"{why} {who} {_skus(_released(d.get('released')))}".rstrip()
    if kind == "hold_lifted":
        return f"解除挂起 {who}"
    return None


def dead_letter_line(order_ref: str | None, payload: Mapping[str, Any] | None, error: str | None) -> str:
    """The console line of a write-back that failed after its retries (a dead letter)."""
    p = payload if isinstance(payload, Mapping) else {}
    channel, _, order_id = str(order_ref or "").partition("/")
    who = f"{CHANNELS.get(channel, channel)} {short_id(order_id)}"
    reason = mask_text(str(error or "").splitlines()[0][:80]) if error else ""
    return f"回传平台失败进入死信 {who} 运单号 {p.get('tracking_no') or ''} {reason}".rstrip()


class ConsoleHandler(logging.Handler):
    """Prints the console line of each ``order_intake`` event logged through structlog."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(logging.INFO)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        event = record.msg
        if not isinstance(event, Mapping):
            return
        if event.get("event") == "order_story":
            lines = [str(x) for x in event.get("lines") or ()]
            if lines:
                self._write(lines)
            return
        if event.get("event") == "order_intake":
            events: list[Mapping[str, Any]] = [event]
        elif event.get("event") == "orders_intake":
            columns = list(event.get("columns") or ())
            events = [{**dict(zip(columns, row)), "source": event.get("source")} for row in event.get("orders") or ()]
        elif event.get("event") == "orders_pipeline":
            columns = list(event.get("columns") or ())
            events = [{**dict(zip(columns, row)), "pipeline": True} for row in event.get("orders") or ()]
        else:
            return
        lines = [line for line in map(console_line, events) if line]
        if lines:
            self._write(lines)

    def _write(self, lines: list[str]) -> None:
        stream = self.stream or sys.stdout
        stream.write("\n".join(lines) + "\n")
        stream.flush()


def attach_console(stream: TextIO | None = None) -> ConsoleHandler:
    """Print order events on ``stream`` (default stdout) from now on."""
    handler = ConsoleHandler(stream)
    handler.set_name("orderpulse-console")
    logger = logging.getLogger("engine.orders")
    for old in list(logger.handlers):
        if old.get_name() == "orderpulse-console":
            logger.removeHandler(old)
    logger.addHandler(handler)
    return handler
