"""``orderpulse map PAYLOAD.json --rules FILE... --mapping NAME [--json]`` on a Taobao trade, a
PDD order and a Douyin order written from the platforms' field lists: exact fen, UTC
instants, merchant SKU codes, canonical status; ``--json`` is the preview API's body; errors
name the payload path and the mapping line, with exit status 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from engine.cli import main
from engine.orders.preview import RulesText, order_rules, preview_body, preview_json
from tests.orders.helpers import PAYLOADS, TEMPLATE, TEMPLATE_PATH, payload, template_line


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["map", *args], catch_exceptions=False)


def mapped(file: str, mapping: str) -> dict[str, Any]:
    result = run(str(PAYLOADS / file), "--rules", str(TEMPLATE_PATH), "--mapping", mapping, "--json")
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.output)
    return body


def test_taobao_trade() -> None:
    body = mapped("taobao_trade_paid.json", "taobao")
    order = body["order"]
    assert body["mapping"] == "taobao" and body["ruleset"]["name"] == "sources_six_channels"
    assert (order["channel"], order["order_id"], order["status"]) == ("taobao", "3812345678901234567",
                                                                      "awaiting_shipment")
    assert order["created_at"] == "2024-03-08T12:15:42+00:00" and order["paid_at"] == "2024-03-08T12:16:05+00:00"
    assert order["payment"]["paid_amount"] == 51760 and order["freight"] == 0
    assert [(ln["sku_id"], ln["qty"], ln["unit_price"], ln["paid_amount"]) for ln in order["lines"]] == [
        ("TEA-LJ-250", 2, 19900, 36913), ("SCARF-SILK", 1, 16000, 14847)]
    assert body["dropped"] is None


def test_pdd_order() -> None:
    order = mapped("pdd_order_info.json", "pdd")["order"]
    assert (order["channel"], order["order_id"], order["status"]) == ("pdd", "240308-512345678901234",
                                                                      "awaiting_shipment")
    assert order["payment"]["paid_amount"] == 19880 and order["updated_at"] == "2024-03-08T13:40:16+00:00"
    assert [(ln["sku_id"], ln["qty"], ln["unit_price"]) for ln in order["lines"]] == [
        ("TEA-PE-357", 1, 12880), ("TSHIRT-W-M", 2, 5000)]


def test_douyin_order_and_the_human_form() -> None:
    order = mapped("douyin_shop_order_detail.json", "douyin")["order"]
    assert (order["channel"], order["status"], order["created_at"]) == ("douyin", "awaiting_shipment",
                                                                        "2024-03-08T12:30:00+00:00")
    assert [(ln["sku_id"], ln["paid_amount"]) for ln in order["lines"]] == [("TEA-LJ-250", 18700),
                                                                           ("TSHIRT-W-M", 13000)]
    text = run(str(PAYLOADS / "douyin_shop_order_detail.json"), "--rules", str(TEMPLATE_PATH),
               "--mapping", "douyin").output
    assert "订单 douyin 6920123456789012345  待发货" in text
    assert "  - TEA-LJ-250 × 1  单价 ¥199.00  金额 ¥199.00  实付 ¥187.00" in text


def test_json_output_is_exactly_the_preview_body() -> None:
    result = run(str(PAYLOADS / "pdd_order_info.json"), "--rules", str(TEMPLATE_PATH), "--mapping", "pdd", "--json")
    rules = order_rules([RulesText(TEMPLATE, "sources_six_channels")])
    assert result.output == preview_json(preview_body(rules, "pdd", payload("pdd_order_info.json"))) + "\n"


def test_rules_from_several_files(tmp_path: Path) -> None:
    sources, rest = TEMPLATE.split("\n# ---------------------------------------------------------------- 抖店", 1)
    (tmp_path / "sources.op").write_text(sources, encoding="utf-8")
    (tmp_path / "mappings.op").write_text("# 抖店" + rest, encoding="utf-8")
    result = run(str(PAYLOADS / "douyin_shop_order_detail.json"), "--rules", str(tmp_path / "sources.op"),
                 str(tmp_path / "mappings.op"), "--mapping", "douyin", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ruleset"]["name"] == "mappings"


def test_a_bad_payload_names_path_and_line(tmp_path: Path) -> None:
    data = payload("taobao_trade_paid.json")
    data["orders"]["order"][1]["price"] = "abc"
    bad = tmp_path / "trade.json"
    bad.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    result = CliRunner().invoke(main, ["map", str(bad), "--rules", str(TEMPLATE_PATH), "--mapping", "taobao"])
    line = template_line("taobao", "price = yuan(price)")
    assert result.exit_code == 1
    assert result.output == (f'{bad}: $.orders.order[1].price: "abc" is not a yuan amount '
                             f"(mapping taobao, line {line})\n")


def test_unreadable_inputs_and_unknown_mappings(tmp_path: Path) -> None:
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe{}")
    result = CliRunner().invoke(main, ["map", str(binary), "--rules", str(TEMPLATE_PATH), "--mapping", "pdd"])
    assert result.exit_code == 1 and "not UTF-8" in result.output
    result = CliRunner().invoke(main, ["map", str(PAYLOADS / "pdd_order_info.json"), "--rules", str(TEMPLATE_PATH),
                                       "--mapping", "jd"])
    assert result.exit_code == 1 and "no mapping 'jd' in the rules" in result.output
    broken = tmp_path / "broken.op"
    broken.write_text("mapping pdd {\n    order_idd = order_sn\n}\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["map", str(PAYLOADS / "pdd_order_info.json"), "--rules", str(broken),
                                       "--mapping", "pdd"])
    assert result.exit_code == 1
    assert f"{broken}:2:5: unknown order field 'order_idd'; did you mean 'order_id'?" in result.output


def test_regions_are_normalized_with_the_address_data_set() -> None:
    """Runs where engine.orders.regions (the maintained offline data set) is installed."""
    import pytest

    pytest.importorskip("engine.orders.regions")
    for file, mapping, expected in [
        ("taobao_trade_paid.json", "taobao", ("浙江省", "杭州市", "临平区", "330113")),
        ("taobao_trade_refund_county.json", "taobao", ("湖北省", "仙桃市", "仙桃市", "429004")),
        ("pdd_order_info.json", "pdd", ("上海市", "上海市", "浦东新区", "310115")),
        ("douyin_shop_order_detail.json", "douyin", ("重庆市", "重庆市", "璧山区", "500120")),
        ("miniprogram_order.json", "miniprogram", ("山东省", "济南市", "莱芜区", "370116")),
    ]:
        body = mapped(file, mapping)
        receiver = body["order"]["receiver"]
        assert (receiver["province"], receiver["city"], receiver["district"], receiver["adcode"]) == expected, file
        assert isinstance(receiver["lat"], float) and isinstance(receiver["lng"], float)
        assert body["notes"] == []
