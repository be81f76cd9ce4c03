"""会有什么变化 in the ruleset workspace: the draft and the published version run over the last N
stored orders, and the orders whose outcome would differ, with totals.

The answer is streamed as JSON lines (``application/x-ndjson``): ``{"progress": {"done", "total"}}``
after each batch of :data:`BATCH` orders, so the page shows a progress bar for 20,000 orders,
then one ``{"result": …}`` (or ``{"error": …}`` if the run breaks off). Nothing is stored and
nothing is kept between requests; closing the page stops the run.

The comparisons are :mod:`engine.rulesets.what_changes` comparisons, listed by
:func:`comparisons_for`: the price (:class:`engine.pricing.replay.PriceReplay`), the 价格异常
tag (:class:`~engine.pricing.replay.PriceCheckReplay`), flags and holds
(:class:`engine.risk.replay.RiskReplay`) and the ticket path
(:class:`engine.orders.ticket_path.TicketPathReplay`). The orders come from
:func:`engine.orders.samples.recent_order_batches`; the plans are built as 试算 builds them
(:func:`builder_ui.editor._plan_or_error`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, request, stream_with_context
from sqlalchemy.orm import Session

import dsl
from builder_ui.editor import _plan_or_error
from builder_ui.pages import READERS, services
from dsl import model as m
from dsl.errors import RuleError
from engine.api.request_guard import body_kind
from engine.auth.access import allow
from engine.errors import Unprocessable
from engine.logs import get_logger
from engine.orders.samples import count_recent_orders, recent_order_batches
from engine.orders.ticket_path import TicketPathReplay, order_follows
from engine.pricing.loading import RulesInvalid, plan_from_content
from engine.pricing.published import published_plan
from engine.pricing.replay import PriceCheckReplay, PriceReplay
from engine.risk.published import risk_rules_of
from engine.risk.replay import RiskReplay
from engine.rulesets import published
from engine.rulesets.draft_world import RulesetSource, published_sources, with_draft
from engine.rulesets.history import checksum
from engine.rulesets.what_changes import OrderComparison, replay

log = get_logger(__name__)

DEFAULT_ORDERS = 1000
MAX_ORDERS = 20000
SHOWN = 200  # rows listed on the page per comparison; the totals cover every changed order
BATCH = 500  # orders per progress step (and per query)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/rulesets/<name>/what-changes", "what_changes", what_changes, methods=["POST"])


def comparisons_for(session: Session, name: str, content: str) -> tuple[list[OrderComparison], str | None]:
    """The comparisons of the draft ``content`` against the published version of ruleset
    ``name``, or the reason (in Chinese) they cannot run.

    The price and its 价格异常 tag when either side declares a promotion (the ruleset's own
    plans, as 试算 builds them); flags and holds when either side declares ``risk`` rules, and
    the ticket path when either declares ``follow … for orders`` — these two over every
    published ruleset, with this one's draft in its place, as the pipeline would run them.
    Each is a :class:`engine.rulesets.what_changes.OrderComparison`; the page, the progress and
    the bench need no change for another one.
    """
    draft = _plan_or_error(lambda: _draft_model(name, content))
    if "error" in draft:
        return [], f"草稿：{draft['error']}"
    current = _plan_or_error(lambda: published.latest(session, name))
    if "error" in current:
        return [], f"已发布版本：{current['error']}"
    draft_model: m.Ruleset = draft["plan"]
    published_model: m.Ruleset = current["plan"][1]
    comparisons: list[OrderComparison] = []
    if draft_model.promotions or published_model.promotions:
        plans = (_plan_or_error(lambda: plan_from_content(content, name=f"{name}@draft")),
                 _plan_or_error(lambda: published_plan(session, name)))
        for side, label in zip(plans, ("草稿", "已发布版本"), strict=True):
            if "error" in side:
                return [], f"{label}：{side['error']}"
        comparisons += [PriceReplay(plans[0]["plan"], plans[1]["plan"]),
                        PriceCheckReplay(plans[0]["plan"], plans[1]["plan"])]
    sources = published_sources(session)
    drafted = with_draft(sources, RulesetSource(name, 0, checksum(content), draft_model))
    if _declares(draft_model, m.RiskDecl) or _declares(published_model, m.RiskDecl):
        comparisons.append(RiskReplay(session.connection(), risk_rules_of(_versions(drafted)),
                                      risk_rules_of(_versions(sources)), services().clock.now()))
    if any(f.subject == "orders" for f in (*draft_model.follows, *published_model.follows)):
        comparisons.append(TicketPathReplay(order_follows(_checked(drafted)), order_follows(_checked(sources))))
    if not comparisons:
        return [], "草稿与已发布版本都没有促销、风控规则或订单跟随声明，没有可对比的内容"
    return comparisons, None


def _draft_model(name: str, content: str) -> m.Ruleset:
    """The draft's model, refused (:class:`RulesInvalid`, with every problem) unless it checks clean."""
    try:
        model = dsl.load_text(content, "dsl", f"{name}.op")
        errors = [d for d in dsl.check(model) if d.severity == "error"]
    except RuleError as exc:
        errors = list(exc.diagnostics)
    if errors:
        raise RulesInvalid("the draft has errors", [{"line": d.line, "col": d.col, "message": d.message}
                                                    for d in errors])
    return model


def _declares(model: m.Ruleset, kind: type) -> bool:
    return any(isinstance(d, kind) for d in model.declarations)


def _versions(sources: list[RulesetSource]) -> list[tuple[str, int, m.Ruleset]]:
    return [(s.name, s.version, s.model) for s in sources]


def _checked(sources: list[RulesetSource]) -> list[tuple[str, int, str, m.Ruleset]]:
    return [(s.name, s.version, s.checksum, s.model) for s in sources]


def _line(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def run(session: Session, count: int, comparisons: list[OrderComparison]) -> Iterator[str]:
    """The JSON lines of one run: progress after each batch, then the result."""
    total = count_recent_orders(session, count)
    yield _line({"progress": {"done": 0, "total": total}})
    examined = 0
    for step in replay(recent_order_batches(session, count, BATCH), comparisons, total):
        examined = step.done
        yield _line({"progress": {"done": step.done, "total": step.total}})
    results = [c.result(SHOWN).as_json() for c in comparisons]
    price = next((r for r in results if r["key"] == "price"), None)
    top: dict[str, Any] = {"summary": results[0]["summary"], "total_delta": 0, "skipped": 0, "changes": [],
                           "more": 0}
    if price is not None:  # the price comparison's figures at the top level, as before
        top = {"summary": price["summary"], "total_delta": price["totals"].get("delta_fen", 0),
               "skipped": price["skipped"], "more": price["more"],
               "changes": [dict(zip(("channel", "order_id", "published", "draft", "delta"), row, strict=True))
                           for row in price["rows"]]}
    yield _line({"result": {"ok": True, "examined": examined, "comparisons": results, **top}})


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
        error = comparisons_for(s, name, content)[1]
    if error is not None:
        return {"ok": False, "error": error}

    def lines() -> Iterator[str]:
        try:
            with services().db.session() as s:  # one reading transaction for the whole run
                comparisons = comparisons_for(s, name, content)[0]
                yield from run(s, count, comparisons)
        except Exception:  # the stream has started: say so in its last line, never a cut-off answer
            log.exception("what_changes_failed", ruleset=name)
            yield _line({"error": "计算中断，请稍后重试"})

    return Response(stream_with_context(lines()), mimetype="application/x-ndjson",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
