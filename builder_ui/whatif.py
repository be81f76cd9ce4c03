"""会有什么变化 in the ruleset workspace: the draft's promotion and the published one run over the
last N stored orders, and the orders whose payable would differ, with the total.

The comparison is :func:`engine.pricing.replay.compare_prices`; the orders come from
:func:`engine.orders.samples.recent_order_docs`; the plans are built as 试算 builds them
(:func:`builder_ui.editor._plan_or_error`). Nothing is stored.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from builder_ui.editor import _plan_or_error
from builder_ui.pages import READERS, services
from engine.api.request_guard import body_kind
from engine.auth.access import allow
from engine.errors import Unprocessable
from engine.orders.samples import recent_order_docs
from engine.pricing.loading import plan_from_content
from engine.pricing.published import published_plan
from engine.pricing.replay import compare_prices, yuan_grouped

DEFAULT_ORDERS = 1000
MAX_ORDERS = 20000
SHOWN = 200  # rows listed on the page; the totals cover every changed order


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/rulesets/<name>/what-changes", "what_changes", what_changes, methods=["POST"])


@body_kind("ruleset")  # carries the whole draft text
@allow(*READERS)
def what_changes(name: str) -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        raise Unprocessable("请求体应为包含 content 的 JSON 对象", code="invalid_body")
    count = body.get("n", DEFAULT_ORDERS)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_ORDERS:
        raise Unprocessable(f"订单数应为 1 到 {MAX_ORDERS} 之间的整数", code="invalid_body",
                            details=[{"path": "/n", "message": f"integer 1..{MAX_ORDERS}"}])
    content: str = body["content"]
    with services().db.session() as s:
        draft = _plan_or_error(lambda: plan_from_content(content, name=f"{name}@draft"))
        published = _plan_or_error(lambda: published_plan(s, name))
        orders = recent_order_docs(s, count) if "plan" in draft and "plan" in published else []
    for side, label in ((draft, "草稿"), (published, "已发布版本")):
        if "error" in side:
            return {"ok": False, "error": f"{label}：{side['error']}"}
    result = compare_prices(orders, draft["plan"], published["plan"])
    return {"ok": True, "examined": result.examined, "summary": result.summary(),
            "total_delta": result.total_delta, "skipped": len(result.skipped),
            "changes": [{"channel": c.channel, "order_id": c.order_id, "published": yuan_grouped(c.published),
                         "draft": yuan_grouped(c.draft), "delta": yuan_grouped(c.delta)}
                        for c in result.changes[:SHOWN]],
            "more": max(0, len(result.changes) - SHOWN)}
