"""The architecture example: it parses, checks clean, round-trips through DSL and JSON, and
its JSON form validates against the bundle schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import dsl
from dsl import model as m
from dsl import order_model
from dsl.json_io import node_to_json
from dsl.schema_gen import all_documents, render

FIXTURES = Path(__file__).with_name("fixtures")
EXAMPLE = FIXTURES / "architecture_example.op"
ALL_FILES = sorted(FIXTURES.glob("*.op"))


@pytest.fixture(scope="module")
def example() -> m.Ruleset:
    return dsl.load_file(EXAMPLE)


def test_example_parses_every_declaration_kind(example: m.Ruleset) -> None:
    kinds = [d.kind for d in example.declarations]
    assert kinds == ["source", "mapping", "cleaning", "promotion", "channel", "channel",
                     "channel", "channel", "channel", "hook", "machine", "alert", "risk"]


def test_example_checks_clean(example: m.Ruleset) -> None:
    assert dsl.check(example) == []


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_dsl_round_trip(path: Path) -> None:
    ruleset = dsl.load_file(path)
    printed = dsl.print_dsl(ruleset)
    assert dsl.parse_text(printed, "printed.op") == ruleset
    assert dsl.print_dsl(dsl.parse_text(printed)) == printed


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_json_round_trip(path: Path) -> None:
    ruleset = dsl.load_file(path)
    as_json = dsl.to_json(ruleset)
    text = json.dumps(as_json, ensure_ascii=False)
    assert dsl.load_json(text) == ruleset
    assert dsl.load_json(as_json) == ruleset


def test_example_json_validates_against_bundle_schema(example: m.Ruleset) -> None:
    schema = json.loads((Path(dsl.__file__).parent / "schemas" / "ruleset.schema.json")
                        .read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    errors = list(Draft202012Validator(schema).iter_errors(dsl.to_json(example)))
    assert errors == []


def test_each_declaration_validates_against_its_own_schema(example: m.Ruleset) -> None:
    docs = all_documents()
    for decl in example.declarations:
        schema = docs[f"{decl.kind}.schema.json"]
        Draft202012Validator.check_schema(schema)
        assert list(Draft202012Validator(schema).iter_errors(node_to_json(decl))) == []


def test_committed_schemas_match_the_model() -> None:
    folder = Path(dsl.__file__).parent / "schemas"
    for name, doc in all_documents().items():
        assert (folder / name).read_text(encoding="utf-8") == render(doc), name


def test_money_percent_and_duration_are_exact_integers(example: m.Ruleset) -> None:
    promo = example.promotions[0]
    gold = promo.tier("member_discount").rules[0]  # type: ignore[union-attr]
    assert gold.discount == m.PercentOff(500, gold.discount.lines_where)  # type: ignore[union-attr]
    coupon = promo.tier("store_coupon").rules[0]  # type: ignore[union-attr]
    assert coupon.discount.amount == m.Literal(4000, "money")  # type: ignore[union-attr]
    machine = example.machines[0]
    assert machine.state("待退货").deadline == 7 * 86400  # type: ignore[union-attr]
    src = example.declarations[0]
    assert src.retry == (30, 120, 300)  # type: ignore[union-attr]
    text = 'promotion p {\n tier t { rule "x" when current_total >= 300元 { amount_off ¥12.50 } }\n}'
    rule = dsl.parse_text(text).promotions[0].tiers[0].rules[0]
    assert rule.when.right == m.Literal(30000, "money")  # type: ignore[union-attr]
    assert rule.discount.amount == m.Literal(1250, "money")  # type: ignore[union-attr]


def test_positions_are_kept_but_do_not_take_part_in_equality(example: m.Ruleset) -> None:
    machine = example.machines[0]
    assert (machine.line, machine.col) == (51, 1)
    reprinted = dsl.parse_text("\n\n" + dsl.print_dsl(example))
    assert reprinted.machines[0].line != machine.line
    assert reprinted == example


def test_machine_model_carries_what_the_workflow_engine_needs(example: m.Ruleset) -> None:
    machine = example.machines[0]
    qc = next(a for a in machine.actions if a.name == "质检通过")
    assert qc.sources == ("待质检",) and qc.target == "待处理" and qc.by == ("仓储",)
    assert qc.requires == ("qc_result",)
    assert qc.effects == (m.Notify("客服组长群", "售后单 {id} 质检通过，请处理"),)
    final = next(a for a in machine.actions if a.name == "财务终审")
    assert final.via_webhook == "dingtalk_approval"
    assert final.effects == (m.Archive("finance_voucher"),)
    assert machine.deadline_handlers[0].state == "待质检"
    assert machine.final_states == ("已关闭",)
    assert order_model.canonical_role("客服组长") == "cs_lead"


def test_promotion_features_beyond_the_example_round_trip() -> None:
    text = '''promotion 女装节 "女装节大促" {
    order member > coupon > platform
    tier member pick best {
        rule "金卡" when customer.level == "金卡" { percent_off 5% on lines where category != "礼品卡" cap ¥50 }
    }
    tier coupon pick first funded by merchant {
        rule "每满300减30" when original_total >= ¥300 { every ¥300 off ¥30 cap ¥150 split by amount }
        rule "一口价" { fixed_price ¥99 on lines where sku_id == "SKU-1" }
    }
    tier platform funded by platform {
        rule "红包" when order.red_packet > 0 funded by platform { amount_off order.red_packet split by amount }
    }
    gift "满399赠" when current_total >= ¥399 { add sku "GIFT-1" qty 1  add sku "GIFT-2" qty 2 }
    exclude lines tagged "秒杀" from coupon, platform
    exclude rule "每满300减30" with rule "一口价"
    freight 标准运费 {
        base ¥8 free over ¥99
        region 新疆, 西藏 base ¥25 free over ¥299
        region 内蒙古 base ¥15
    }
}
'''
    ruleset = dsl.parse_text(text, "p.op")
    assert dsl.check(ruleset) == []
    assert dsl.print_dsl(ruleset) == text
    assert dsl.load_json(dsl.to_json(ruleset)) == ruleset
    promo = ruleset.promotions[0]
    assert [t.name for t in promo.ordered_tiers] == ["member", "coupon", "platform"]
    assert promo.freight[0].regions[0] == m.RegionFreight(("新疆", "西藏"), 2500, 29900)
    assert promo.exclusions == (m.TagExclusion("秒杀", ("coupon", "platform")),
                                m.RuleConflict("每满300减30", "一口价"))
    every = promo.tiers[1].rules[0].discount
    assert every == m.EveryOff(30000, 3000, 15000, "amount")


def test_machine_features_beyond_the_example_round_trip() -> None:
    text = '''channel 群 wecom { key env K }

machine m "订单" {
    data { order_id: text, amount: money? }
    initial 新建
    state 新建 owner 客服 deadline 30m
    state 完成 final
    action 完成它 from 新建 to 完成 by 客服, admin when amount > ¥0
        then set amount = ¥1, open m
    on deadline 新建 do 完成它 notify 群 "单 {order_id} 超时"
    migrate 旧状态 to 新建
}
'''
    ruleset = dsl.parse_text(text, "m.op")
    assert dsl.check(ruleset) == []
    assert dsl.print_dsl(ruleset) == text
    assert dsl.load_json(dsl.to_json(ruleset)) == ruleset
    machine = ruleset.machines[0]
    assert machine.migrations == (m.StateMapping("旧状态", "新建"),)
    assert machine.deadline_handlers[0].action == "完成它"
