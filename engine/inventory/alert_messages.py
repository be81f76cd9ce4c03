"""The Chinese text of an inventory alert: one sentence per kind, from the ``inventory.alert``
outbox payload (:meth:`engine.inventory.service.InventoryService.raise_alert`).

Kinds: ``gate_bypassed`` (the Redis gate was skipped, with a reason),
``channel_shows_more_than_available`` (a platform's stock snapshot shows more than is
available), ``gate_drift_repaired`` (the reconciler set Redis back to SQL's figures). An
unknown kind still gives a readable message, so a new kind is never lost. Pure: no I/O, no
clock; the time shown is the one the payload carries (``raised_at``, UTC) in Beijing time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.clock import SHANGHAI, utc
from engine.inventory.channels import CHANNEL_LABELS

PREFIX = "库存告警："
MAX_LISTED = 10

_BYPASS_REASONS = {
    "breaker_open": "Redis 刚出错，暂停使用片刻",
    "no_epoch": "Redis 中的库存缓存缺失或 Redis 已重启，正在从数据库重建",
    "epoch_changing": "Redis 中的库存缓存正在从数据库重建",
}


def alert_text(payload: Mapping[str, Any]) -> str:
    """The message sent to the alert channel for one ``inventory.alert`` payload."""
    kind = str(payload.get("kind") or "")
    if kind == "gate_bypassed":
        text = f"库存闸门已旁路（{bypass_reason(str(payload.get('reason') or ''))}），由数据库直接判定。"
    elif kind == "channel_shows_more_than_available":
        text = _channel_drift(payload)
    elif kind == "gate_drift_repaired":
        text = _gate_drift(payload)
    else:
        detail = {k: v for k, v in payload.items() if k not in ("kind", "raised_at")}
        text = f"{kind or '未知类型'} {json.dumps(detail, ensure_ascii=False, sort_keys=True)}"
    return PREFIX + text + _when(payload.get("raised_at"))


def bypass_reason(reason: str) -> str:
    if reason.startswith("redis_error"):
        _, _, error = reason.partition(":")
        return f"Redis 不可用：{error}" if error else "Redis 不可用"
    return _BYPASS_REASONS.get(reason, f"原因 {reason or '未说明'}")


def _channel_drift(payload: Mapping[str, Any]) -> str:
    channel = str(payload.get("channel") or "")
    label = CHANNEL_LABELS.get(channel, channel or "某平台")
    items = [f"{d.get('sku_id')} 显示 {d.get('reported')}、可售 {d.get('available')}"
             for d in payload.get("skus") or () if isinstance(d, Mapping)]
    return f"{label}平台显示库存高于可售（{_listed(items, '；')}），有超卖风险。"


def _gate_drift(payload: Mapping[str, Any]) -> str:
    skus = [str(s) for s in payload.get("skus") or ()]
    orphans = int(payload.get("orphans") or 0)
    done = []
    if skus:
        done.append(f"按数据库修正 SKU {_listed(skus, '、')}")
    if orphans:
        done.append(f"释放 {orphans} 个下单中断留下的 Redis 预占")
    return f"Redis 库存闸门与数据库不一致，已{'，并'.join(done) or '按数据库修正'}。"


def _listed(items: Sequence[str], sep: str) -> str:
    """The first ``MAX_LISTED`` items, ending in 等 when some are left out (the payload itself
    lists at most 50, so no total is claimed)."""
    return sep.join(items[:MAX_LISTED]) + (" 等" if len(items) > MAX_LISTED else "")


def _when(raised_at: Any) -> str:
    """``（北京时间 2026-11-11 08:00:05）`` for the time the alert was raised, when known."""
    if not raised_at:
        return ""
    try:
        at = utc(datetime.fromisoformat(str(raised_at))).astimezone(SHANGHAI)
    except ValueError:
        return ""
    return f"（北京时间 {at:%Y-%m-%d %H:%M:%S}）"
