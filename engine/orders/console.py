"""The demo console: one short Chinese line per order event a person cares about.

``console_line`` turns an ``order_intake`` log event (or one row of an ``orders_intake`` page
event; see engine/orders/intake.py) into a line
such as ``新订单 抖音 6920…3581 ¥317.00 重庆-重庆-璧山区``; repeats and stale versions print
nothing. :class:`ConsoleHandler` is a logging handler that prints those lines (the JSON logs
keep going to their own handler). No personal data: the order id, the amount and the region.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from engine.orders.document import CHANNELS, STATUSES

__all__ = ["ConsoleHandler", "attach_console", "console_line", "short_id", "yuan"]

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


class ConsoleHandler(logging.Handler):
    """Prints the console line of each ``order_intake`` event logged through structlog."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(logging.INFO)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        event = record.msg
        if not isinstance(event, Mapping):
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
