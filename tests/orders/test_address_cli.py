"""``orderpulse address TEXT... [--json]`` and ``-`` for stdin: the columns, the JSON objects,
and exit status 1 when an address names no province."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from engine.cli import main


def run(*args: str, stdin: str | None = None) -> Any:
    return CliRunner().invoke(main, ["address", *args], input=stdin, catch_exceptions=False)


def test_text_prints_one_tab_separated_line_per_address() -> None:
    result = run("浙江省杭州市西湖区文三路90号", "北京朝阳区建国路88号")
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert [row[:5] for row in lines] == [
        ["浙江省杭州市西湖区文三路90号", "浙江省", "杭州市", "西湖区", "330106"],
        ["北京朝阳区建国路88号", "北京市", "北京市", "朝阳区", "110105"],
    ]
    lat, lng = float(lines[0][5]), float(lines[0][6])
    assert 30.0 < lat < 30.5 and 119.9 < lng < 120.4


def test_json_prints_a_list_of_objects_with_the_input() -> None:
    result = run("杭州临平区南苑街道", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert len(body) == 1
    row = body[0]
    assert set(row) == {"input", "province", "city", "district", "adcode", "lat", "lng"}
    assert (row["input"], row["province"], row["city"], row["district"], row["adcode"]) == (
        "杭州临平区南苑街道", "浙江省", "杭州市", "临平区", "330113")
    assert isinstance(row["lat"], float) and isinstance(row["lng"], float)


def test_dash_reads_one_address_per_line_from_stdin_skipping_blank_lines() -> None:
    result = run("-", "--json", stdin="山东省莱芜市莱城区凤城西大街\n\n广东省东莞市长安镇\n")
    assert result.exit_code == 0, result.output
    assert [(r["input"], r["city"], r["district"], r["adcode"]) for r in json.loads(result.output)] == [
        ("山东省莱芜市莱城区凤城西大街", "济南市", "莱芜区", "370116"),
        ("广东省东莞市长安镇", "东莞市", "东莞市", "441900"),
    ]


def test_an_unrecognised_address_is_printed_with_nulls_and_exits_1() -> None:
    result = CliRunner().invoke(main, ["address", "--json", "hello", "浙江省杭州市"],
                                 catch_exceptions=False)
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body[0] == {"input": "hello", "province": None, "city": None, "district": None, "adcode": None,
                       "lat": None, "lng": None}
    assert (body[1]["city"], body[1]["district"], body[1]["adcode"]) == ("杭州市", "", "330100")
    assert "1 of 2 addresses not recognised" in result.stderr


def test_no_address_is_a_usage_error() -> None:
    assert run().exit_code == 2
