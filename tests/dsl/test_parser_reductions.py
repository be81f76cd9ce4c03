"""The parser builds model nodes at each reduction: every rule has its reduction, no parse
tree is left behind, positions follow lark's position rule (parentheses included), deep
nesting is refused at the same node as a tree walk finds, and threads do not mix their
parses."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from lark import Token, Tree

import dsl
from dsl import RuleError, parse_expression, parse_text
from dsl import model as m
from dsl.parser import _parser
from dsl.reductions import RULES, Reducer, active

FIXTURES = Path(__file__).with_name("fixtures")
LIBRARY = Path(__file__).resolve().parents[2] / "templates_library"
FILES = sorted([*FIXTURES.glob("*.op"), *LIBRARY.glob("*.op")])


def _rule_names(start: str) -> set[str]:
    """Names lark calls back: every alias, and every rule that is not always folded into
    its only child (``?rule`` alternatives that keep a single symbol)."""
    names = set()
    for rule in _parser(start).rules:
        name = str(rule.alias or rule.options.template_source or rule.origin.name)
        kept = [s for s in rule.expansion if not (s.is_term and s.filter_out)]
        if name.startswith(("_", "$")) or (rule.options.expand1 and not rule.alias
                                            and len(kept) == 1):
            continue
        names.add(name)
    return names


def test_every_grammar_rule_has_a_reduction_and_no_reduction_is_stale() -> None:
    names = _rule_names("start") | _rule_names("expr")
    assert names - RULES == set()
    assert RULES - names == set()


def _walk(value: object, seen: list[object]) -> None:
    seen.append(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name not in ("locs", "text"):
                _walk(getattr(value, f.name), seen)
    elif isinstance(value, tuple):
        for item in value:
            _walk(item, seen)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_lark_object_is_left_in_the_model(path: Path) -> None:
    seen: list[object] = []
    _walk(dsl.load_file(path), seen)
    assert not [v for v in seen if isinstance(v, (Tree, Token))]


def _tree_height(tree: object) -> int:
    best, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, Tree):
            continue
        while node.data == "paren":
            node = node.children[1]
        best = max(best, depth)
        stack.extend((child, depth + 1) for child in node.children)
    return best


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_tracked_heights_equal_the_parse_tree_heights(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    with active(Reducer(path.name, text)) as reducer:
        result = _parser("start").parse(text)
    assert reducer.height(result) == _tree_height(_parser("start", "tree").parse(text))


def test_parenthesised_operand_starts_at_its_parenthesis() -> None:
    expr = parse_expression("x > 1 and (a + b) * c >= ¥1")
    assert isinstance(expr, m.BoolOp)
    compare = expr.operands[1]
    assert isinstance(compare, m.Compare) and (compare.line, compare.col) == (1, 11)
    product = compare.left
    assert isinstance(product, m.Arith) and (product.col, product.op) == (11, "*")
    inner = product.left
    assert isinstance(inner, m.Arith) and (inner.col, inner.op) == (12, "+")
    assert (expr.col, expr.operands[0].col) == (1, 1)


def test_keyword_positions_start_their_nodes() -> None:
    text = ('channel 群 wecom { key env K }\nmachine m {\n  data { a: text }\n  initial s\n'
            '  state s owner 客服 deadline 1h\n  state t final\n'
            '  action go from s to t by 客服 when not (a == "x")\n'
            '      then notify 群 "ok", set a = -(1)\n}\n')
    machine = parse_text(text).machines[0]
    action = machine.actions[0]
    assert (machine.line, machine.col) == (2, 1)
    assert (action.line, action.col) == (7, 3)
    assert isinstance(action.when, m.Not) and (action.when.line, action.when.col) == (7, 36)
    notify, set_field = action.effects
    assert (notify.line, notify.col) == (8, 12)
    assert isinstance(set_field, m.SetField) and set_field.col == 27
    assert isinstance(set_field.value, m.Neg) and set_field.value.col == 35


def _risk(condition: str) -> str:
    return f'risk r {{\n    when {condition}\n    then flag "x"\n}}\n'


def _errors(fn: object, text: str) -> list[tuple[int, int, str]]:
    with pytest.raises(RuleError) as info:
        fn(text)  # type: ignore[operator]
    return [(d.line, d.col, d.message) for d in info.value.diagnostics]


def test_deep_nesting_is_refused_at_the_node_a_tree_walk_finds() -> None:
    deep = "expression nests deeper than 150 levels"
    # the 149th 'not' is the first node at depth 151 (start, risk, then the chain)
    assert _errors(parse_text, _risk("not " * 200 + "x")) == [(2, 602, deep)]
    # 147 terms: the right-hand operand of the innermost '+' is the first one found
    assert _errors(parse_text, _risk(" + ".join(["a"] * 147) + " > 1")) == [(2, 14, deep)]
    parse_text(_risk(" + ".join(["a"] * 146) + " > 1"))
    assert _errors(parse_expression, "-" * 149 + "x") == [(1, 150, deep)]
    parse_expression("-" * 148 + "x")


def test_parses_in_threads_do_not_mix() -> None:
    good = [p.read_text(encoding="utf-8") for p in FILES]
    bad = [t.replace("¥", "¥1.234 ") for t in good if "¥" in t]
    inputs = (good + bad) * 4

    def outcome(text: str) -> object:
        try:
            return dsl.to_json(parse_text(text, "t.op"))
        except RuleError as exc:
            return [(d.line, d.col, d.message) for d in exc.diagnostics]

    expected = [outcome(t) for t in inputs]
    with ThreadPoolExecutor(max_workers=6) as pool:
        assert list(pool.map(outcome, inputs)) == expected
