"""The machine form of the ruleset workspace: one ``machine`` declaration as rows a shop's staff
can edit — its data fields, states (owner, deadline, final) and actions (from, to, by,
``requires``, ``when``, ``via webhook`` and the effects ``then notify …``, ``call …``,
``archive …``) — written into the DSL text as a targeted change
(:func:`dsl.editing.replace_declaration`, comments kept), and the checker's problems placed
next to the field they are about.

What the rows cannot show (``on deadline`` handlers, ``migrate`` lines, ``set``/``open``
effects) is carried over from the declaration in the text unchanged. Conditions and the
arguments of a call are expressions typed as text and parsed here, one field at a time, so a
typing error is named by its field. No rule logic lives here: the parser, the printer and the
checker (through the workspace's live check) decide.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from flask import Blueprint, request

import dsl
from builder_ui.messages import message_zh, problem_view
from builder_ui.pages import EDITORS, parsed, services
from dsl import model as m
from dsl import order_model as om
from dsl.editing import replace_declaration
from dsl.errors import RuleError
from dsl.printer import _effect as effect_text
from dsl.printer import print_expr
from engine.api.request_guard import body_kind
from engine.auth.access import allow
from engine.errors import Unprocessable
from engine.rulesets import service
from engine.rulesets.validation import Problem
from engine.workflow.diagram import render_swimlanes

DATA_TYPES = (("text", "文本"), ("money", "金额"), ("count", "件数"), ("bool", "是/否"), ("time", "时间"),
              ("duration", "时长"), ("percent", "百分比"))
EFFECT_KINDS = (("notify", "通知"), ("call", "调用"), ("archive", "归档"))
ARCHIVE_LABELS = {"finance_voucher": "财务凭证"}


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/rulesets/<name>/machines/<decl>", "machine_form", edit_machine, methods=["POST"])


# ---------------------------------------------------------------------------- model → rows

def _effect_row(e: m.Effect) -> dict[str, Any]:
    if isinstance(e, m.Notify):
        return {"kind": "notify", "channel": e.channel, "to": print_expr(e.to) if e.to is not None else "",
                "message": e.message}
    if isinstance(e, m.CallEffect):
        return {"kind": "call", "channel": e.target, "operation": e.operation,
                "args": ", ".join(print_expr(a) for a in e.args)}
    if isinstance(e, m.Archive):
        return {"kind": "archive", "target": e.target}
    return {"kind": "kept", "text": effect_text(e)}  # set / open: shown here, edited in the text


def machine_rows(decl: m.MachineDecl) -> dict[str, Any]:
    """The rows the form shows for ``decl``."""
    return {
        "name": decl.name, "title": decl.title or "", "initial": decl.initial or "",
        "data": [{"name": f.name, "type": f.type, "optional": f.optional} for f in decl.data],
        "states": [{"name": s.name, "owner": s.owner or "", "deadline": s.deadline or 0, "final": s.final}
                   for s in decl.states],
        "actions": [{"name": a.name, "from": list(a.sources), "to": a.target, "by": list(a.by),
                     "requires": list(a.requires), "when": print_expr(a.when) if a.when is not None else "",
                     "via": a.via_webhook or "", "effects": [_effect_row(e) for e in a.effects]}
                    for a in decl.actions],
        "kept": len(decl.deadline_handlers) + len(decl.migrations),
    }


def _places(node: m.Node, key: str) -> tuple[m.Loc, ...]:
    """The positions recorded for field ``key`` of ``node`` (none for nodes built in code)."""
    return next((places for name, places in node.locs if name == key), ())


def _clause_starts(a: m.Action) -> list[tuple[tuple[int, int], str]]:
    """Where each clause of action ``a`` starts in the text, with the form field it fills."""
    starts: list[tuple[tuple[int, int], str]] = [((a.line, a.col), "name")]
    for key, field in (("sources", "from"), ("target", "to"), ("by", "by"), ("requires", "requires"),
                       ("via_webhook", "via")):
        starts += [((loc.line, loc.col), field) for loc in _places(a, key) if loc.line]
    if a.when is not None and a.when.line:
        starts.append(((a.when.line, a.when.col), "when"))
    for k, e in enumerate(a.effects):
        if e.line:
            starts.append(((e.line, e.col), f"effects/{k}"))
    return sorted(starts)


def field_of(decl: m.MachineDecl, line: int, col: int, next_line: int) -> str | None:
    """The form field (a JSON pointer into :func:`machine_rows`) a problem at ``line:col``
    is about, or None when it lies outside the rows (``next_line``: where the statement after
    the declaration starts)."""
    statements: list[tuple[tuple[int, int], str, Any]] = []
    for i, f in enumerate(decl.data):
        statements.append(((f.line, f.col), f"/data/{i}", f))
    for i, s in enumerate(decl.states):
        statements.append(((s.line, s.col), f"/states/{i}", s))
    for i, a in enumerate(decl.actions):
        statements.append(((a.line, a.col), f"/actions/{i}", a))
    for h in decl.deadline_handlers:
        statements.append(((h.line, h.col), "", h))
    for mig in decl.migrations:
        statements.append(((mig.line, mig.col), "", mig))
    for loc in _places(decl, "kw:initial"):
        statements.append(((loc.line, loc.col), "/initial", None))
    statements.sort(key=lambda s: s[0])
    if not statements or (line, col) < statements[0][0] or line >= next_line:
        return None
    pos = bisect_right([s[0] for s in statements], (line, col)) - 1
    _, path, node = statements[pos]
    if not path:
        return None
    if isinstance(node, m.State):
        owner = _places(node, "owner")
        return f"{path}/owner" if owner and (line, col) >= (owner[0].line, owner[0].col) else path
    if isinstance(node, m.Action):
        clauses = _clause_starts(node)
        at = bisect_right([c[0] for c in clauses], (line, col)) - 1
        return f"{path}/{clauses[max(at, 0)][1]}"
    return path


def _problems_by_field(decl: m.MachineDecl, next_line: int,
                       problems: list[Problem]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in problems:
        if not p.line:
            continue
        path = field_of(decl, p.line, p.col, next_line)
        if path is not None:
            view = problem_view(p)
            out.setdefault(path, []).append(f"{view['level']}：{view['message']}")
    return out


def machine_forms(content: str, problems: list[Problem] | None = None) -> list[dict[str, Any]]:
    """Each machine declaration of ``content`` as form rows, with the checker's ``problems``
    placed on their fields (``"problems": {pointer: [message, …]}``); empty when the text does
    not parse."""
    ruleset = parsed(content)
    if ruleset is None:
        return []
    decls = list(ruleset.declarations)
    out = []
    for i, d in enumerate(decls):
        if not isinstance(d, m.MachineDecl):
            continue
        next_line = decls[i + 1].line if i + 1 < len(decls) else 1 << 30
        rows = machine_rows(d)
        rows["problems"] = _problems_by_field(d, next_line, problems or [])
        rows["svg"] = _diagram(d)
        out.append(rows)
    return out


def _diagram(decl: m.MachineDecl) -> str:
    """The swimlanes of ``decl`` as drawn so far ("" while it cannot be drawn: an action to an
    undeclared state, say; the checker's problems say why)."""
    try:
        return render_swimlanes(decl)
    except (KeyError, ValueError):
        return ""


def machine_vocabulary(content: str) -> dict[str, Any]:
    """What the form's pickers offer: owners, data types, the channels declared in the text
    (which notify and which take calls, with their operations), archive targets and hooks."""
    ruleset = parsed(content) or m.Ruleset(())
    channels = [d for d in ruleset.declarations if isinstance(d, m.ChannelDecl)]
    return {
        "owners": [*om.ROLES, *om.OUTSIDE_PARTIES],
        "roles": [r for r in om.ROLES],
        "types": [{"code": c, "label": label} for c, label in DATA_TYPES],
        "effect_kinds": [{"code": c, "label": label} for c, label in EFFECT_KINDS],
        "notify_channels": [c.name for c in channels if c.type in om.NOTIFY_CHANNEL_TYPES],
        "call_channels": [{"name": c.name, "operations": list(om.CALL_OPERATIONS[c.type])}
                          for c in channels if c.type in om.CALL_OPERATIONS],
        "archive_targets": [{"code": t, "label": ARCHIVE_LABELS.get(t, t)} for t in om.ARCHIVE_TARGETS],
        "hooks": [d.name for d in ruleset.declarations if isinstance(d, m.HookDecl)],
    }


# ---------------------------------------------------------------------------- rows → model

class RowInvalid(Exception):
    """A row's field cannot be written: ``path`` (JSON pointer into the rows) and why, in Chinese."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _text(row: dict[str, Any], key: str, path: str) -> str:
    value = row.get(key, "")
    if not isinstance(value, str):
        raise RowInvalid(f"{path}/{key}", "应为文本")
    return value.strip()


def _name(row: dict[str, Any], key: str, path: str, what: str, *, required: bool = True) -> str:
    value = _text(row, key, path)
    if not value and not required:
        return ""
    if not value or not value.isidentifier():
        raise RowInvalid(f"{path}/{key}", f"{what}应为一个名称（中文、字母、数字或下划线，不以数字开头）")
    return value


def _names(row: dict[str, Any], key: str, path: str, what: str) -> tuple[str, ...]:
    value = row.get(key, [])
    if isinstance(value, str):
        value = [v for v in value.replace("，", ",").replace("、", ",").split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RowInvalid(f"{path}/{key}", f"{what}应为名称列表")
    out = tuple(v.strip() for v in value if v.strip())
    for v in out:
        if not v.isidentifier():
            raise RowInvalid(f"{path}/{key}", f"{what}中的「{v}」不是有效的名称")
    return out


def _expr(row: dict[str, Any], key: str, path: str) -> m.Expr | None:
    text = _text(row, key, path)
    if not text:
        return None
    try:
        return dsl.parse_expression(text)
    except RuleError as err:
        raise RowInvalid(f"{path}/{key}", f"写法有误：{message_zh(err.first.message)}") from None


def _args(row: dict[str, Any], path: str) -> tuple[m.Expr, ...]:
    text = _text(row, "args", path)
    if not text:
        return ()
    try:
        call = dsl.parse_expression(f"f({text})")
    except RuleError as err:
        raise RowInvalid(f"{path}/args", f"写法有误：{message_zh(err.first.message)}") from None
    assert isinstance(call, m.Call)
    return call.args


def _kept_effect(text: str, path: str) -> m.Effect:
    """A ``set …`` / ``open …`` effect the form shows as its text, read back from that text."""
    try:
        machine = dsl.parse_text(f"machine m {{ action a from s to s then {text} }}").declarations[0]
    except RuleError:
        raise RowInvalid(path, "请在规则文本中修改此效果") from None
    assert isinstance(machine, m.MachineDecl)
    effects = machine.actions[0].effects
    if len(effects) != 1:
        raise RowInvalid(path, "请在规则文本中修改此效果")
    return effects[0]


def _effect(row: Any, path: str) -> m.Effect:
    if not isinstance(row, dict):
        raise RowInvalid(path, "效果应为对象")
    kind = row.get("kind")
    if kind == "notify":
        message = _text(row, "message", path)
        if not message:
            raise RowInvalid(f"{path}/message", "请填写通知内容")
        return m.Notify(_name(row, "channel", path, "渠道"), message, _expr(row, "to", path))
    if kind == "call":
        return m.CallEffect(_name(row, "channel", path, "渠道"), _name(row, "operation", path, "操作"),
                            _args(row, path))
    if kind == "archive":
        return m.Archive(_name(row, "target", path, "归档目标"))
    if kind == "kept":
        return _kept_effect(_text(row, "text", path), path)
    raise RowInvalid(f"{path}/kind", "效果类型应为 通知、调用 或 归档")


def _deadline(row: dict[str, Any], path: str) -> int | None:
    value = row.get("deadline", 0)
    if value in (None, ""):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RowInvalid(f"{path}/deadline", "时限应为不小于 0 的整数秒")
    return value or None


def _rows(rows: Any, key: str) -> list[Any]:
    value = rows.get(key, [])
    if not isinstance(value, list):
        raise RowInvalid(f"/{key}", "应为列表")
    return value


def build_machine(rows: Any, old: m.MachineDecl) -> m.MachineDecl:
    """The machine declaration the form's ``rows`` describe; what the rows do not show is
    taken from ``old``. Raises :class:`RowInvalid` naming the first field that cannot be written."""
    if not isinstance(rows, dict):
        raise RowInvalid("", "表单内容应为对象")
    data = []
    for i, f in enumerate(_rows(rows, "data")):
        path = f"/data/{i}"
        if not isinstance(f, dict):
            raise RowInvalid(path, "应为对象")
        data.append(m.DataField(_name(f, "name", path, "字段名"), _name(f, "type", path, "类型"),
                                bool(f.get("optional"))))
    states = []
    for i, s in enumerate(_rows(rows, "states")):
        path = f"/states/{i}"
        if not isinstance(s, dict):
            raise RowInvalid(path, "应为对象")
        final = bool(s.get("final"))
        owner = _name(s, "owner", path, "负责人", required=False) or None
        states.append(m.State(_name(s, "name", path, "状态名"), owner, None if final else _deadline(s, path), final))
    actions = []
    for i, a in enumerate(_rows(rows, "actions")):
        path = f"/actions/{i}"
        if not isinstance(a, dict):
            raise RowInvalid(path, "应为对象")
        name = _name(a, "name", path, "动作名")
        sources = _names(a, "from", path, "起始状态")
        if not sources:
            raise RowInvalid(f"{path}/from", "请至少选择一个起始状态")
        effects_rows = a.get("effects", [])
        if not isinstance(effects_rows, list):
            raise RowInvalid(f"{path}/effects", "应为列表")
        effects = tuple(_effect(e, f"{path}/effects/{k}") for k, e in enumerate(effects_rows))
        actions.append(m.Action(name, sources, _name(a, "to", path, "目标状态"), _names(a, "by", path, "执行角色"),
                                _names(a, "requires", path, "需要填写的字段"), _expr(a, "when", path),
                                _name(a, "via", path, "回调", required=False) or None, effects))
    initial = _name(rows, "initial", "", "初始状态", required=False) or None
    title = rows.get("title", old.title)
    return m.MachineDecl(old.name, title if isinstance(title, str) and title else None, tuple(data), initial,
                         tuple(states), tuple(actions), old.deadline_handlers, old.migrations)


@body_kind("ruleset")  # carries the whole draft text
@allow(*EDITORS)
def edit_machine(name: str, decl: str) -> Any:
    """Write the form's rows into machine ``decl`` of the text, changing only the lines that
    changed, and answer the new text, the rows and the checker's problems placed on them."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        raise Unprocessable("请求体应为包含 content 的 JSON 对象", code="invalid_body",
                            details=[{"path": "/content", "message": "required text"}])
    content: str = body["content"]
    try:
        old = next((d for d in dsl.parse_text(content, f"{name}.op").declarations
                    if isinstance(d, m.MachineDecl) and d.name == decl), None)
    except RuleError as err:
        raise Unprocessable(f"规则文本有错误，无法写入表单：第 {err.first.line} 行 "
                            f"{message_zh(err.first.message)}", code="invalid_rules") from None
    if old is None:
        raise Unprocessable(f"规则文本中没有名为「{decl}」的状态机", code="not_found")
    try:
        new = build_machine(body.get("machine"), old)
    except RowInvalid as err:
        raise Unprocessable(f"{_where(body.get('machine'), err.path)}：{err.message}", code="invalid_form",
                            details=[{"path": "/machine" + err.path, "message": err.message}]) from None
    text = replace_declaration(content, decl, "machine", new, f"{name}.op")
    with services().db.session() as s:
        problems = service.check_ruleset(s, name, content=text, fmt="dsl")
    return {"content": text, "machines": machine_forms(text, problems)}


def _where(rows: Any, path: str) -> str:
    """A row named as staff see it: 动作「质检通过」的条件, 状态「待质检」…"""
    parts = path.strip("/").split("/")
    fields = {"when": "条件", "from": "起始状态", "to": "目标状态", "by": "执行角色", "requires": "需要填写",
              "via": "回调", "owner": "负责人", "deadline": "时限", "name": "名称", "type": "类型",
              "channel": "渠道", "operation": "操作", "args": "参数", "message": "通知内容",
              "target": "归档目标", "kind": "效果类型"}
    what = {"actions": "动作", "states": "状态", "data": "数据字段"}
    try:
        if parts[0] in what and isinstance(rows, dict):
            row = rows[parts[0]][int(parts[1])]
            label = f"{what[parts[0]]}「{row.get('name') or int(parts[1]) + 1}」"
            if len(parts) >= 4 and parts[2] == "effects":
                label += f"的第 {int(parts[3]) + 1} 个效果"
                if len(parts) == 5:
                    label += "的" + ("接收人" if parts[4] == "to" else fields.get(parts[4], parts[4]))
            elif len(parts) == 3:
                label += "的" + fields.get(parts[2], parts[2])
            return label
    except (KeyError, IndexError, ValueError, TypeError, AttributeError):
        pass
    return "状态机表单"
