"""规则集 pages: the list (status, published version, last change), creating a ruleset, and the
per-ruleset workspace (editor, check, format, forms, 试算, versions, 对比, 发布, 回滚, audit).

Views call :mod:`engine.rulesets.service` (the API's use cases) and render; the editor's own
JSON calls (check, format, save) go to the API or to :mod:`builder_ui.editor`.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for

from builder_ui.editor import SAMPLE_ORDER, form_models, form_vocabulary
from builder_ui.machine_form import machine_forms, machine_vocabulary
from builder_ui.mapping_form import mapping_tables
from builder_ui.messages import problem_view
from builder_ui.pages import EDITORS, READERS, may, page, parsed, services, signed_in_user
from engine.auth.access import allow
from engine.errors import ApiError
from engine.rulesets import service
from engine.rulesets.overview import STATUS_LABELS, draft_status, ruleset_rows


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/rulesets", "rulesets", rulesets_page, methods=["GET"])
    bp.add_url_rule("/rulesets", "create_ruleset", create_ruleset, methods=["POST"])
    bp.add_url_rule("/rulesets/<name>", "ruleset", ruleset_page, methods=["GET"])
    bp.add_url_rule("/rulesets/<name>/publish", "publish", publish, methods=["POST"])
    bp.add_url_rule("/rulesets/<name>/rollback", "rollback_confirm", rollback_confirm, methods=["GET"])
    bp.add_url_rule("/rulesets/<name>/rollback", "rollback", rollback, methods=["POST"])
    bp.add_url_rule("/rulesets/<name>/diff", "diff", diff_page, methods=["GET"])


def _actor() -> str:
    user = signed_in_user()
    return user.username if user else ""


def _role() -> str | None:
    """The signed-in user's role: what they may publish follows it (engine.rulesets.publish_guards)."""
    user = signed_in_user()
    return user.role if user else ""


@allow(*READERS)
def rulesets_page() -> Any:
    with services().db.session() as s:
        rows = ruleset_rows(s)
    return page("rulesets.html", rows=rows, active_nav="rulesets", title="规则集")


@allow(*EDITORS)
def create_ruleset() -> Any:
    name = request.form.get("name", "").strip()
    title = request.form.get("title", "").strip()
    svc = services()
    try:
        with svc.db.transaction(immediate=True) as s:
            service.create_ruleset(s, name=name, title=title, actor=_actor(), now=svc.clock.now())
    except ApiError as err:
        with svc.db.session() as s:
            rows = ruleset_rows(s)
        message = "规则集名称只能包含字母、数字、_、- 或 .（最多 128 个）" if err.code == "invalid_name" else (
            f"规则集 {name} 已存在" if err.code == "ruleset_exists" else err.message)
        return page("rulesets.html", 422, rows=rows, active_nav="rulesets", title="规则集",
                    create_error=message, form={"name": name, "title": title})
    flash(f"已新建规则集 {name}")
    return redirect(url_for("builder.ruleset", name=name))


def _workspace(name: str, **extra: Any) -> dict[str, Any]:
    with services().db.session() as s:
        ruleset = service.get_ruleset(s, name)
        versions = service.list_versions(s, name)
        audit = service.list_audit(s, name)[:50]
        problems = service.check_ruleset(s, name)
        status = draft_status(s, ruleset)
        s.expunge_all()
    return {
        "ruleset": ruleset, "versions": versions, "audit": audit,
        "problems": [problem_view(p) for p in problems], "draft_state": status,
        "status_label": STATUS_LABELS[status], "active_nav": "rulesets", "title": ruleset.title or name,
        "workspace": _workspace_data(ruleset, problems), "has_machine": "machine" in _kinds(ruleset.draft_content),
        "sample_order": json.dumps(SAMPLE_ORDER, ensure_ascii=False, indent=1),
        **extra,
    }


@allow(*READERS)
def ruleset_page(name: str) -> Any:
    return page("ruleset.html", **_workspace(name))


def _kinds(content: str) -> set[str]:
    """The declaration kinds in ``content`` (empty when it does not parse)."""
    ruleset = parsed(content)
    return {d.kind for d in ruleset.declarations} if ruleset is not None else set()


def _workspace_data(ruleset: Any, problems: list[Any]) -> dict[str, Any]:
    """What the page's script starts from: the draft, its revision, the form models."""
    return {"name": ruleset.name, "content": ruleset.draft_content, "revision": ruleset.draft_revision,
            "forms": form_models(ruleset.draft_content), "vocabulary": form_vocabulary(),
            "mappings": mapping_tables(ruleset.draft_content),
            "machines": machine_forms(ruleset.draft_content, problems),
            "machine_vocabulary": machine_vocabulary(ruleset.draft_content),
            "may_edit": may(*EDITORS)}


@allow(*EDITORS)
def publish(name: str) -> Any:
    svc = services()
    note = request.form.get("note", "").strip()
    revision = request.form.get("revision", type=int)
    try:
        with svc.db.transaction(immediate=True) as s:
            version = service.publish(s, name, note=note, revision=revision, actor=_actor(), now=svc.clock.now(),
                                      role=_role())
            number = version.version
    except ApiError as err:
        return page("ruleset.html", 409 if err.status == 409 else 422,
                    **_workspace(name, publish_error=_publish_error(err), note=note))
    flash(f"已发布 v{number}")
    return redirect(url_for("builder.ruleset", name=name))


def _publish_error(err: ApiError) -> dict[str, Any]:
    if err.code == "invalid_ruleset":
        items = [f"第 {d['line']} 行第 {d['col']} 列：{d['message']}" if d.get("line") else d["message"]
                 for d in err.details if d.get("severity", "error") == "error"]
        return {"message": f"草稿有 {len(items)} 处错误，不能发布", "items": items}
    if err.code == "publish_forbidden":
        kinds = "、".join(sorted({str(d.get("kind")) for d in err.details if d.get("kind")}))
        return {"message": f"你的角色不能发布声明了 {kinds} 的规则集，请联系管理员发布", "items": []}
    if err.code == "name_taken":
        items = [f"{d.get('kind')} {d.get('name')} 已由规则集 {d.get('ruleset')} 声明" for d in err.details]
        return {"message": "名称与其他已发布规则集重复，不能发布", "items": items}
    if err.code == "unchanged":
        return {"message": "草稿与当前已发布版本相同，无需发布", "items": []}
    if err.code == "stale_revision":
        return {"message": "草稿已被其他人修改，请刷新后再发布", "items": []}
    return {"message": err.message, "items": []}


@allow(*EDITORS)
def rollback_confirm(name: str) -> Any:
    """The confirmation: what the rollback will change, as a diff of the published content."""
    to_version = request.args.get("to", type=int) or 0
    with services().db.session() as s:
        ruleset = service.get_ruleset(s, name)
        target = service.get_version(s, name, to_version)
        latest = service.get_version(s, name)
        rows = _side_by_side(latest.content, target.content)
        draft_differs = ruleset.draft_content != latest.content
        s.expunge_all()
    return page("rollback.html", ruleset=ruleset, target=target, latest=latest, rows=rows,
                changed=sum(1 for r in rows if r["kind"] != "equal"), draft_differs=draft_differs,
                active_nav="rulesets", title=f"回滚 {name}")


@allow(*EDITORS)
def rollback(name: str) -> Any:
    svc = services()
    to_version = request.form.get("to_version", type=int) or 0
    base = request.form.get("base_version", type=int)
    note = request.form.get("note", "").strip()
    try:
        with svc.db.transaction(immediate=True) as s:
            version = service.rollback(s, name, to_version=to_version, base_version=base, note=note,
                                       actor=_actor(), now=svc.clock.now(), role=_role())
            number = version.version
    except ApiError as err:
        messages = {"unknown_version": f"没有 v{to_version} 可回滚",
                    "already_latest": f"v{to_version} 已是当前生效的版本",
                    "publish_forbidden": "你的角色不能回滚到声明了数据源、通知渠道或回调的版本，请联系管理员",
                    "name_taken": "该版本中的名称已被其他已发布规则集占用，不能回滚",
                    "stale_base": "有人刚刚发布了新版本，请返回刷新后重试"}
        return page("refused.html", err.status, title="回滚未完成", message=messages.get(err.code, err.message))
    flash(f"已回滚到 v{to_version} 的内容，发布为 v{number}")
    return redirect(url_for("builder.ruleset", name=name))


@allow(*READERS)
def diff_page(name: str) -> Any:
    """对比: two versions (``a``, ``b``; ``0`` or missing means the draft) side by side."""
    a = request.args.get("a", type=int)
    b = request.args.get("b", type=int)
    with services().db.session() as s:
        ruleset = service.get_ruleset(s, name)
        versions = service.list_versions(s, name)

        def content(v: int | None) -> str:
            return ruleset.draft_content if not v else service.get_version(s, name, v).content

        left, right = content(a), content(b)
        s.expunge_all()
    rows = _side_by_side(left, right)
    return page("diff.html", ruleset=ruleset, versions=versions, a=a or 0, b=b or 0, rows=rows,
                changed=sum(1 for r in rows if r["kind"] != "equal"), active_nav="rulesets",
                title=f"对比 {name}")


def _side_by_side(old: str, new: str) -> list[dict[str, Any]]:
    """Rows of a side-by-side diff: line numbers and text on each side, and the change kind."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[dict[str, Any]] = []
    for op, a0, a1, b0, b1 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        for k in range(max(a1 - a0, b1 - b0)):
            i, j = a0 + k, b0 + k
            rows.append({
                "kind": op,
                "ln": i + 1 if i < a1 else "", "left": a[i] if i < a1 else "",
                "rn": j + 1 if j < b1 else "", "right": b[j] if j < b1 else "",
            })
    return rows
