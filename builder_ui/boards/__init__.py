"""The operations boards: 我的待办 (work), 看板 (kanban per machine), 订单 (orders), 库存 (stock),
预警 (risk holds) and 看板数据 (dashboards). Server-rendered pages over the same services the API uses; each view
declares its roles with :func:`engine.auth.access.allow`, buttons follow the role, and personal
data is masked by :mod:`engine.orders.visibility`. No business logic lives here.
"""

from __future__ import annotations

from flask import Blueprint


def register(bp: Blueprint) -> None:
    from builder_ui.boards import dashboards, display, holds, kanban, orders, stock, work

    display.register(bp)
    for area in (work, kanban, orders, stock, holds, dashboards):
        area.register(bp)
