"""How the boards write figures for people: money in yuan from fen, instants in Asia/Shanghai,
durations and the time left before a deadline in Chinese, and the Chinese names of channels,
statuses and roles. Pure formatting, registered as Jinja filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint

from engine.auth.roles import role_label
from engine.orders.document import CHANNELS, STATUSES

SHANGHAI = ZoneInfo("Asia/Shanghai")


def yuan(fen: Any) -> str:
    """``3900`` → ``¥39.00``; ``-150`` → ``-¥1.50``; None → ``—``."""
    if fen is None or isinstance(fen, bool) or not isinstance(fen, int):
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def shanghai(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant (aware datetime or ISO text) in Asia/Shanghai; ``—`` when missing."""
    if value in (None, ""):
        return "—"
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(when, datetime) or when.tzinfo is None:
        return str(value)
    return when.astimezone(SHANGHAI).strftime(fmt)


def span(seconds: int) -> str:
    """``93600`` → ``1天2小时``; ``5400`` → ``1小时30分``; ``120`` → ``2分钟``; under a minute: ``不到1分钟``."""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{minutes}分" if minutes else f"{hours}小时"
    if minutes:
        return f"{minutes}分钟"
    return "不到1分钟"


def time_left(seconds: int | None) -> str:
    """What a ticket's deadline leaves: ``剩余 4小时``, ``已超时 6小时``, ``无时限``."""
    if seconds is None:
        return "无时限"
    if seconds < 0:
        return f"已超时 {span(seconds)}"
    return f"剩余 {span(seconds)}"


def channel_zh(code: str | None) -> str:
    return CHANNELS.get(code or "", code or "—")


def status_zh(code: str | None) -> str:
    return STATUSES.get(code or "", code or "—")


def role_zh(code: str | None) -> str:
    return role_label(code) if code else "—"


def register(bp: Blueprint) -> None:
    for name, fn in (("yuan", yuan), ("shanghai", shanghai), ("span", span), ("time_left", time_left),
                     ("channel_zh", channel_zh), ("status_zh", status_zh), ("role_zh", role_zh)):
        bp.add_app_template_filter(fn, name)
