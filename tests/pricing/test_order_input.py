"""The order check before pricing: every problem with its JSON pointer, money only in integer
fen; and the fast path agrees with the detailed one on arbitrary input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.pricing import OrderInvalid, read_order
from tests.pricing.helpers import line, order


def problems(o: Any, prefix: tuple[str | int, ...] = ()) -> list[dict[str, str]]:
    with pytest.raises(OrderInvalid) as err:
        read_order(o, prefix)
    return err.value.details


def test_a_good_order_reads_its_lines_in_order() -> None:
    po = read_order(order(line("L1", 29900), line("L2", 19900, qty=2, tags=["秒杀"])))
    assert po.line_ids == ("L1", "L2") and po.amounts == (29900, 19900) and po.qtys == (1, 2)
    assert list(po.tags[1]) == ["秒杀"]


def test_amount_defaults_to_qty_times_unit_price() -> None:
    o = order(line("L1", 600, qty=3))
    del o["lines"][0]["amount"]
    po = read_order(o)
    assert po.amounts == (600,) and po.lines[0]["amount"] == 600


def test_negative_qty_is_refused_with_its_path() -> None:
    o = order(line("L1", 1000))
    o["lines"][0]["qty"] = -1
    assert problems(o) == [{"path": "/lines/0/qty", "message": "must be a positive whole number, got -1"}]


def test_money_must_be_integer_fen_and_every_problem_is_listed() -> None:
    o = order(line("L1", 1000), line("L2", 2000), red_packet=5)
    o["lines"][1]["unit_price"] = 19.9
    o["lines"][1]["amount"] = "2000"
    o["red_packet"] = 0.5
    o["lines"][0]["qty"] = 1.0
    found = problems(o, ("order",))
    assert [p["path"] for p in found] == ["/order/lines/0/qty", "/order/lines/1/unit_price",
                                          "/order/lines/1/amount", "/order/red_packet"]
    assert found[1]["message"] == "must be money in integer fen (no decimals), got 19.9"
    assert found[2]["message"] == "must be money in integer fen, got str"


def test_line_ids_are_text() -> None:
    o = order(line("L1", 100), line("L2", 100))
    o["lines"][0]["line_id"] = 1
    o["lines"][1]["line_id"] = ""
    assert problems(o) == [{"path": "/lines/0/line_id", "message": "must be non-empty text, got 1"},
                           {"path": "/lines/1/line_id", "message": "must be non-empty text, got ''"}]


def test_lines_must_be_present_and_ids_unique() -> None:
    assert problems({"order_id": "x"})[0]["path"] == "/lines"
    assert problems({"lines": []})[0]["path"] == "/lines"
    assert problems([1, 2])[0]["path"] == ""
    dup = order(line("L1", 100), line("L1", 200))
    assert problems(dup) == [{"path": "/lines/1/line_id",
                              "message": "duplicate line_id 'L1' (also line 0)"}]


def test_booleans_are_not_money_or_quantities() -> None:
    o = order(line("L1", 100))
    o["lines"][0]["qty"] = True
    o["lines"][0]["amount"] = False
    assert [p["path"] for p in problems(o)] == ["/lines/0/qty", "/lines/0/amount"]


def test_a_line_needs_amount_or_unit_price_and_objects_must_be_objects() -> None:
    o = order(line("L1", 100))
    del o["lines"][0]["amount"], o["lines"][0]["unit_price"]
    o["customer"] = "金卡"
    o["receiver"] = {"province": 11}
    o["tags"] = ["ok", 3]
    found = problems(o)
    assert [p["path"] for p in found] == ["/lines/0/amount", "/customer", "/receiver/province",
                                          "/tags"]


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=False),
                         st.text(max_size=4))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)), max_leaves=6)
line_fields = st.fixed_dictionaries({}, optional={
    "line_id": st.one_of(st.sampled_from(["L1", "L2"]), json_scalars),
    "sku_id": st.one_of(st.just("SKU"), json_scalars),
    "qty": st.one_of(st.integers(-1, 3), json_scalars),
    "unit_price": st.one_of(st.integers(-1, 5000), json_scalars),
    "amount": st.one_of(st.integers(-1, 5000), json_scalars),
    "tags": st.one_of(st.lists(st.sampled_from(["秒杀", "预售"]), max_size=2), json_values),
    "category": json_scalars,
})
orders = st.fixed_dictionaries({}, optional={
    "lines": st.one_of(st.lists(st.one_of(line_fields, json_scalars), max_size=3), json_values),
    "red_packet": st.one_of(st.integers(-1, 1000), json_scalars),
    "customer": st.one_of(st.fixed_dictionaries({"level": json_scalars}), json_scalars),
    "receiver": st.one_of(st.fixed_dictionaries({}, optional={"province": json_scalars}), json_scalars),
    "payment": st.one_of(st.fixed_dictionaries({}, optional={"paid_amount": json_scalars}), json_scalars),
    "tags": json_values,
})


@settings(max_examples=300, deadline=None)
@given(orders)
def test_any_input_is_either_read_or_refused_with_specific_problems(o: dict[str, Any]) -> None:
    try:
        po = read_order(o)
    except OrderInvalid as exc:
        assert exc.details
        assert all(d["message"] != "the order could not be read" for d in exc.details), exc.details
        return
    assert all(type(a) is int and a >= 0 for a in po.amounts)
    assert all(type(q) is int and q > 0 for q in po.qtys)
    assert len(set(po.line_ids)) == len(po.line_ids)
