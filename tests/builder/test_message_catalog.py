"""Every message the checker, the parser and the mapping runtime can write reaches the builder in
Chinese: one sample of each is built from their source (each ``self.error(…, f"…")``,
``Diagnostic(…)``, ``UnitError``/``FieldError``/``ConversionError``), so a message added later
without its Chinese sentence fails here, naming it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from builder_ui.message_catalog import message_zh, reason_zh

ROOT = Path(__file__).resolve().parents[2]
CHECKER_SOURCES = ["dsl/checker.py", "dsl/machine_checks.py", "dsl/typing.py", "dsl/reductions.py", "dsl/units.py",
                   "dsl/parser.py", "dsl/json_io.py", "dsl/editing.py"]
REASON_SOURCES = ["engine/orders/mapping_runtime.py", "dsl/conversions.py"]

# What a placeholder holds in a sample, by the words of its expression (first match wins).
SAMPLES = [
    ("suggest", "; did you mean '乙'?"), ("unit_name", "money"), ("_describe_expected", "a name, 'to'"),
    ("_describe_token", "'x'"), ("_EXAMPLES", "¥300"), ("MAX_", "64"), ("describe(", '"12.345"'),
    ("joiner", "and"), ("join", "甲, 乙"), ("hint", ""), ("verb", "add"), ("'s' if", "s"), ("channel.type", "wms"),
    ("callable_types", "wms"), ("type(exc).__name__", "KeyError"), ("len(", "3"), ("scale_digits", "2"),
    ("number", "1.234"), ("want", "money"), ("what", "a count"), ("unit", "seconds"), ("!r", "'甲'"),
]


def _sample(node: ast.expr, source: str) -> str | None:
    """The message ``node`` writes with each placeholder filled in (None: not a message)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _sample(node.left, source), _sample(node.right, source)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.JoinedStr):
        out = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                code = ast.get_source_segment(source, part.value) or ""
                if part.conversion == ord("r"):
                    code += "!r"
                out.append("yuan" if code == "name" else next((v for k, v in SAMPLES if k in code), "甲"))
        return "".join(out)
    return None


def _messages(path: str, calls: dict[str, int]) -> list[str]:
    source = (ROOT / path).read_text(encoding="utf-8")
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            index = calls.get(name)
            if index is not None and len(node.args) > index:
                text = _sample(node.args[index], source)
                if text is not None:
                    found.append(text)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "message" for t in node.targets):
            text = _sample(node.value, source)
            if text is not None:
                found.append(text)
    return sorted(set(found))


CHECKER_MESSAGES = sorted({m for p in CHECKER_SOURCES
                           for m in _messages(p, {"error": 1, "Diagnostic": 3, "UnitError": 0, "at": 4})})
CHECKER_MESSAGES += [  # the checker's hints on mapped types, and a message of each parser error kind
    "'receiver.phone' is money, got text; write yuan(FIELD) for yuan or fen(FIELD) for fen",
    "'paid_at' is time, got text; write from_shanghai(FIELD), from_unix(FIELD) or from_unix_ms(FIELD)",
    "unknown period 'weak'; use hour, day, week or month, did you mean 'week'?",
    "unexpected 'then'; expected 'to', a name", "unexpected end of file; expected '}'",
]
REASON_MESSAGES = sorted({m for p in REASON_SOURCES for m in _messages(p, {"FieldError": 1, "ConversionError": 0})})
REASON_MESSAGES += ['"1700000000000" is not a time in unix seconds between 2000 and 2100 (milliseconds? use from_unix_ms)']

QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`|「[^」]*」|\([a-z_]+\(\)[^)]*\)")
ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,;:]+[A-Za-z]{2,}")


def _still_english(text: str) -> bool:
    return bool(ENGLISH.search(QUOTED.sub("", text)))


def test_the_samples_cover_the_checker_and_the_mapping_runtime() -> None:
    assert len(CHECKER_MESSAGES) >= 100 and len(REASON_MESSAGES) >= 25
    assert "action '甲' requires unknown data field '甲'; did you mean '乙'?" in CHECKER_MESSAGES
    assert '"12.345" is not a yuan amount' in REASON_MESSAGES


@pytest.mark.parametrize("message", CHECKER_MESSAGES)
def test_every_checker_message_reads_in_chinese(message: str) -> None:
    text = message_zh(message)
    assert text != message, f"no Chinese sentence for: {message}"
    assert not _still_english(text), f"{message!r} → {text!r}"


@pytest.mark.parametrize("reason", REASON_MESSAGES)
def test_every_mapping_failure_reason_reads_in_chinese(reason: str) -> None:
    text = reason_zh(reason)
    assert text != reason, f"no Chinese sentence for: {reason}"
    assert not _still_english(text), f"{reason!r} → {text!r}"


def test_did_you_mean_and_names_are_kept_as_written() -> None:
    assert message_zh("action '质检通过' requires unknown data field 'qc_note'; did you mean 'qc_result'?") == \
        "动作 质检通过 需要填写的 qc_note 不是已声明的数据字段；你是不是想写 qc_result？"
    assert message_zh("unknown archive target 'finance_vouchr'; known: finance_voucher; did you mean "
                      "'finance_voucher'?") == "未知归档目标 finance_vouchr；可用：finance_voucher；你是不是想写 finance_voucher？"
    assert message_zh("state '待复核' is not final and has no action leading out") == \
        "状态 待复核 不是终态，却没有任何动作离开它"
    assert message_zh("cannot compare money with list of text") == "不能比较金额与文本列表"
    assert reason_zh('"12.345" has more than 2 decimals; a yuan amount has at most 2 (fen)') == \
        '"12.345" 超过 2 位小数；以元计的金额最多 2 位小数（到分）'
    assert reason_zh("missing") == "缺少此值"
