"""The pipeline's risk stage: passes an order, or holds it when the order itself declares a hold.

Until the risk rules of the alerts-and-risk area fill this stage, the one thing it reads is the
order's tags: a tag ``挂起:<原因>`` (or ``hold:<reason>``), e.g. set by a published cleaning's
``set tags = …``, holds the order in ``paid_hold`` with that reason; the pipeline records who
(``risk``) and why on the timeline, and a person releases it. Every other order passes, with
one ``risk_passed`` entry on its timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from engine.orders.stages import OrderRef, StageNote

if TYPE_CHECKING:
    from engine.services import Services

__all__ = ["HOLD_TAG_PREFIXES", "declared_holds", "risk_stage"]

HOLD_TAG_PREFIXES = ("挂起:", "挂起：", "hold:")


def declared_holds(tags: tuple[str, ...] | list[str]) -> list[str]:
    """The hold reasons the order's tags declare (``挂起:地址待核实`` → ``地址待核实``)."""
    found = []
    for tag in tags:
        for prefix in HOLD_TAG_PREFIXES:
            if isinstance(tag, str) and tag.startswith(prefix) and tag[len(prefix):].strip():
                found.append(tag[len(prefix):].strip())
    return found


def risk_stage(session: Session, services: Services, order: OrderRef, now: datetime) -> list[StageNote]:
    """Pass the order, or hold it for the reasons its tags declare."""
    reasons = declared_holds(order.tags)
    if reasons:
        reason = "；".join(reasons)
        return [StageNote("risk_hold", {"message": f"风控挂起：{reason}", "reasons": reasons}, hold=reason)]
    return [StageNote("risk_passed", {"message": "风控检查通过"})]
