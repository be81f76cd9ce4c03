"""The drill publishes the merchant's rulesets with the durations that count against the
promised ship time shrunk by its speed, as the fake platforms shrink the promise itself; the
rest of the rules stays as written."""

from __future__ import annotations

from pathlib import Path

from dsl.checker import check
from dsl.model import FulfillmentDecl
from dsl.parser import parse_text
from engine.drill.setup import drill_fulfillment

TEMPLATE = Path(__file__).resolve().parents[2] / "templates_library" / "fulfillment_standard.op"


def _fulfillment(text: str) -> FulfillmentDecl:
    ruleset = parse_text(text, "fulfillment_standard.op")
    assert [d for d in check(ruleset) if d.severity == "error"] == []
    return next(d for d in ruleset.declarations if isinstance(d, FulfillmentDecl))


def test_the_promise_durations_shrink_by_the_speed_and_the_presale_ones_do_not() -> None:
    written = _fulfillment(TEMPLATE.read_text(encoding="utf-8"))
    drilled = _fulfillment(drill_fulfillment(TEMPLATE.read_text(encoding="utf-8"), 100))
    assert (written.late_after, drilled.late_after) == (7200, 72)
    assert [(w.lead, w.due) for w in written.warnings] == [(7200, "promised_ship_at"), (259200, "presale_ship_by"),
                                                          (86400, "presale_ship_by")]
    assert [(w.lead, w.due) for w in drilled.warnings] == [(72, "promised_ship_at"), (259200, "presale_ship_by"),
                                                          (86400, "presale_ship_by")]


def test_a_ruleset_without_a_promise_is_published_as_written_and_nothing_shrinks_below_a_second() -> None:
    other = "channel 运营群 feishu { webhook env OP_HOOK }\n"
    assert drill_fulfillment(other, 100) == other
    assert "late after 1s" in drill_fulfillment("fulfillment 时效 {\n    late after 30m\n}\n", 3000)
