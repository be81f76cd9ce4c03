"""The audit log of a quote, rendered as readable Chinese text, and the breakdown table.

This module owns the wording only: it reads the JSON log entries produced by
:mod:`engine.pricing.quote` (events ``start``, ``tier``, ``rule``, ``gift``, ``freight``,
``total``) and returns one sentence per entry, e.g.
``第1层 会员等级折扣：规则「金卡95折」条件 customer.level == "金卡"（customer.level="金卡"）成立，
基数 ¥399.00，优惠 ¥19.95，分摊 L1 ¥19.95，商家承担，已采用``. It computes nothing.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from .conditions import MONEY_NAMES
from .money import yuan

__all__ = ["render_breakdown", "render_log", "render_log_text"]

PICK_TEXT = {"best": "择优", "first": "取首个", "all": "全部叠加"}
FUNDER_TEXT = {"merchant": "商家", "platform": "平台"}


def _value(name: str, value: Any) -> str:
    if value is None:
        return "（无）"
    if type(value) is int and name.rsplit(".", 1)[-1] in MONEY_NAMES:
        return yuan(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _inputs(inputs: dict[str, Any]) -> str:
    if not inputs:
        return ""
    return "（" + "，".join(f"{k}={_value(k, v)}" for k, v in inputs.items()) + "）"


def _note(note: dict[str, Any]) -> str:
    kind = note.get("note")
    if kind == "cap":
        return f"封顶 {yuan(note['cap'])}（原应优惠 {yuan(note['asked'])}）"
    if kind == "capped_to_lines":
        return (f"应优惠 {yuan(note['asked'])} 超过可参与行的余额，按余额 "
                f"{yuan(note['available'])} 封顶")
    if kind == "line_limit":
        return (f"行 {note['line_id']} 余额只剩 {yuan(note['granted'])}，该行优惠由 "
                f"{yuan(note['asked'])} 减为 {yuan(note['granted'])}")
    if kind == "moved":
        return f"行 {note['line_id']} 余额不足，{yuan(note['amount'])} 移至其他行"
    if kind == "amount_not_money":
        return f"金额字段的值 {note['value']!r} 不是以分计的金额，按 ¥0.00 处理"
    if kind == "conflict":
        return f"与已采用的规则「{note['with']}」互斥"
    if kind == "not_chosen":
        return f"本层择优采用了「{note['chosen']}」"
    if kind == "not_reached":
        return f"本层取首个，已采用「{note['chosen']}」"
    return json.dumps(note, ensure_ascii=False)


def _split(split: dict[str, int]) -> str:
    return "、".join(f"{line_id} {yuan(amount)}" for line_id, amount in split.items())


def _rule(e: dict[str, Any], title: str) -> str:
    head = f"第{e['tier_no']}层 {title}：规则「{e['rule']}」"
    status = e["status"]
    notes = [_note(n) for n in e.get("notes", ())]
    if status == "conflict":
        if e["condition"] is not None:
            verdict = "成立" if e["outcome"] else "不成立"
            head += f"条件 {e['condition']}{_inputs(e['inputs'])}{verdict}，但"
        return head + "；".join(notes) + "，跳过"
    if status == "not_reached":
        return head + "未评估（" + "；".join(notes) + "）"
    cond = ""
    if e["condition"] is not None:
        verdict = "成立" if e["outcome"] else "不成立"
        cond = f"条件 {e['condition']}{_inputs(e['inputs'])}{verdict}"
    else:
        cond = "无条件"
    if status == "condition_false":
        return f"{head}{cond}，跳过"
    parts = [head + cond]
    if "lines_where" in e:
        eligible = "、".join(str(x) for x in e["eligible"]) or "无"
        parts.append(f"参与行（{e['lines_where']}）：{eligible}")
    if status == "no_eligible_lines":
        parts.append("没有可参与的行，无优惠")
        return "，".join(parts)
    parts.append(f"基数 {yuan(e['base'])}")
    if status == "no_discount":
        parts.append("优惠 ¥0.00")
        parts.extend(notes)
        return "，".join(parts)
    if status == "applied":
        parts.append(f"优惠 {yuan(e['discount'])}")
        if e["split"]:
            parts.append(f"分摊 {_split(e['split'])}")
        parts.extend(notes)
        parts.append(f"{FUNDER_TEXT.get(e['funded_by'], e['funded_by'])}承担，已采用")
        return "，".join(parts)
    # not_chosen
    parts.append(f"可优惠 {yuan(e['offer'])}")
    parts.extend(notes[:-1])
    parts.append("未采用（" + (notes[-1] if notes else "") + "）")
    return "，".join(parts)


def render_log(log: list[dict[str, Any]]) -> list[str]:
    """One Chinese sentence per log entry, in order."""
    out: list[str] = []
    titles: dict[str, str] = {}
    for e in log:
        event = e.get("event")
        if event == "start":
            rs = e["ruleset"]
            version = f"v{rs['version']}" if rs.get("version") is not None else "草稿试算"
            title = f"（{e['title']}）" if e.get("title") and e["title"] != e["promotion"] else ""
            out.append(f"促销「{e['promotion']}」{title}，规则集 {rs['name']} {version}，"
                       f"校验和 {rs['checksum']}；共 {e['lines']} 行，原价合计 {yuan(e['original_total'])}")
        elif event == "tier":
            titles[e["tier"]] = e["title"]
            text = (f"第{e['tier_no']}层 {e['title']}（{e['tier']}，{PICK_TEXT.get(e['pick'], e['pick'])}）："
                    f"当前金额 current_total = {yuan(e['current_total'])}")
            for x in e.get("excluded_lines", ()):
                tags = "、".join(f"「{t}」" for t in x["tags"])
                text += f"；行 {x['line_id']} 带{tags}标签，不参与本层"
            out.append(text)
        elif event == "rule":
            out.append(_rule(e, titles.get(e["tier"], e["tier"])))
        elif event == "gift":
            cond = (f"条件 {e['condition']}{_inputs(e['inputs'])}{'成立' if e['outcome'] else '不成立'}"
                    if e["condition"] is not None else "无条件")
            if e["outcome"]:
                items = "、".join(f"{i['sku_id']} ×{i['qty']}" for i in e["items"])
                out.append(f"赠品「{e['gift']}」{cond}，赠送 {items}（零元赠品行，须随单发出）")
            else:
                out.append(f"赠品「{e['gift']}」{cond}，不赠送")
        elif event == "freight":
            where = f"收货省份 {e['province']}" if e["province"] else "收货省份未知"
            region = f"，匹配地区 {'/'.join(e['region'])}" if e["region"] else "，按默认运费"
            rule = f"基础运费 {yuan(e['base'])}"
            rule += f"，满 {yuan(e['free_over'])} 包邮" if e["free_over"] is not None else "，不包邮"
            out.append(f"运费模板「{e['template']}」：{where}{region}，{rule}；商品应付 "
                       f"{yuan(e['goods'])}，运费 {yuan(e['freight'])}")
        elif event == "total":
            out.append(f"合计：原价 {yuan(e['original'])}，优惠 {yuan(e['discount'])}"
                       f"（商家承担 {yuan(e['merchant_funded'])}，平台承担 {yuan(e['platform_funded'])}），"
                       f"商品应付 {yuan(e['goods'])}，运费 {yuan(e['freight'])}，应付 {yuan(e['payable'])}")
        else:
            out.append(json.dumps(e, ensure_ascii=False))
    return out


def render_log_text(log: list[dict[str, Any]]) -> str:
    return "\n".join(render_log(log))


def render_breakdown(body: dict[str, Any]) -> str:
    """The per-line table of a quote body: original, each discount share, payable; then totals
    and gifts."""
    rows = [("行", "SKU", "数量", "原价", "优惠明细", "应付")]
    for line in body["lines"]:
        detail = "；".join(f"{d['rule']} -{yuan(d['amount'])}（{FUNDER_TEXT.get(d['funded_by'], d['funded_by'])}）"
                          for d in line["discounts"]) or ("赠品" if line.get("gift") else "—")
        rows.append((str(line["line_id"]), line["sku_id"], str(line.get("qty", "")),
                     yuan(line["original"]), detail, yuan(line["payable"])))
    widths = [max(_width(r[c]) for r in rows) for c in range(len(rows[0]))]
    text = ["  ".join(_pad(r[c], widths[c]) for c in range(len(r))).rstrip() for r in rows]
    t = body["totals"]
    text.append("")
    text.append(f"原价 {yuan(t['original'])}  优惠 {yuan(t['discount'])}  运费 {yuan(t['freight'])}  "
                f"应付 {yuan(t['payable'])}")
    for g in body["gifts"]:
        text.append(f"赠品 {g['sku_id']} ×{g['qty']}（{g['rule']}）")
    return "\n".join(text)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
