"""``orderpulse price ORDER.json --rules FILE [--json]``: the breakdown and the Chinese log, the
exact quote body with ``--json``, and clear errors with exit status 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from engine.cli import main
from engine.pricing import quote_order
from engine.pricing.loading import plan_from_content, quote_json
from tests.pricing.helpers import line, order

TEMPLATE = Path(__file__).resolve().parents[2] / "templates_library" / "promotion_apparel_festival.op"
ORDER = order(line("L1", 45900, "连衣裙"), line("L2", 29900, "针织衫"),
              line("L3", 5900, "T恤", tags=["秒杀"]), level="金卡", red_packet=1000,
              province="新疆维吾尔自治区")


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["price", *args], catch_exceptions=False)


def write_order(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "order.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_price_json_prints_exactly_the_quote_body(tmp_path: Path) -> None:
    result = run(write_order(tmp_path, ORDER), "--rules", str(TEMPLATE), "--json")
    assert result.exit_code == 0, result.output
    plan = plan_from_content(TEMPLATE.read_text(encoding="utf-8"), name="promotion_apparel_festival")
    assert result.output == quote_json(quote_order(plan, ORDER)) + "\n"
    body = json.loads(result.output)
    assert body["ruleset"]["name"] == "promotion_apparel_festival" and body["ruleset"]["version"] is None
    assert body["totals"]["payable"] == 68910


def test_price_json_matches_the_api_body_but_for_the_ruleset_name(tmp_path: Path, client: Any,
                                                                 tokens: dict[str, str]) -> None:
    cli = json.loads(run(write_order(tmp_path, ORDER), "--rules", str(TEMPLATE), "--json").output)
    api = client.post("/api/v1/pricing/quote", json={"order": ORDER, "rules": TEMPLATE.read_text(encoding="utf-8")},
                      headers={"Authorization": f"Bearer {tokens['cs']}"}).get_json()
    for body in (cli, api):
        body["ruleset"]["name"] = body["log"][0]["ruleset"]["name"] = "-"
    assert cli == api


def test_price_prints_the_breakdown_and_the_chinese_log(tmp_path: Path) -> None:
    result = run(write_order(tmp_path, ORDER), "--rules", str(TEMPLATE))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "金卡95折 -¥22.95（商家）" in out
    assert "原价 ¥817.00  优惠 ¥127.90  运费 ¥0.00  应付 ¥689.10" in out
    assert "赠品 GIFT-SCARF ×1（满399赠丝巾）" in out
    assert "计算过程：" in out
    assert "第2层 店铺券：规则「满500减80」条件 current_total >= ¥500（current_total=¥779.10）成立" in out
    assert ("规则「跨店每满300减30」条件 original_total >= ¥300（original_total=¥817.00）成立，"
            "但与已采用的规则「满500减80」互斥，跳过") in out


def test_price_reports_a_bad_order_with_field_paths(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(ORDER))
    bad["lines"][2]["qty"] = 0
    path = write_order(tmp_path, bad)
    result = CliRunner().invoke(main, ["price", path, "--rules", str(TEMPLATE)])
    assert result.exit_code == 1
    assert f"{path}:/lines/2/qty: must be a positive whole number, got 0" in result.output


def test_price_reports_rule_errors_with_line_and_caret(tmp_path: Path) -> None:
    rules = tmp_path / "broken.op"
    rules.write_text('promotion p {\n    tier t { rule "r" when customer.levle == "金卡" { percent_off 5% } }\n}\n',
                     encoding="utf-8")
    result = CliRunner().invoke(main, ["price", write_order(tmp_path, ORDER), "--rules", str(rules)])
    assert result.exit_code == 1
    assert f"{rules}:2:" in result.output and "levle" in result.output and "^" in result.output


def test_price_reports_unreadable_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["price", str(tmp_path / "none.json"), "--rules", str(TEMPLATE)])
    assert result.exit_code == 1 and "cannot read" in result.output
    not_json = tmp_path / "order.json"
    not_json.write_text("{", encoding="utf-8")
    result = CliRunner().invoke(main, ["price", str(not_json), "--rules", str(TEMPLATE)])
    assert result.exit_code == 1 and "not a JSON order" in result.output
