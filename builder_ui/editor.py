"""The ruleset workspace's live calls (JSON, session + CSRF header): check as the user types,
format with ``fmt``, apply a form's edit of one declaration to the text, and 试算 (price a
sample order with the draft and with the published version side by side).

No rule logic lives here: checking is :func:`engine.rulesets.service.check_ruleset`, formatting
:func:`dsl.format_source`, the form edit :func:`dsl.editing.replace_declaration`, pricing the
pricing area's :func:`plan_from_content` / :func:`published_plan` / :func:`quote_priced_order`.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, render_template, request

import dsl
from builder_ui.machine_form import machine_forms, machine_vocabulary
from builder_ui.mapping_form import mapping_tables
from builder_ui.messages import message_zh, problem_view
from builder_ui.pages import EDITORS, READERS, parsed, services
from dsl.editing import replace_declaration
from dsl.errors import RuleError
from dsl.field_labels import CONDITION_FIELDS, LINE_CONDITION_FIELDS, OPERATORS
from engine.auth.access import allow
from engine.errors import ApiError, Unprocessable
from engine.pricing.loading import RulesInvalid, plan_from_content
from engine.pricing.log_text import render_log
from engine.pricing.order_input import OrderInvalid, read_order
from engine.pricing.published import published_plan
from engine.pricing.quote import quote_priced_order
from engine.rulesets import service
from engine.rulesets.validation import Problem

FORM_KINDS = ("promotion", "machine", "alert", "risk")

SAMPLE_ORDER: dict[str, Any] = {
    "order_id": "SIM-0001",
    "channel": "douyin",
    "customer": {"id": "C1001", "level": "银卡"},
    "receiver": {"province": "浙江省", "city": "杭州市"},
    "red_packet": 0,
    "lines": [
        {"line_id": "L1", "sku_id": "DRESS-001", "title": "真丝连衣裙", "category": "连衣裙", "qty": 1,
         "unit_price": 29900, "amount": 29900},
        {"line_id": "L2", "sku_id": "TEE-002", "title": "纯棉T恤", "category": "T恤", "qty": 1,
         "unit_price": 8900, "amount": 8900},
    ],
}


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/rulesets/<name>/live", "live", live, methods=["POST"])
    bp.add_url_rule("/rulesets/<name>/format", "format", format_text, methods=["POST"])
    bp.add_url_rule("/rulesets/<name>/forms/<kind>/<decl>", "form_edit", form_edit, methods=["POST"])
    bp.add_url_rule("/rulesets/<name>/simulate", "simulate", simulate, methods=["POST"])


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Unprocessable("请求体应为 JSON 对象", code="invalid_body")
    return body


def _content(body: dict[str, Any]) -> str:
    content = body.get("content")
    if not isinstance(content, str):
        raise Unprocessable("缺少规则文本（content）", code="invalid_body",
                            details=[{"path": "/content", "message": "required text"}])
    return content


def form_models(content: str) -> list[dict[str, Any]]:
    """The declarations the forms edit, as their JSON models (empty when the text does not parse)."""
    ruleset = parsed(content)
    if ruleset is None:
        return []
    return [{"kind": d.kind, "name": d.name, "model": dsl.to_json(dsl.model.Ruleset((d,)))["declarations"][0]}
            for d in ruleset.declarations if d.kind in FORM_KINDS]


def form_vocabulary() -> dict[str, Any]:
    return {"fields": [{"path": p, "label": label, "unit": unit} for p, label, unit in CONDITION_FIELDS],
            "line_fields": [{"path": p, "label": label, "unit": unit} for p, label, unit in LINE_CONDITION_FIELDS],
            "operators": [{"op": op, "label": label} for op, label in OPERATORS]}


@allow(*READERS)
def live(name: str) -> Any:
    """Problems in the given text (as the page shows them) and the models the forms edit."""
    content = _content(_body())
    with services().db.session() as s:
        problems = service.check_ruleset(s, name, content=content, fmt="dsl")
    views = [problem_view(p) for p in problems]
    return {"ok": not any(p.is_error for p in problems), "problems": views, "forms": form_models(content),
            "mappings": mapping_tables(content), "machines": machine_forms(content, problems),
            "machine_vocabulary": machine_vocabulary(content)}


@allow(*EDITORS)
def format_text(name: str) -> Any:
    content = _content(_body())
    try:
        return {"content": dsl.format_source(content, f"{name}.op")}
    except RuleError as err:
        problems = [problem_view(Problem(d.message, d.line, d.col, d.pointer, d.code, d.severity))
                    for d in err.diagnostics]
        return {"error": {"code": "invalid_rules", "message": "规则文本有错误，无法格式化", "details": problems}}, 422


@allow(*EDITORS)
def form_edit(name: str, kind: str, decl: str) -> Any:
    """Write a form's model of declaration ``kind decl`` into the text, changing only its lines."""
    body = _body()
    content = _content(body)
    model = body.get("model")
    if kind not in FORM_KINDS or not isinstance(model, dict):
        raise Unprocessable("表单内容无效", code="invalid_body", details=[{"path": "/model", "message": "object"}])
    try:
        new = dsl.load_json({"kind": "ruleset", "declarations": [model]}).declarations[0]
        if new.kind != kind:
            raise Unprocessable("表单内容无效", code="invalid_body")
        text = replace_declaration(content, decl, kind, new, f"{name}.op")
    except RuleError as err:
        first = err.diagnostics[0]
        raise Unprocessable(f"表单内容无效：{first.pointer or ''} {first.message}".strip(), code="invalid_form",
                            details=[{"path": "/model" + first.pointer, "message": first.message}]) from None
    return {"content": text, "forms": form_models(text)}


def _plan_or_error(plan_of: Any) -> dict[str, Any]:
    """``{"plan": …}``, or ``{"error": …}`` saying in Chinese why this side cannot be priced."""
    try:
        return {"plan": plan_of()}
    except RulesInvalid as err:
        first = err.problems[0] if err.problems else {}
        where = f"第 {first['line']} 行：" if first.get("line") else ""
        return {"error": "规则有错误，无法试算：" + where + message_zh(str(first.get("message", err.message)))}
    except ApiError as err:
        return {"error": "尚未发布，无已发布版本可对照" if err.code == "version_not_found" else err.message}


@allow(*READERS)
def simulate(name: str) -> Any:
    """试算: the sample order priced by the given draft text and by the published version."""
    body = _body()
    content = _content(body)
    raw = body.get("order")
    try:
        order_data = json.loads(raw) if isinstance(raw, str) else raw
        order = read_order(order_data)
    except (ValueError, TypeError) as err:
        message = err.message if isinstance(err, OrderInvalid) else f"样例订单不是有效的 JSON：{err}"
        return render_template("simulate_result.html", order_error=message), 422
    sides = []
    with services().db.session() as s:
        for label, plan_of in (
            ("草稿", lambda: plan_from_content(content, name=f"{name}@draft")),
            ("已发布", lambda: published_plan(s, name)),
        ):
            result = _plan_or_error(plan_of)
            if "plan" in result:
                quote = quote_priced_order(result["plan"], order)
                result = {"quote": quote, "log": render_log(quote["log"])}
            sides.append({"label": label, **result})
    return render_template("simulate_result.html", sides=sides, order_error=None)
