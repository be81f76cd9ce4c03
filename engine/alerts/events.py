"""The records alert measures count, built from the rows the order pipeline and the workflow
already keep. Pure: each function takes a row's values and returns the record an aggregate's
``where``/``of``/``by`` read (the fields of ``orders``, ``returns`` or ``tickets`` in the
language's order model), with the business time it is counted at.

- ``orders``: the stored order document (dropped test orders are not counted), at its creation
  time on the platform.
- ``order_lines``: each line of a stored order (its SKU, title, category, quantity and amounts) with the
  order's id, channel, shop and creation time, counted at the order's creation time like it.
- ``returns``: an after-sales ticket opened for a platform refund: the refund's reason, amount
  and status, the refunded line's SKU, category and quantity, the order's channel and shop, at
  the time the ticket opened.
- ``shipments``: one shipment made through us (ship API, WMS, order ticket): its courier,
  tracking number, way in, quantity shipped, the order's channel, shop and promised ship time,
  at the time it shipped.
- ``tickets``: one transition of a ticket: the state it entered (``state``), its machine, when
  the ticket was created and when the state was entered.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["line_records", "order_record", "return_record", "shipment_record", "ticket_record"]


def order_record(doc: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(doc or {})


def line_records(order: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``order_lines`` records of one order record: each line, with the order's id, channel, shop
    and creation time."""
    head = {"order_id": order.get("order_id"), "channel": order.get("channel"), "shop": order.get("shop"),
            "created_at": order.get("created_at")}
    return [{**line, **head} for line in order.get("lines") or () if isinstance(line, dict)]


def return_record(doc: Mapping[str, Any] | None, refund_id: str, line_id: str | None,
                  created_at: datetime) -> dict[str, Any]:
    doc = doc or {}
    refund = next((r for r in doc.get("refunds") or () if isinstance(r, dict)
                   and str(r.get("refund_id")) == refund_id), {})
    wanted = line_id if line_id is not None else refund.get("line_id")
    line = next((ln for ln in doc.get("lines") or () if isinstance(ln, dict)
                 and wanted is not None and str(ln.get("line_id")) == str(wanted)), {})
    if not line and refund.get("sku_id"):
        line = next((ln for ln in doc.get("lines") or () if isinstance(ln, dict)
                     and ln.get("sku_id") == refund.get("sku_id")), {})
    return {"return_id": refund_id, "order_id": doc.get("order_id"), "channel": doc.get("channel"),
            "shop": doc.get("shop"), "sku_id": refund.get("sku_id") or line.get("sku_id"),
            "category": line.get("category"), "reason": refund.get("reason"), "qty": line.get("qty"),
            "amount": refund.get("amount"), "status": refund.get("status"), "created_at": created_at.isoformat()}


def ticket_record(instance_id: int, state: str, machine: str, created_at: datetime, entered_at: datetime,
                  payload: Any) -> dict[str, Any]:
    return {"id": str(instance_id), "state": state, "machine": machine, "created_at": created_at.isoformat(),
            "entered_at": entered_at.isoformat(), "payload": payload}


def shipment_record(doc: Mapping[str, Any] | None, shipment_id: int, courier: str, tracking_no: str, via: str,
                    lines: Any, at: datetime) -> dict[str, Any]:
    doc = doc or {}
    qty = sum(int(ln.get("qty") or 0) for ln in lines or () if isinstance(ln, dict))
    return {"shipment_id": str(shipment_id), "order_id": doc.get("order_id"), "channel": doc.get("channel"),
            "shop": doc.get("shop"), "courier": courier, "tracking_no": tracking_no, "via": via, "qty": qty,
            "shipped_at": at.isoformat(), "promised_ship_at": doc.get("promised_ship_at")}
