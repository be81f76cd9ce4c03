"""``price_check tolerance ¥10 or 5%``: the promotion's declared tolerance of the price check,
in both syntaxes — parsed into the model, printed back canonically (round trip), formatted by
``orderpulse fmt`` with its comment kept, and refused with ``file:line:col`` (DSL) or a JSON
pointer (JSON) when it is not a money amount and/or a percent of at most 100%."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import dsl
from dsl import model as m
from dsl.cli import fmt_command
from dsl.errors import RuleError
from engine.pricing import plan_from_content

LIBRARY = Path(__file__).resolve().parents[2] / "templates_library"


def promotion(*items: str) -> str:
    body = "".join(f"    {item}\n" for item in items)
    return f'promotion 核价 "核价测试" {{\n    tier t {{\n        rule "满100减10" {{ amount_off ¥10 }}\n    }}\n{body}}}\n'


def errors(text: str, filename: str = "promo.op") -> list[str]:
    """The first line of every problem: syntax errors from the parser, then the checker's."""
    try:
        ruleset = dsl.parse_text(text, filename)
    except RuleError as exc:
        return [d.format().splitlines()[0] for d in exc.diagnostics]
    return [d.format().splitlines()[0] for d in dsl.check(ruleset)]


def test_the_festival_template_declares_ten_yuan_or_five_percent() -> None:
    text = (LIBRARY / "promotion_apparel_festival.op").read_text(encoding="utf-8")
    ruleset = dsl.parse_text(text, "promotion_apparel_festival.op")
    assert ruleset.promotions[0].price_check == m.PriceCheck(amount=1000, percent=500)
    assert plan_from_content(text, name="festival").tolerance == (1000, 500)
    assert dsl.parse_text(dsl.print_dsl(ruleset)) == ruleset
    assert dsl.load_json(json.dumps(dsl.to_json(ruleset), ensure_ascii=False)) == ruleset


@pytest.mark.parametrize(("written", "model", "printed"), [
    ("price_check tolerance ¥5", m.PriceCheck(500, None), "price_check tolerance ¥5"),
    ("price_check tolerance 2%", m.PriceCheck(None, 200), "price_check tolerance 2%"),
    ("price_check tolerance 2.5% or ￥3.20", m.PriceCheck(320, 250), "price_check tolerance ¥3.20 or 2.5%"),
    ("price_check tolerance 8元 or 1%", m.PriceCheck(800, 100), "price_check tolerance ¥8 or 1%"),
    ("price_check tolerance ¥0", m.PriceCheck(0, None), "price_check tolerance ¥0"),
])
def test_each_form_round_trips_through_dsl_and_json(written: str, model: m.PriceCheck, printed: str) -> None:
    ruleset = dsl.parse_text(promotion(written), "promo.op")
    assert ruleset.promotions[0].price_check == model
    out = dsl.print_dsl(ruleset)
    assert f"    {printed}\n}}" in out
    assert dsl.parse_text(out) == ruleset
    as_json = dsl.to_json(ruleset)
    assert as_json["declarations"][0]["price_check"] == {
        **({"amount": model.amount} if model.amount is not None else {}),
        **({"percent": model.percent} if model.percent is not None else {})}
    assert dsl.load_json(as_json) == ruleset
    assert dsl.check(ruleset) == []


def test_fmt_writes_the_canonical_line_and_keeps_its_comment(tmp_path: Path) -> None:
    target = tmp_path / "promo.op"
    target.write_text('promotion 核价 {\n    tier t { rule "满100减10" { amount_off ¥10 } }\n'
                      "    # 少收 ¥5 以内不算异常\n    price_check   tolerance 2%   or ￥5\n}\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(fmt_command, [str(target), "--check"]).exit_code == 1
    assert runner.invoke(fmt_command, [str(target)]).exit_code == 0
    assert target.read_text(encoding="utf-8") == (
        "promotion 核价 {\n    tier t {\n        rule \"满100减10\" { amount_off ¥10 }\n    }\n"
        "    # 少收 ¥5 以内不算异常\n    price_check tolerance ¥5 or 2%\n}\n")
    assert runner.invoke(fmt_command, [str(target), "--check"]).exit_code == 0


@pytest.mark.parametrize(("written", "problem"), [
    ("price_check tolerance 5", "promo.op:5:27: a tolerance is money like ¥5 or a percent like 2%, got 5"),
    ("price_check tolerance 3d", "promo.op:5:27: a tolerance is money like ¥5 or a percent like 2%, got 3d"),
    ("price_check tolerance ¥5 or ¥6",
     "promo.op:5:33: price_check takes one money amount and one percent, e.g. tolerance ¥5 or 2%"),
    ("price_check tolerance 1% or 2%",
     "promo.op:5:33: price_check takes one money amount and one percent, e.g. tolerance ¥5 or 2%"),
    ("price_check tolerance 120%", "promo.op:5:5: price_check tolerance percent must be at most 100%"),
    ("price_check tolerance ¥1.234", "promo.op:5:27: money has at most 2 decimal places, got 1.234"),
    ("price_check", "promo.op:6:1: unexpected '}'; expected 'tolerance'"),
])
def test_a_bad_tolerance_is_refused_at_its_file_line_and_column(written: str, problem: str) -> None:
    assert errors(promotion(written)) == [problem]


def test_a_second_price_check_is_refused_where_it_is_written() -> None:
    assert errors(promotion("price_check tolerance ¥5", "price_check tolerance 1%")) == [
        "promo.op:6:5: 'price_check' given twice in promotion 核价"]


def test_the_json_form_is_refused_with_json_pointers() -> None:
    base = dsl.to_json(dsl.parse_text(promotion("price_check tolerance ¥5")))
    empty = json.loads(json.dumps(base))
    empty["declarations"][0]["price_check"] = {}
    assert [d.format() for d in dsl.check(dsl.load_json(empty, "promo.json"))] == [
        "promo.json:/declarations/0/price_check: price_check needs a tolerance: a money amount (¥5), "
        "a percent (2%) or both"]
    text = json.loads(json.dumps(base))
    text["declarations"][0]["price_check"] = {"amount": "5"}
    with pytest.raises(RuleError) as caught:
        dsl.load_json(text, "promo.json")
    assert [d.format() for d in caught.value.diagnostics] == [
        'promo.json:/declarations/0/price_check/amount: expected integer, got "5"']
