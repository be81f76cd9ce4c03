"""Who owns ``orders.status``: the platform's word merged with ours (pure, no I/O).

The stored order keeps what the platform said in its document (``doc.status``); the
``status`` column is the order's status as the merchant lives it. Two rules decide it:

- :func:`merge_platform_status` (the store, on a newer platform version): a platform status
  that is *behind* ours is stale and changes nothing — our shipment (``shipped``,
  ``partially_shipped``) is not undone by a platform still saying ``awaiting_shipment``, and
  ``paid_hold`` stays until the pipeline has looked at the order. A cancellation always wins,
  and a person's cancellation (``POST /orders/{id}/cancel``) is not revived by a platform
  still saying the order is paid: the platform learns of it from the refund the merchant makes.
- :func:`settled_status` (the pipeline, after each step): a paid, unshipped order is
  ``paid_hold`` while we hold it (a person, a risk rule, short stock) or the platform holds it,
  else ``awaiting_shipment``.
"""

from __future__ import annotations

__all__ = ["HOLDABLE", "PAID_UNSHIPPED", "SHIPPED_STATUSES", "TERMINAL", "merge_platform_status", "settled_status"]

# How far an order has gone; a lower rank never replaces a higher one.
_RANK = {"pending_payment": 0, "awaiting_shipment": 1, "paid_hold": 1, "partially_shipped": 2, "shipped": 3,
         "delivered": 4, "completed": 5}
PAID_UNSHIPPED = frozenset({"awaiting_shipment", "paid_hold"})
# goods have left the warehouse (part or all of them): counted as shipped by the figures
SHIPPED_STATUSES = ("partially_shipped", "shipped", "delivered", "completed")
# a person may hold (and release) an order in these statuses
HOLDABLE = PAID_UNSHIPPED
TERMINAL = frozenset({"cancelled", "completed"})


def merge_platform_status(current: str, incoming: str, *, cancelled_here: bool = False) -> str:
    """The status column after a newer platform version saying ``incoming``; ``cancelled_here``
    when a person of ours cancelled the order (it stays cancelled whatever the platform says)."""
    if current == "cancelled" and cancelled_here:
        return current
    if incoming == "cancelled" or current == "cancelled":
        return incoming
    if current not in _RANK or incoming not in _RANK:
        return incoming
    if _RANK[incoming] < _RANK[current]:
        return current
    if _RANK[incoming] == _RANK[current] and current == "paid_hold":
        return current  # ours or the platform's hold: the pipeline settles it next
    return incoming


def settled_status(current: str, platform: str, *, held: bool) -> str:
    """The status column once the pipeline knows whether it holds the order."""
    if current not in PAID_UNSHIPPED:
        return current
    return "paid_hold" if held or platform == "paid_hold" else "awaiting_shipment"
