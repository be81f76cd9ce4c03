"""The check, fmt and convert commands as a merchant's CI would run them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dsl.cli import check_command, convert_command, fmt_command

EXAMPLE = Path(__file__).with_name("fixtures") / "architecture_example.op"


def test_check_passes_the_example() -> None:
    result = CliRunner().invoke(check_command, [str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "ok: 1 file checked" in result.output


def test_check_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.op"
    bad.write_text(EXAMPLE.read_text(encoding="utf-8")
                   .replace("customer.level", "customer.levle")
                   .replace("owner 客服组长", "owner 组长"), encoding="utf-8")
    broken = tmp_path / "broken.op"
    broken.write_text("promotion p {\n", encoding="utf-8")
    result = CliRunner().invoke(check_command, [str(bad), str(broken)])
    assert result.exit_code == 1
    assert result.output.count("did you mean 'customer.level'?") == 2
    assert f"{bad}:57:21: unknown role '组长'" in result.output
    assert f"{broken}:1:14: unexpected end of file" in result.output


def test_fmt_check_then_rewrite(tmp_path: Path) -> None:
    target = tmp_path / "rules.op"
    target.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(fmt_command, [str(target), "--check"]).exit_code == 1
    assert runner.invoke(fmt_command, [str(target)]).exit_code == 0
    assert runner.invoke(fmt_command, [str(target), "--check"]).exit_code == 0


def test_convert_to_json_and_back(tmp_path: Path) -> None:
    runner = CliRunner()
    as_json = runner.invoke(convert_command, [str(EXAMPLE), "--to", "json"])
    assert as_json.exit_code == 0
    assert json.loads(as_json.output)["kind"] == "ruleset"
    json_file = tmp_path / "rules.json"
    json_file.write_text(as_json.output, encoding="utf-8")
    back = runner.invoke(convert_command, [str(json_file), "--to", "dsl"])
    assert back.exit_code == 0
    formatted = runner.invoke(convert_command, [str(EXAMPLE), "--to", "dsl"])
    assert back.output == formatted.output
