"""Warehouse management system (WMS): delivers ``call.wms.<operation>`` outbox rows.

The WMS contract: ``POST <url>/outbound`` with JSON ``{"order_id": …, "request_id":
"<delivery id>", "reference": {"machine", "instance_id", "action", "seq"}}``
and header ``Idempotency-Key: <delivery id>``: the WMS creates one outbound order per key and
answers a replay with the first result, so a retried row never ships twice. With a ``token``
setting, ``Authorization: Bearer <token>`` is sent. Answer: HTTP 2xx with ``{"code": 0,
"outbound_id": …}``; any other code or HTTP ≥ 400 is a failure.

Channel settings: ``url`` (the WMS base URL, required), optional ``token``. Operations are
listed in :data:`OPERATIONS` (``wms.outbound(order_id)`` in the rules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from connectors.outbound import ConnectorError, join_path, post_idempotent, resolve
from engine.logs import get_logger

if TYPE_CHECKING:
    from engine.outbox.registry import Delivery

PLATFORM = "WMS"

log = get_logger(__name__)


def _reference(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: payload[k] for k in ("machine", "instance_id", "action", "seq") if k in payload}


def outbound_body(payload: dict[str, Any], request_id: str) -> dict[str, Any]:
    """``wms.outbound(order_id)``: ask the warehouse to ship the order's goods."""
    args = payload.get("args") or []
    if not args or args[0] in (None, ""):
        raise ConnectorError(PLATFORM, "outbound needs an order id (the first argument is empty)", permanent=True)
    return {"order_id": str(args[0]), "request_id": request_id, "reference": _reference(payload)}


OPERATIONS: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {"outbound": outbound_body}


def call(url: str, operation: str, body: dict[str, Any], *, request_id: str,
         token: str | None = None) -> dict[str, Any]:
    """POST one operation; return the WMS answer, or raise :class:`ConnectorError`."""
    answer = post_idempotent(PLATFORM, join_path(url, operation), body, request_id=request_id, token=token)
    if answer.get("code") != 0:
        raise ConnectorError(PLATFORM, f"{operation}: code {answer.get('code')}: {answer.get('message', '')}",
                             code=answer.get("code"))
    return answer


def deliver(delivery: Delivery) -> None:
    """Outbox handler for ``call.wms.<operation>`` (the operation comes from the payload)."""
    payload = delivery.payload or {}
    operation = str(payload.get("operation") or delivery.topic.rsplit(".", 1)[-1])
    build = OPERATIONS.get(operation)
    if build is None:
        raise ConnectorError(PLATFORM, f"unknown operation {operation!r}; known: {sorted(OPERATIONS)}",
                             permanent=True)
    url = str(resolve(PLATFORM, payload, "url"))
    token = resolve(PLATFORM, payload, "token", required=False)
    body = build(payload, delivery.delivery_id)
    answer = call(url, operation, body, request_id=delivery.delivery_id, token=token)
    log.info("wms call done", operation=operation, order_id=body.get("order_id"), delivery_id=delivery.delivery_id,
             result=answer.get("outbound_id"), attempt=delivery.attempt)
