"""Two workers that both find a risk dimension unmarked and both back-fill it never fail on
``risk_dimensions_pkey``: the mark is one ``INSERT … ON CONFLICT`` that keeps the earlier time."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from engine.risk import windows
from engine.risk.models import RiskDimension, RiskKey
from engine.risk.rules import Dimension
from engine.services import Services
from tests.pipeline.helpers import T0, order, put


def _marks(services: Services) -> list[tuple[str, Any, int]]:
    with services.db.session() as s:
        return [(d.dimension, d.covered_from, d.filled_orders) for d in s.scalars(select(RiskDimension))]


def test_a_second_mark_of_one_dimension_merges_and_keeps_the_earlier_time(services: Services) -> None:
    week, day = T0 - timedelta(days=7), T0 - timedelta(days=1)
    with services.db.transaction() as s:
        windows.mark_covered(s.connection(), "buyer_phone", day, T0, 3)
    with services.db.transaction() as s:
        windows.mark_covered(s.connection(), "buyer_phone", week, T0, 2)
    with services.db.transaction() as s:
        windows.mark_covered(s.connection(), "buyer_phone", day, T0, 0)  # a later time never moves it forward
    assert _marks(services) == [("buyer_phone", week, 5)]
    with services.db.transaction() as s:
        windows.mark_covered(s.connection(), "buyer_phone", None, T0, 1)
    with services.db.transaction() as s:
        windows.mark_covered(s.connection(), "buyer_phone", week, T0, 0)  # all time stays all time
    assert _marks(services) == [("buyer_phone", None, 6)]


@pytest.mark.postgres
def test_two_transactions_back_filling_one_new_dimension_at_once_both_commit(services: Services) -> None:
    put(services, *(order(f"R{i}", buyer_phone=f"1391234{i:04d}") for i in range(20)))
    dim = Dimension(("buyer_phone",), 3600)
    windows._covered.clear()  # neither worker has seen the dimension marked
    errors: list[BaseException] = []
    results: dict[str, list[tuple[str, int]]] = {}

    def second() -> None:
        try:
            with services.db.transaction() as s:
                # reads no mark (the first's is not committed), back-fills, then waits on the
                # first's uncommitted mark row: before, a unique violation once it committed
                results["second"] = windows.ensure_backfilled(s, s.connection(), [dim], T0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=second)
    with services.db.transaction() as s:
        results["first"] = windows.ensure_backfilled(s, s.connection(), [dim], T0)
        thread.start()
        thread.join(2)  # the second is blocked on our row now
        assert thread.is_alive()
    thread.join(30)

    assert not thread.is_alive()
    assert errors == []
    assert results["first"] == [("buyer_phone", 20)] and [d for d, _ in results["second"]] == ["buyer_phone"]
    [(name, covered_from, _)] = _marks(services)
    assert (name, covered_from) == ("buyer_phone", T0 - timedelta(seconds=3600))
    with services.db.session() as s:
        assert len(s.scalars(select(RiskKey).where(RiskKey.dimension == "buyer_phone")).all()) == 20
