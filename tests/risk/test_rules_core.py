"""The pure core of risk rules, without a database: which windows a rule reads, the figures of
a window (its edges, ``where``, ``of``, sums and averages), a missing key, and the checker's
refusal of what intake cannot run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

import dsl
from dsl import model as m
from engine.risk.rules import Dimension, Neighbour, compile_risk, dimensions_of, evaluate, key_value, order_time

T = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)


def rule(text: str, name: str = "r") -> m.RiskDecl:
    ruleset = dsl.parse_text(f"risk {name} {{\n    when {text}\n    then flag \"F\"\n}}\n", "t.op")
    assert dsl.check(ruleset) == []
    decl = ruleset.declarations[0]
    assert isinstance(decl, m.RiskDecl)
    return decl


def compiled(text: str, name: str = "r"):
    return compile_risk(rule(text, name), ruleset="rs", version=3)


def doc(city: str = "杭州市", total: int = 1000, status: str = "paid_hold", method: str = "alipay") -> dict:
    return {"receiver": {"city": city}, "buyer_phone": "13800000000", "status": status,
            "payment": {"method": method, "paid_amount": total}}


def test_dimensions_take_the_longest_window_per_field_and_none_means_all_time() -> None:
    a = compiled("count(orders by buyer_phone within 1h) >= 5 and count(orders by buyer_phone within 24h) > 9")
    b = compiled("count(orders by customer.device_id within 7d) >= 8")
    c = compiled("count(orders by customer.device_id) > 100")
    assert dimensions_of([a, b]) == [Dimension(("buyer_phone",), 86400), Dimension(("customer", "device_id"), 604800)]
    assert dimensions_of([b, c]) == [Dimension(("customer", "device_id"), None)]


def test_the_window_excludes_an_order_exactly_its_length_before_and_orders_after() -> None:
    r = compiled("count(orders by buyer_phone within 1h) >= 2")
    near = [Neighbour(1, "x/1", T - timedelta(hours=1), None), Neighbour(2, "x/2", T, None),
            Neighbour(3, "x/3", T + timedelta(seconds=1), None)]
    assert evaluate([r], doc(), T, {"buyer_phone": ("13800000000", near)}) == []
    near.append(Neighbour(4, "x/4", T - timedelta(minutes=59, seconds=59), None))
    found = evaluate([r], doc(), T, {"buyer_phone": ("13800000000", near)})
    assert [f.figures[0].orders for f in found] == [("x/4", "x/2")]


def test_where_and_of_read_each_counted_order() -> None:
    r = compiled('sum(payment.paid_amount of orders where status != "cancelled" by buyer_phone within 1d) '
                 '>= ¥50 and distinct(receiver.city of orders by buyer_phone within 1d) >= 2')
    near = [Neighbour(1, "a/1", T - timedelta(hours=3), doc("杭州市", 2000)),
            Neighbour(2, "a/2", T - timedelta(hours=2), doc("南京市", 4000, status="cancelled")),
            Neighbour(3, "a/3", T, doc("杭州市", 3000))]
    found = evaluate([r], doc(), T, {"buyer_phone": ("13800000000", near)})
    assert [(f.value, f.orders) for f in found[0].figures] == [(5000, ("a/1", "a/3")), (2, ("a/1", "a/2", "a/3"))]


def test_avg_is_exact_and_an_empty_window_has_no_average() -> None:
    r = compiled("avg(payment.paid_amount of orders by buyer_phone within 1d) > ¥10")
    near = [Neighbour(1, "a/1", T, doc(total=1000)), Neighbour(2, "a/2", T, doc(total=1001))]
    found = evaluate([r], doc(), T, {"buyer_phone": ("k", near)})
    assert found[0].figures[0].value == Fraction(2001, 2)
    assert found[0].evidence()["figures"][0]["value"] == 1000.5
    assert evaluate([r], doc(), T, {"buyer_phone": ("k", [])}) == []


def test_an_order_without_the_key_has_no_figure_and_does_not_fire() -> None:
    r = compiled("not (count(orders by customer.device_id within 1d) >= 1)")
    # not(None >= 1): the comparison fails, the whole condition is not true
    assert evaluate([r], doc(), T, {}) == []
    assert key_value({"customer": {"device_id": "  "}}, ("customer", "device_id")) is None
    assert key_value({"customer": {"device_id": 42}}, ("customer", "device_id")) == "42"


def test_order_time_is_created_else_paid_else_version_time() -> None:
    assert order_time({"created_at": "2026-11-11T02:00:00+00:00"}) == datetime(2026, 11, 11, 2, tzinfo=UTC)
    assert order_time({"paid_at": "2026-11-11T03:00:00+00:00", "updated_at": "x"}) == datetime(
        2026, 11, 11, 3, tzinfo=UTC)
    assert order_time({}) is None


@pytest.mark.parametrize("cond,words", [
    ("count(returns by order_id within 7d) >= 3", "a risk rule counts orders; returns are measured by alerts"),
    ("count(orders within 1h) >= 1000", "needs 'by FIELD'"),
])
def test_the_checker_refuses_what_intake_cannot_run(cond, words) -> None:
    ruleset = dsl.parse_text(f"risk r {{\n    when {cond}\n    then flag \"F\"\n}}\n", "t.op")
    problems = dsl.check(ruleset)
    assert len(problems) == 1 and words in problems[0].message
    assert (problems[0].line, problems[0].col) == (2, 10)
