"""Every template in the library is a checked ruleset that round-trips through DSL and JSON
and validates against the bundle schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import dsl

LIBRARY = Path(__file__).resolve().parents[2] / "templates_library"
TEMPLATES = sorted(LIBRARY.glob("*.op"))
BUNDLE = json.loads((Path(dsl.__file__).parent / "schemas" / "ruleset.schema.json").read_text("utf-8"))


def test_library_is_not_empty() -> None:
    assert len(TEMPLATES) >= 8


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_checks_clean(path: Path) -> None:
    diagnostics = dsl.check_file(path)
    assert [d.format() for d in diagnostics] == []


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_round_trips(path: Path) -> None:
    ruleset = dsl.load_file(path)
    assert dsl.parse_text(dsl.print_dsl(ruleset), "printed.op") == ruleset
    as_json = dsl.to_json(ruleset)
    assert dsl.load_json(json.dumps(as_json, ensure_ascii=False)) == ruleset
    assert list(Draft202012Validator(BUNDLE).iter_errors(as_json)) == []
