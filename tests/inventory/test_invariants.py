"""The shared inventory suite (I1–I6, I11) on SQLite, PostgreSQL and PostgreSQL + Redis gate."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from engine.inventory.audit import check_invariants
from engine.inventory.domain import (
    InsufficientStock,
    InvalidLines,
    ShipRefused,
    StaleFence,
    UnknownOrder,
)
from engine.inventory.fencing import check_fence
from engine.inventory.models import LedgerEntry, ReservationLine
from engine.inventory.service import InventoryService
from tests.inventory.conftest import stock_of


def _ledger_count(inv: InventoryService) -> int:
    with inv.db.session() as s:
        return s.execute(select(func.count()).select_from(LedgerEntry)).scalar_one()


def test_i1_reservation_never_exceeds_available_and_check_refuses_bad_write(inventory) -> None:
    inventory.adjust("TEA-1", 3, "inbound")
    inventory.reserve("o1", [{"sku_id": "TEA-1", "qty": 2}])
    with pytest.raises(InsufficientStock) as err:
        inventory.reserve("o2", [{"sku_id": "TEA-1", "qty": 2}])
    assert err.value.short == [{"sku_id": "TEA-1", "requested": 2, "available": 1}]
    assert stock_of(inventory, "TEA-1") == (3, 2)
    with pytest.raises(IntegrityError), inventory.db.transaction() as s:
        s.execute(text("UPDATE inventory_stock SET reserved_stock = total_stock + 1 WHERE sku_id = 'TEA-1'"))
    assert stock_of(inventory, "TEA-1") == (3, 2)


def test_safety_stock_is_held_back_from_reservations(inventory) -> None:
    inventory.adjust("TEA-1", 5, "inbound")
    inventory.set_safety("TEA-1", 2)
    inventory.reserve("o1", [{"sku_id": "TEA-1", "qty": 3}])
    with pytest.raises(InsufficientStock):
        inventory.store.reserve("o2", [{"sku_id": "TEA-1", "qty": 1}])
    assert inventory.get("TEA-1")["available"] == 0
    assert check_invariants(inventory.db) == []


def test_i2_i3_reserved_matches_open_lines_and_ledger_folds_to_stock(inventory) -> None:
    inventory.adjust("A", 10, "inbound")
    inventory.adjust("B", 4, "inbound")
    inventory.reserve("o1", [{"sku_id": "A", "qty": 2}, {"sku_id": "B", "qty": 1}, {"sku_id": "A", "qty": 1}])
    inventory.reserve("o2", [{"sku_id": "B", "qty": 3}])
    inventory.ship("o1", [{"sku_id": "A", "qty": 2}])
    inventory.release("o1")
    inventory.ship("o2")
    inventory.adjust("A", -1, "stocktake")
    assert stock_of(inventory, "A") == (7, 0)
    assert stock_of(inventory, "B") == (1, 0)
    assert check_invariants(inventory.db) == []
    with inventory.db.session() as s:
        ops = [e.operation for e in s.scalars(select(LedgerEntry).where(LedgerEntry.sku_id == "A")
                                              .order_by(LedgerEntry.version))]
    assert ops == ["adjust", "reserve", "ship", "release", "adjust"]


def test_i4_replay_in_sequence_answers_alike_and_acts_once(inventory) -> None:
    inventory.adjust("A", 5, "inbound")
    first = inventory.reserve("o1", [{"sku_id": "A", "qty": 2}])
    again = inventory.reserve("o1", [{"sku_id": "A", "qty": 2}])
    assert again.replayed and not first.replayed
    assert again.body == first.body
    assert stock_of(inventory, "A") == (5, 2)
    r1 = inventory.release("o1")
    r2 = inventory.release("o1")
    assert r2.replayed and r2.body == r1.body
    assert stock_of(inventory, "A") == (5, 0)
    assert check_invariants(inventory.db) == []


def test_i4_concurrent_replays_act_once(inventory) -> None:
    inventory.adjust("A", 20, "inbound")
    answers: list[dict] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def call() -> None:
        try:
            barrier.wait()
            answers.append(inventory.reserve("race-1", [{"sku_id": "A", "qty": 3}]).body)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(answers) == 6 and all(a == answers[0] for a in answers)
    assert stock_of(inventory, "A") == (20, 3)
    assert check_invariants(inventory.db) == []
    if inventory.gate is not None:
        assert inventory.gate.counters()["A"] == 17


def test_i5_refused_multi_line_order_changes_no_sku(inventory) -> None:
    inventory.adjust("A", 5, "inbound")
    inventory.adjust("B", 1, "inbound")
    before = (inventory.get("A"), inventory.get("B"), _ledger_count(inventory))
    with pytest.raises(InsufficientStock) as err:
        inventory.reserve("o1", [{"sku_id": "A", "qty": 2}, {"sku_id": "B", "qty": 1}, {"sku_id": "B", "qty": 1}])
    assert [s["sku_id"] for s in err.value.short] == ["B"]
    assert (inventory.get("A"), inventory.get("B"), _ledger_count(inventory)) == before
    with inventory.db.session() as s:
        assert s.execute(select(func.count()).select_from(ReservationLine)).scalar_one() == 0
    if inventory.gate is not None:
        assert inventory.gate.counters() == {"A": 5, "B": 1}
        assert inventory.gate.holds() == []


def test_i6_lines_move_forward_only(inventory) -> None:
    inventory.adjust("A", 5, "inbound")
    inventory.adjust("B", 5, "inbound")
    inventory.reserve("o1", [{"sku_id": "A", "qty": 3}, {"sku_id": "B", "qty": 1}])
    inventory.ship("o1", [{"sku_id": "A", "qty": 1}])
    inventory.release("o1")
    with inventory.db.session() as s:
        status = {ln.sku_id: ln.status for ln in s.scalars(select(ReservationLine))}
    assert status == {"A": "closed", "B": "released"}
    assert inventory.ship("o1", [{"sku_id": "A", "qty": 1}]).replayed  # same default key: the first answer
    with pytest.raises(ShipRefused):
        inventory.ship("o1", [{"sku_id": "A", "qty": 1}], key="o1-second-parcel")
    assert stock_of(inventory, "A") == (4, 0)
    assert check_invariants(inventory.db) == []


def test_unknown_order_and_invalid_lines_are_refused(inventory) -> None:
    with pytest.raises(UnknownOrder):
        inventory.release("nope")
    with pytest.raises(InvalidLines) as err:
        inventory.reserve("o1", [{"sku_id": "A", "qty": 0}])
    assert err.value.details[0]["path"] == "/lines/0/qty"
    with pytest.raises(InsufficientStock):
        inventory.reserve("o1", [{"sku_id": "GHOST", "qty": 1}])


def test_quantities_beyond_the_stock_counters_are_refused_before_any_write(inventory) -> None:
    inventory.adjust("A", 5, "inbound")
    with pytest.raises(InvalidLines) as err:
        inventory.reserve("o1", [{"sku_id": "A", "qty": 3_000_000_000}])
    assert err.value.details == [{"path": "/lines/0/qty", "message": "qty must be a whole number from 1 to 1,000,000"}]
    with pytest.raises(InvalidLines) as err:  # two lines of one SKU, each allowed, together not
        inventory.reserve("o1", [{"sku_id": "A", "qty": 600_000}, {"sku_id": "A", "qty": 600_000}])
    assert err.value.details == [{"path": "/lines/1/qty", "message": "the lines of SKU A add up to more than 1,000,000"}]
    with pytest.raises(InsufficientStock):
        inventory.reserve("o1", [{"sku_id": "A", "qty": 1_000_000}])
    assert inventory.get("A")["reserved_stock"] == 0


def test_i11_stale_fence_token_is_refused(inventory) -> None:
    now = inventory.clock.now()
    with inventory.db.transaction() as s:
        check_fence(s, "pull.pdd", 2, now)
    with pytest.raises(StaleFence), inventory.db.transaction() as s:
        check_fence(s, "pull.pdd", 1, now)
    with inventory.db.transaction() as s:
        check_fence(s, "pull.pdd", 3, now)
