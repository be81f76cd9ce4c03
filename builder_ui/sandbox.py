"""流程沙盒: walk a machine of the draft without storing anything — start a ticket in its initial
state, press actions as a chosen role, and read why an action is refused, in Chinese.

The checks are :meth:`engine.workflow.machine.CompiledMachine.check_action` (the same ones a real ticket goes
through) on a :class:`engine.workflow.machine.CompiledMachine` built from the draft text, and the
diagram is :func:`engine.workflow.diagram.render_svg`. The browser keeps the sandbox ticket
(state and data) and sends it with each press. Once real tickets of the machine exist, the
diagram shows the average time they spent in each state (:func:`machine_metrics`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

import dsl
from builder_ui.pages import READERS, services
from dsl.errors import RuleError
from dsl.units import duration_text
from engine.auth.access import allow
from engine.auth.roles import STAFF_ROLES, role_label
from engine.errors import Unprocessable
from engine.workflow.diagram import render_swimlanes
from engine.workflow.machine import CompiledMachine, Refusal
from engine.workflow.metrics import machine_metrics
from engine.workflow.service import ActionRefused


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/rulesets/<name>/sandbox", "sandbox", sandbox, methods=["POST"])


def refusal_zh(err: ActionRefused, action: str) -> str:
    """Why ``action`` was refused, as a sentence for the page."""
    detail = err.details[0] if err.details else {}
    if err.code == "wrong_state":
        allowed_from = "、".join(detail.get("allowed_from", []))
        return f"当前状态「{detail.get('state')}」不能执行「{action}」：它只能从「{allowed_from}」执行"
    if err.code == "wrong_role":
        allowed = "、".join(role_label(r) for r in detail.get("allowed", []))
        return f"角色「{role_label(str(detail.get('role')))}」不能执行「{action}」，只有{allowed}可以"
    if err.code == "missing_required":
        fields = "、".join(d["path"].lstrip("/") for d in err.details)
        return f"执行「{action}」需要先填写：{fields}"
    if err.code == "guard_failed":
        return f"「{action}」的条件不成立：{detail.get('condition')}"
    if err.code == "webhook_only":
        return f"「{action}」只能由回调「{detail.get('hook')}」触发，不能手动执行"
    if err.code == "invalid_data":
        return "填写的数据类型不对：" + "；".join(f"{d['path'].lstrip('/')} {d['message']}" for d in err.details)
    if err.code == "unknown_action":
        return f"没有名为「{action}」的动作"
    return err.message


def _machine(name: str, content: str, machine: str | None) -> CompiledMachine:
    try:
        rules = dsl.parse_text(content, f"{name}.op")
    except RuleError as err:
        raise Unprocessable("规则文本有语法错误，请先修正", code="invalid_rules") from err
    machines = [d for d in rules.declarations if isinstance(d, dsl.MachineDecl)]
    if not machines:
        raise Unprocessable("规则文本中没有状态机", code="no_machine")
    decl = next((d for d in machines if d.name == machine), machines[0])
    try:
        return CompiledMachine(f"{name}@draft", 0, decl, rules)
    except (ValueError, RuleError) as err:
        raise Unprocessable(f"状态机无法运行：{err}", code="invalid_machine") from err


@allow(*READERS)
def sandbox(name: str) -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        raise Unprocessable("请求体应为包含 content 的 JSON 对象", code="invalid_body")
    compiled = _machine(name, body["content"], body.get("machine"))
    role: str | None = body["role"] if body.get("role") in STAFF_ROLES else None
    state: str = body["state"] if body.get("state") in compiled.states else compiled.initial
    data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
    payload: dict[str, Any] = body["payload"] if isinstance(body.get("payload"), dict) else {}
    action = body.get("action")
    moved = refused = None
    if isinstance(action, str) and action:
        try:
            decision = compiled.check_action(state, action, payload, data=data, role=role)
            if isinstance(decision, Refusal):
                raise ActionRefused.of(decision)
            data = decision.data
            moved = {"action": action, "from": state, "to": decision.target, "effects": len(decision.effects)}
            state = decision.target
        except ActionRefused as err:
            refused = {"action": action, "code": err.code, "message": refusal_zh(err, action)}
    decl = compiled.decl
    current = compiled.states.get(state)
    svc = services()
    with svc.db.session() as session:
        spent = machine_metrics(session, compiled.name, svc.clock.now())["states"]
    averages = {name: figures["avg_seconds"] for name, figures in spent.items()
                if figures.get("avg_seconds") is not None}
    return {
        "machines": [d.name for d in compiled.rules.declarations if isinstance(d, dsl.MachineDecl)],
        "machine": compiled.name, "title": decl.title or decl.name, "state": state, "data": data,
        "owner": role_label(current.owner) if current is not None and current.owner else "",
        "deadline": duration_text(current.deadline) if current is not None and current.deadline else "",
        "final": compiled.is_final(state),
        "actions": [{"name": a.name, "to": a.target, "requires": list(a.requires),
                     "by": [role_label(r) for r in sorted(compiled.actions[a.name].roles)],
                     "webhook": a.via_webhook or ""} for a in decl.actions_from(state)],
        "roles": [{"code": code, "label": label} for code, label in STAFF_ROLES.items()],
        "role": role, "moved": moved, "refused": refused,
        "svg": render_swimlanes(decl, current=state, average_seconds=averages),
    }
