"""会有什么变化 in the ruleset workspace: the draft and the published version run over the last N
stored orders, and the orders whose outcome would differ, with totals.

The answer is streamed as JSON lines (``application/x-ndjson``): ``{"progress": {"done", "total"}}``
after each batch of :data:`BATCH` orders, so the page shows a progress bar for 20,000 orders,
then one ``{"result": …}`` (or ``{"error": …}`` if the run breaks off). Nothing is stored and
nothing is kept between requests; closing the page stops the run.

The comparisons are :mod:`engine.rulesets.what_changes` comparisons, listed by
:func:`comparisons_for` — today the price (:class:`engine.pricing.replay.PriceReplay`). The
orders come from :func:`engine.orders.samples.recent_order_batches`; the plans are built as 试算
builds them (:func:`builder_ui.editor._plan_or_error`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, request, stream_with_context

from builder_ui.editor import _plan_or_error
from builder_ui.pages import READERS, services
from engine.api.request_guard import body_kind
from engine.auth.access import allow
from engine.errors import Unprocessable
from engine.logs import get_logger
from engine.orders.samples import count_recent_orders, recent_order_batches
from engine.pricing.loading import plan_from_content
from engine.pricing.published import published_plan
from engine.pricing.replay import PriceReplay
from engine.rulesets.what_changes import OrderComparison, replay

log = get_logger(__name__)

DEFAULT_ORDERS = 1000
MAX_ORDERS = 20000
SHOWN = 200  # rows listed on the page per comparison; the totals cover every changed order
BATCH = 500  # orders per progress step (and per query)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/rulesets/<name>/what-changes", "what_changes", what_changes, methods=["POST"])


def comparisons_for(name: str, content: str) -> tuple[list[OrderComparison], str | None]:
    """The comparisons of the draft ``content`` against the published version of ruleset
    ``name``, or the reason (in Chinese) they cannot run.

    EXTENSION POINT (issues 11 and 13): flags, holds and ticket paths are added here as further
    :class:`engine.rulesets.what_changes.OrderComparison` objects (``add(order)`` runs one stored
    order through the draft's and the published risk rules / pipeline holds / ticket binding and
    keeps it when they differ; ``result(shown)`` gives the summary sentence and the table). The
    page, the progress and the bench need no change for them.
    """
    with services().db.session() as s:
        draft = _plan_or_error(lambda: plan_from_content(content, name=f"{name}@draft"))
        published = _plan_or_error(lambda: published_plan(s, name))
    for side, label in ((draft, "草稿"), (published, "已发布版本")):
        if "error" in side:
            return [], f"{label}：{side['error']}"
    return [PriceReplay(draft["plan"], published["plan"])], None


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def run(name: str, content: str, count: int, comparisons: list[OrderComparison]) -> Iterator[str]:
    """The JSON lines of one run: progress after each batch, then the result."""
    with services().db.session() as s:
        total = count_recent_orders(s, count)
        yield _line({"progress": {"done": 0, "total": total}})
        examined = 0
        for step in replay(recent_order_batches(s, count, BATCH), comparisons, total):
            examined = step.done
            yield _line({"progress": {"done": step.done, "total": step.total}})
    results = [c.result(SHOWN).as_json() for c in comparisons]
    price = results[0]
    yield _line({"result": {
        "ok": True, "examined": examined, "comparisons": results,
        # the price comparison's figures at the top level, as before
        "summary": price["summary"], "total_delta": price["totals"].get("delta_fen", 0), "skipped": price["skipped"],
        "changes": [dict(zip(("channel", "order_id", "published", "draft", "delta"), row, strict=True))
                    for row in price["rows"]],
        "more": price["more"]}})


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
    comparisons, error = comparisons_for(name, content)
    if error is not None:
        return {"ok": False, "error": error}

    def lines() -> Iterator[str]:
        try:
            yield from run(name, content, count, comparisons)
        except Exception:  # the stream has started: say so in its last line, never a cut-off answer
            log.exception("what_changes_failed", ruleset=name)
            yield _line({"error": "计算中断，请稍后重试"})

    return Response(stream_with_context(lines()), mimetype="application/x-ndjson",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
