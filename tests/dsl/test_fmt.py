"""Canonical form: durations are written as people write deadlines (48h stays 48h, a week is
7d), ``fmt --check`` passes on canonical files, and formatting is a fixed point for every
fixture and every library template."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import dsl
from dsl.cli import fmt_command
from dsl.units import decode_number, duration_text

FIXTURES = Path(__file__).with_name("fixtures")
LIBRARY = Path(__file__).resolve().parents[2] / "templates_library"
FILES = sorted([*FIXTURES.glob("*.op"), *LIBRARY.glob("*.op")])

MINUTE, HOUR, DAY = 60, 3600, 86400


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (30, "30s"), (90, "90s"), (61, "61s"),
    (60, "1m"), (5 * MINUTE, "5m"), (30 * MINUTE, "30m"), (90 * MINUTE, "90m"),
    (HOUR, "1h"), (2 * HOUR, "2h"), (DAY, "24h"), (2 * DAY, "48h"), (3 * DAY, "72h"),
    (6 * DAY, "144h"), (6 * DAY + 23 * HOUR, "167h"), (7 * DAY + 2 * HOUR, "170h"),
    (7 * DAY, "7d"), (8 * DAY, "8d"), (15 * DAY, "15d"), (30 * DAY, "30d"),
])
def test_canonical_duration(seconds: int, text: str) -> None:
    assert duration_text(seconds) == text
    assert decode_number(text) == (seconds, "duration")


def _machine(deadline: str, window: str = "1h") -> str:
    return (f'channel 群 wecom {{ key env K }}\n\n'
            f'machine m {{\n    initial a\n    state a owner 客服 deadline {deadline}\n'
            f'    state b final\n    action go from a to b by 客服\n}}\n\n'
            f'risk r {{\n    when count(orders by buyer_phone within {window}) >= 5\n'
            f'    then flag "x"\n}}\n')


@pytest.mark.parametrize(("written", "canonical"), [
    ("48h", "48h"), ("2d", "48h"), ("2880m", "48h"), ("24h", "24h"), ("1d", "24h"),
    ("168h", "7d"), ("7d", "7d"), ("30d", "30d"), ("60m", "1h"), ("3600s", "1h"),
])
def test_deadlines_print_in_hours_below_a_week(written: str, canonical: str) -> None:
    printed = dsl.print_dsl(dsl.parse_text(_machine(written)))
    assert printed == _machine(canonical)


def test_fmt_check_passes_on_a_canonical_file(tmp_path: Path) -> None:
    target = tmp_path / "rules.op"
    target.write_text(_machine("48h", "30m"), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(fmt_command, [str(target), "--check"])
    assert result.exit_code == 0, result.output
    assert result.output == f"{target}: ok\n"
    result = runner.invoke(fmt_command, [str(target)])
    assert (result.exit_code, result.output) == (0, f"{target}: unchanged\n")


def test_fmt_rewrites_days_below_a_week_to_hours(tmp_path: Path) -> None:
    target = tmp_path / "rules.op"
    target.write_text(_machine("2d"), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(fmt_command, [str(target), "--check"]).exit_code == 1
    assert runner.invoke(fmt_command, [str(target)]).output == f"{target}: reformatted\n"
    assert target.read_text(encoding="utf-8") == _machine("48h")
    assert runner.invoke(fmt_command, [str(target), "--check"]).exit_code == 0


def test_every_fixture_and_library_template_is_covered() -> None:
    names = {p.name for p in FILES}
    assert "architecture_example.op" in names
    assert len([p for p in FILES if p.parent == LIBRARY]) >= 9


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fmt_is_a_fixed_point(path: Path) -> None:
    once = dsl.print_dsl(dsl.parse_text(path.read_text(encoding="utf-8"), str(path)))
    twice = dsl.print_dsl(dsl.parse_text(once, "formatted.op"))
    assert twice == once


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fmt_command_twice_leaves_the_file_unchanged(path: Path, tmp_path: Path) -> None:
    target = tmp_path / path.name
    target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(fmt_command, [str(target)]).exit_code == 0
    first = target.read_text(encoding="utf-8")
    result = runner.invoke(fmt_command, [str(target)])
    assert (result.exit_code, result.output) == (0, f"{target}: unchanged\n")
    assert target.read_text(encoding="utf-8") == first
    assert runner.invoke(fmt_command, [str(target), "--check"]).exit_code == 0
