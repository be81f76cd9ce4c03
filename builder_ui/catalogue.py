"""模板库: the templates catalogue as cards (Chinese title, what each declares, a DSL preview)
and 导入, which makes a ruleset draft. Importing over an existing ruleset asks first and says
what is kept: only the draft is replaced, the published versions never change.

The catalogue and the import are :mod:`engine.templates`; this module only renders.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from sqlalchemy import select

import dsl
from builder_ui.pages import EDITORS, READERS, page, services, signed_in_user
from dsl.errors import RuleError
from engine.auth.access import allow
from engine.errors import ApiError
from engine.storage.models import Ruleset
from engine.templates import catalogue, find_template, import_template

KIND_LABELS = {"promotion": "促销", "machine": "状态机", "source": "数据源", "mapping": "字段映射",
               "cleaning": "清洗", "alert": "预警", "risk": "风控", "channel": "通知渠道", "hook": "回调",
               "follow": "工单跟随", "fulfillment": "发货时效"}
PREVIEW_LINES = 60


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/templates", "templates_page", templates_page, methods=["GET"])
    bp.add_url_rule("/templates/<template>/import", "import_template", import_page, methods=["POST"])


@functools.cache
def _declares(name: str, version: int) -> tuple[str, ...]:
    """What template ``name`` declares: "促销 apparel_festival" etc. (cached per version)."""
    template = find_template(name)
    try:
        ruleset = dsl.parse_text(template.content(), template.file)
    except RuleError:
        return ()
    return tuple(f"{KIND_LABELS.get(d.kind, d.kind)} {d.name}" for d in ruleset.declarations)


def _cards() -> list[dict[str, Any]]:
    cards = []
    for t in catalogue():
        if t.kind != "ruleset":
            continue
        lines = t.content().splitlines()
        cards.append({"name": t.name, "title": t.title, "description": t.description, "version": t.version,
                      "declares": _declares(t.name, t.version), "preview": "\n".join(lines[:PREVIEW_LINES]),
                      "more": max(len(lines) - PREVIEW_LINES, 0)})
    return cards


@allow(*READERS)
def templates_page() -> Any:
    return page("templates.html", cards=_cards(), active_nav="templates", title="模板库")


@allow(*EDITORS)
def import_page(template: str) -> Any:
    target = (request.form.get("ruleset") or template).strip()
    confirmed = request.form.get("confirm") == "1"
    svc = services()
    with svc.db.session() as s:
        existing = s.scalar(select(Ruleset).where(Ruleset.name == target))
        if existing is not None:
            s.expunge(existing)
    if existing is not None and not confirmed:
        return page("import_confirm.html", template=find_template(template), target=target, existing=existing,
                    active_nav="templates", title="导入模板")
    user = signed_in_user()
    try:
        with svc.db.transaction(immediate=True) as s:
            out = import_template(s, template, actor=user.username if user else "", now=svc.clock.now(),
                                  ruleset=target)
    except ApiError as err:
        return page("refused.html", err.status, title="导入未完成", message=err.message)
    verb = "已新建规则集" if out["created"] else "已替换草稿："
    flash(f"{verb} {out['ruleset']}（来自模板 {template}），检查并试算后即可发布")
    return redirect(url_for("builder.ruleset", name=out["ruleset"]))
