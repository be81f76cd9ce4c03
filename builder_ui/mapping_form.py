"""The mapping form of the ruleset workspace: a table of target field ← source path or
expression for one ``mapping`` declaration, written into the DSL text as a targeted change
(:func:`dsl.editing.replace_declaration`, comments kept), and its live preview on a sample
payload — pasted, or one of the recent stored payloads of that source
(:func:`engine.orders.samples.recent_payloads`).

The preview is the one behind ``POST /api/v1/mappings/{name}/preview``
(:func:`engine.orders.preview.order_rules` and :func:`engine.orders.preview.preview_body`)
run on the draft text; a payload that does not fit is answered in Chinese with the field, the
payload path and the mapping line.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import Blueprint, request

import dsl
from builder_ui.message_catalog import message_zh, reason_zh
from builder_ui.pages import EDITORS, READERS, parsed, services
from dsl.editing import replace_declaration
from dsl.errors import RuleError
from dsl.printer import print_expr
from engine.api.request_guard import body_kind
from engine.auth.access import allow
from engine.errors import Unprocessable
from engine.orders.mapping import MappingFailure
from engine.orders.preview import RulesInvalid, RulesText, UnknownMapping, order_rules, preview_body
from engine.orders.samples import recent_payloads


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/rulesets/<name>/mappings/<decl>/rows", "mapping_rows", edit_rows, methods=["POST"])
    bp.add_url_rule("/rulesets/<name>/mappings/<decl>/preview", "mapping_preview", preview, methods=["POST"])
    bp.add_url_rule("/rulesets/<name>/mappings/<decl>/samples", "mapping_samples", samples, methods=["GET"])


def mapping_tables(content: str) -> list[dict[str, Any]]:
    """Each mapping declaration of ``content`` as table rows ``{target, source, line}`` (empty
    when the text does not parse)."""
    ruleset = parsed(content)
    if ruleset is None:
        return []
    return [{"name": d.name, "rows": [{"target": ".".join(f.target), "source": print_expr(f.value), "line": f.line}
                                      for f in d.fields]}
            for d in ruleset.declarations if isinstance(d, dsl.model.MappingDecl)]


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        raise Unprocessable("请求体应为包含 content 的 JSON 对象", code="invalid_body",
                            details=[{"path": "/content", "message": "required text"}])
    return body


def _mapping_of(name: str, decl: str, lines: list[str]) -> Any:
    return dsl.parse_text(f"mapping {decl} {{\n" + "\n".join(lines) + "\n}\n", f"{name}.op").declarations[0]


def _bad_row(name: str, decl: str, lines: list[str], message: str) -> tuple[int, str]:
    """The first row that does not parse on its own, and why (-1 when each row parses alone)."""
    for i, line in enumerate(lines):
        try:
            _mapping_of(name, decl, [line])
        except RuleError as err:
            return i, err.first.message
    return -1, message


@body_kind("ruleset")  # carries the whole draft text
@allow(*EDITORS)
def edit_rows(name: str, decl: str) -> Any:
    """Write the table's rows into mapping ``decl`` of the text, changing only the lines that changed."""
    body = _json_body()
    rows = body.get("rows")
    if not isinstance(rows, list) or not all(isinstance(r, dict) and isinstance(r.get("target"), str)
                                             and isinstance(r.get("source"), str) for r in rows):
        raise Unprocessable("映射表内容无效", code="invalid_body", details=[{"path": "/rows", "message": "list"}])
    lines = [f"    {r['target'].strip()} = {r['source'].strip()}" for r in rows]
    try:
        new = _mapping_of(name, decl, lines)
    except RuleError as err:
        row, message = _bad_row(name, decl, lines, err.first.message)
        where = f"第 {row + 1} 行（{rows[row]['target']}）" if row >= 0 else "映射表"
        raise Unprocessable(f"{where}写法有误：{message}", code="invalid_form",
                            details=[{"path": f"/rows/{max(row, 0)}", "message": message}]) from None
    try:
        text = replace_declaration(body["content"], decl, "mapping", new, f"{name}.op")
    except RuleError as err:
        raise Unprocessable(f"规则文本有错误，无法写入映射表：{err.first.message}", code="invalid_rules") from None
    return {"content": text, "mappings": mapping_tables(text)}


def _field_at(content: str, decl: str, line: int) -> str:
    """The target of the top-level field of mapping ``decl`` that holds ``line``."""
    for table in mapping_tables(content):
        if table["name"] == decl:
            held = [r for r in table["rows"] if r["line"] <= line]
            return str(held[-1]["target"]) if held else ""
    return ""


@body_kind("ruleset")  # carries the whole draft text
@allow(*READERS)
def preview(name: str, decl: str) -> Any:
    """Map the sample payload (``payload``: JSON text, or ``payload_id`` of a stored one) with
    mapping ``decl`` of the draft text."""
    body = _json_body()
    content: str = body["content"]
    if isinstance(body.get("payload_id"), int):
        with services().db.session() as s:
            found = [p for p in recent_payloads(s, decl, limit=100) if p["id"] == body["payload_id"]]
        if not found:
            raise Unprocessable("找不到这条已存订单的原始报文", code="payload_not_found")
        payload = json.loads(json.dumps(found[0]["payload"]), parse_float=Decimal)
    else:
        try:
            payload = json.loads(str(body.get("payload") or ""), parse_float=Decimal)
        except ValueError as err:
            return {"ok": False, "error": f"样例报文不是有效的 JSON：{err}"}
    try:
        result = preview_body(order_rules([RulesText(content, name)]), decl, payload)
    except RulesInvalid as err:
        first = err.problems[0] if err.problems else {}
        where = f"第 {first.get('line', 0)} 行"
        message = message_zh(str(first.get("message", err.message)))
        return {"ok": False, "error": f"规则有错误，无法预览：{where} {message}"}
    except UnknownMapping:
        return {"ok": False, "error": f"规则文本中没有名为「{decl}」的映射"}
    except MappingFailure as exc:
        field = _field_at(content, decl, exc.line)
        return {"ok": False, "failure": {
            "field": field, "path": exc.path, "line": exc.line,
            "message": f"映射失败：字段「{field}」（映射第 {exc.line} 行）取报文 {exc.path} 时出错："
                       f"{reason_zh(exc.message)}",
            "reason": exc.message}}
    return {"ok": True, "preview": result}


@allow(*READERS)
def samples(name: str, decl: str) -> Any:
    """The recent stored payloads of source ``decl`` to pick a sample from."""
    with services().db.session() as s:
        found = recent_payloads(s, decl, limit=20)
    return {"samples": [{"id": p["id"], "order_id": p["order_id"], "received_at": p["received_at"]} for p in found]}
