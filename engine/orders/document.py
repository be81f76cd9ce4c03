"""The normalized order's two forms and what the store derives from it.

Pure functions, no I/O: the JSON form of an order (times ISO 8601 with offset, money int fen)
from the Python form (aware datetimes) and back, the digest of a payload as received, the
field-level diff between two versions (``[{"path", "from", "to"}]``, paths such as
``status`` or ``lines[1].qty``), and the columns the store indexes (phone tail, total).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "CHANNELS",
    "STATUSES",
    "TIME_FIELDS",
    "OrderShapeError",
    "diff",
    "digest",
    "from_json",
    "order_total",
    "parse_instant",
    "phone_tail",
    "to_json",
]

TIME_FIELDS = ("created_at", "updated_at", "paid_at", "promised_ship_at", "shipped_at", "presale_ship_by")
STATUSES: dict[str, str] = {
    "pending_payment": "待付款", "paid_hold": "已付款挂起", "awaiting_shipment": "待发货",
    "partially_shipped": "部分发货", "shipped": "已发货", "delivered": "已签收", "completed": "已完成",
    "cancelled": "已取消",
}
CHANNELS: dict[str, str] = {
    "douyin": "抖音", "taobao": "淘宝", "pdd": "拼多多", "kuaishou": "快手", "xiaohongshu": "小红书",
    "miniprogram": "小程序",
}


class OrderShapeError(ValueError):
    """A field of an order that is not what the store takes; ``path`` is a JSON pointer."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '/'}: {message}")
        self.path = path
        self.message = message


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime in an order")
    return value.astimezone(UTC).isoformat()


def to_json(value: Any) -> Any:
    """The JSON form of an order (or any part of it): datetimes become ISO 8601 UTC strings."""
    if isinstance(value, dict):
        return {k if type(k) is str else str(k): (v if type(v) in _PLAIN else to_json(v)) for k, v in value.items()}
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _PLAIN else to_json(v) for v in value]
    return value


_PLAIN = frozenset({str, int, float, bool, type(None)})


def parse_instant(text: str, path: str) -> datetime:
    """An ISO 8601 time with an offset, as an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise OrderShapeError(path, f"{text!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise OrderShapeError(path, f"{text!r} has no UTC offset (write e.g. 2026-11-11T10:00:00+08:00)")
    return parsed.astimezone(UTC)


def from_json(order: Mapping[str, Any]) -> dict[str, Any]:
    """The Python form of a JSON order: its time fields as aware UTC datetimes."""
    out = dict(order)
    for name in TIME_FIELDS:
        value = out.get(name)
        if isinstance(value, str):
            out[name] = parse_instant(value, f"/{name}")
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    return str(value)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=_json_default).encode("utf-8")


def digest(payload: Any) -> str:
    """sha-256 (hex) of a payload's canonical JSON: equal payloads, equal digests."""
    return hashlib.sha256(_canonical(payload)).hexdigest()


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key in value:
            yield from _leaves(value[key], f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{i}]")
    else:
        yield path, value


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Field-level changes from ``old`` to ``new`` (JSON forms), sorted by path. A field that
    appears or goes away has ``from``/``to`` None."""
    before = dict(_leaves(old, ""))
    after = dict(_leaves(new, ""))
    out = []
    for path in sorted(before.keys() | after.keys()):
        a, b = before.get(path), after.get(path)
        if a != b or type(a) is not type(b):
            out.append({"path": path, "from": a, "to": b})
    return out


def phone_tail(order: Mapping[str, Any]) -> str | None:
    """The last four digits of the buyer's (else the receiver's) phone; masked forms such as
    ``138****0000`` keep theirs."""
    receiver = order.get("receiver") or {}
    for value in (order.get("buyer_phone"), receiver.get("phone") if isinstance(receiver, Mapping) else None):
        if value:
            digits = "".join(ch for ch in str(value) if ch.isdigit())
            if len(digits) >= 4:
                return digits[-4:]
    return None


def order_total(order: Mapping[str, Any]) -> int:
    """What the buyer paid, in fen: ``payment.paid_amount`` when the order says it, else the
    lines' amounts (qty x unit price where a line has no amount) plus freight."""
    payment = order.get("payment")
    if isinstance(payment, Mapping) and isinstance(payment.get("paid_amount"), int):
        return int(payment["paid_amount"])
    total = 0
    for line in order.get("lines") or ():
        amount = line.get("amount")
        if amount is None and line.get("unit_price") is not None:
            amount = int(line["unit_price"]) * int(line.get("qty") or 0)
        total += int(amount or 0)
    return total + int(order.get("freight") or 0)
