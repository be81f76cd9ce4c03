"""The order pipeline's driver, its risk and reserve stages and the follow-up of newer revisions,
on the configured back end (SQLite by default; PostgreSQL + Redis when configured)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from engine.inventory.models import InventoryRequest
from engine.orders.pipeline import Pipeline
from engine.orders.stages import OrderRef, StageNote
from engine.services import Services
from tests.pipeline.helpers import (
    events,
    figures,
    kinds,
    order,
    put,
    reserved_lines,
    row,
    status_tags,
    stock,
)


def test_a_stored_order_gets_its_row_in_the_same_transaction_and_is_reserved_with_every_stage_on_its_timeline(
        services: Services) -> None:
    stock(services, SKU_A=5, SKU_B=3)
    [stored] = put(services, order("A1", lines=[("SKU-A", 2), ("SKU-B", 1), ("SKU-A", 1)]))
    before = row(services, stored.order_pk)
    assert (before.next_stage, before.status, before.seen_revision) == ("start", "ready", 0)

    assert Pipeline(services).run_due() == 1

    after = row(services, stored.order_pk)
    assert (after.next_stage, after.status, after.seen_revision, after.attempts) == ("done", "done", 1, 0)
    assert status_tags(services, stored.order_pk) == ("awaiting_shipment", [])
    assert kinds(services, stored.order_pk) == ["created", "risk_passed", "price_skipped", "reserved", "ticket_skipped"]
    [reserved] = events(services, stored.order_pk, "reserved")
    assert reserved.actor == "pipeline:reserve"
    assert reserved.detail["lines"] == [{"sku_id": "SKU-A", "qty": 3}, {"sku_id": "SKU-B", "qty": 1}]
    assert figures(services, "SKU-A") == (5, 3) and figures(services, "SKU-B") == (3, 1)
    assert reserved_lines(services, "douyin/A1") == {"SKU-A": (3, 0, 0), "SKU-B": (1, 0, 0)}
    assert Pipeline(services).run_due() == 0  # nothing left: a second pass changes nothing
    assert figures(services, "SKU-A") == (5, 3)


def test_short_stock_holds_the_order_as_out_of_stock_changes_no_sku_and_an_adjustment_of_that_sku_frees_it(
        services: Services) -> None:
    stock(services, SKU_A=5, SKU_B=1, SKU_C=9)
    [short] = put(services, order("S1", lines=[("SKU-A", 1), ("SKU-B", 3)]))
    pipeline = Pipeline(services)
    pipeline.run_due()

    held = row(services, short.order_pk)
    assert (held.status, held.next_stage, held.short_skus, held.hold_reason) == ("held", "ticket", ["SKU-B"], None)
    assert status_tags(services, short.order_pk) == ("paid_hold", ["缺货"])
    [note] = events(services, short.order_pk, "short")
    assert note.detail["short"] == [{"sku_id": "SKU-B", "requested": 3, "available": 1}]
    assert figures(services, "SKU-A") == (5, 0) and figures(services, "SKU-B") == (1, 0)  # all lines or none

    stock(services, SKU_C=1)  # another SKU: not woken
    assert pipeline.run_due() == 0
    stock(services, SKU_B=1)  # 2 available: still short, not news
    assert pipeline.run_due() == 1
    assert kinds(services, short.order_pk) == ["created", "risk_passed", "price_skipped", "short"]
    assert row(services, short.order_pk).status == "held"

    stock(services, SKU_B=1)
    assert pipeline.run_due() == 1
    assert kinds(services, short.order_pk) == ["created", "risk_passed", "price_skipped", "short", "reserved",
                                               "ticket_skipped"]
    assert status_tags(services, short.order_pk) == ("awaiting_shipment", [])
    freed = row(services, short.order_pk)
    assert (freed.status, freed.short_skus) == ("done", None)
    assert figures(services, "SKU-A") == (5, 1) and figures(services, "SKU-B") == (3, 3)


def test_orders_waiting_for_the_same_sku_are_served_oldest_hold_first(services: Services) -> None:
    stock(services, SKU_A=1)
    first, second, third = put(services, *[order(f"Q{i}", lines=[("SKU-A", 1)]) for i in range(3)])
    pipeline = Pipeline(services)
    pipeline.run_due()
    assert [row(services, s.order_pk).status for s in (first, second, third)] == ["done", "held", "held"]
    stock(services, SKU_A=1)
    pipeline.run_due()
    assert [row(services, s.order_pk).status for s in (first, second, third)] == ["done", "done", "held"]


def test_a_cancellation_before_shipment_releases_the_reservation(services: Services) -> None:
    stock(services, SKU_A=5)
    [stored] = put(services, order("C1", lines=[("SKU-A", 2)]))
    pipeline = Pipeline(services)
    pipeline.run_due()
    put(services, order("C1", minutes=5, status="cancelled", lines=[("SKU-A", 2)]))
    assert row(services, stored.order_pk).status == "ready"
    pipeline.run_due()
    assert figures(services, "SKU-A") == (5, 0)
    assert reserved_lines(services, "douyin/C1") == {"SKU-A": (2, 0, 2)}
    assert kinds(services, stored.order_pk)[-2:] == ["updated", "reservation_released"]
    [released] = events(services, stored.order_pk, "reservation_released")
    assert (released.revision, released.detail["released"]) == (2, [{"sku_id": "SKU-A", "qty": 2}])
    assert status_tags(services, stored.order_pk)[0] == "cancelled"
    assert row(services, stored.order_pk).seen_revision == 2
    put(services, order("C1", minutes=9, status="cancelled", lines=[("SKU-A", 2)]))  # later news: nothing twice
    pipeline.run_due()
    assert figures(services, "SKU-A") == (5, 0)
    assert len(events(services, stored.order_pk, "reservation_released")) == 1


def test_an_order_the_platform_shows_shipped_by_another_way_ships_its_reservation_once(services: Services) -> None:
    stock(services, SKU_A=5)
    [stored] = put(services, order("E1", lines=[("SKU-A", 2)]))
    pipeline = Pipeline(services)
    pipeline.run_due()
    assert figures(services, "SKU-A") == (5, 2)
    put(services, order("E1", minutes=4, status="shipped", lines=[("SKU-A", 2)]))
    pipeline.run_due()
    assert figures(services, "SKU-A") == (3, 0)  # the goods left: total and reserved down, available unchanged
    assert reserved_lines(services, "douyin/E1") == {"SKU-A": (2, 2, 0)}
    [shipped] = events(services, stored.order_pk, "reservation_shipped")
    assert shipped.detail["shipped"] == [{"sku_id": "SKU-A", "qty": 2}]
    put(services, order("E1", minutes=8, status="completed", lines=[("SKU-A", 2)]))  # later news: nothing twice
    pipeline.run_due()
    assert figures(services, "SKU-A") == (3, 0)
    assert len(events(services, stored.order_pk, "reservation_shipped")) == 1


def test_a_refund_of_one_line_before_shipment_releases_that_lines_units_only(services: Services) -> None:
    stock(services, SKU_A=5, SKU_B=5)
    [stored] = put(services, order("R1", lines=[("SKU-A", 2), ("SKU-B", 1)]))
    pipeline = Pipeline(services)
    pipeline.run_due()
    waiting = [{"refund_id": "RF1", "line_id": "L1", "sku_id": "SKU-A", "status": "WAIT_SELLER_AGREE"}]
    put(services, order("R1", minutes=3, lines=[("SKU-A", 2), ("SKU-B", 1)], refunds=waiting))
    pipeline.run_due()
    assert figures(services, "SKU-A") == (5, 2)  # a refund asked for is not a refund made
    done = [{**waiting[0], "status": "SUCCESS", "amount": 10000}]
    put(services, order("R1", minutes=6, lines=[("SKU-A", 2), ("SKU-B", 1)], refunds=done))
    pipeline.run_due()
    assert figures(services, "SKU-A") == (5, 0) and figures(services, "SKU-B") == (5, 1)
    assert reserved_lines(services, "douyin/R1") == {"SKU-A": (2, 0, 2), "SKU-B": (1, 0, 0)}
    [released] = events(services, stored.order_pk, "reservation_released")
    assert released.detail["reason"] == "refunded"


def test_an_unpaid_order_waits_and_its_paid_version_reserves(services: Services) -> None:
    stock(services, SKU_A=5)
    [stored] = put(services, order("U1", status="pending_payment", lines=[("SKU-A", 1)]))
    pipeline = Pipeline(services)
    pipeline.run_due()
    assert kinds(services, stored.order_pk) == ["created", "risk_passed", "price_skipped", "reserve_waiting",
                                                "ticket_skipped"]
    assert figures(services, "SKU-A") == (5, 0)
    put(services, order("U1", minutes=2, lines=[("SKU-A", 1)]))
    pipeline.run_due()
    assert kinds(services, stored.order_pk)[-1] == "reserved"
    assert figures(services, "SKU-A") == (5, 1)


def test_a_stale_platform_status_does_not_undo_our_hold_or_our_shipment(services: Services) -> None:
    stock(services, SKU_A=1)
    held, shipped = put(services, order("H1", lines=[("SKU-A", 2)]), order("H2", lines=[("SKU-A", 1)]))
    pipeline = Pipeline(services)
    pipeline.run_due()
    # the platform still says awaiting_shipment (an address change): our 缺货 hold stays
    put(services, order("H1", minutes=4, lines=[("SKU-A", 2)]))
    assert status_tags(services, held.order_pk)[0] == "paid_hold"
    pipeline.run_due()
    assert status_tags(services, held.order_pk)[0] == "paid_hold"
    # we shipped H2 (shipping sets the status); a stale platform version does not undo it
    from engine.orders.model import Order

    with services.db.transaction() as s:
        s.get(Order, shipped.order_pk).status = "shipped"  # type: ignore[union-attr]
    put(services, order("H2", minutes=4, lines=[("SKU-A", 1)]))
    assert status_tags(services, shipped.order_pk)[0] == "shipped"
    put(services, order("H2", minutes=8, status="delivered", lines=[("SKU-A", 1)]))
    assert status_tags(services, shipped.order_pk)[0] == "delivered"


def test_a_platform_hold_stays_until_the_platform_lifts_it(services: Services) -> None:
    stock(services, SKU_A=3)
    [stored] = put(services, order("P1", status="paid_hold", lines=[("SKU-A", 1)]))
    pipeline = Pipeline(services)
    pipeline.run_due()
    assert status_tags(services, stored.order_pk)[0] == "paid_hold"
    assert figures(services, "SKU-A") == (3, 1)  # paid: reserved while the platform holds it
    put(services, order("P1", minutes=1, lines=[("SKU-A", 1)]))
    pipeline.run_due()
    assert status_tags(services, stored.order_pk)[0] == "awaiting_shipment"


def test_an_order_whose_tags_declare_a_hold_is_held_by_the_risk_stage_and_no_later_stage_runs(
        services: Services) -> None:
    stock(services, SKU_A=3)
    [stored] = put(services, order("K1", lines=[("SKU-A", 1)], tags=["挂起:地址待核实"]))
    Pipeline(services).run_due()
    prow = row(services, stored.order_pk)
    assert (prow.status, prow.next_stage, prow.hold_reason, prow.held_by) == ("held", "price", "地址待核实",
                                                                              "pipeline:risk")
    assert status_tags(services, stored.order_pk)[0] == "paid_hold"
    assert figures(services, "SKU-A") == (3, 0)


def test_a_held_order_that_the_platform_cancels_releases_its_stock_and_is_no_longer_held(
        services: Services) -> None:
    from engine.orders.order_holds import hold_order

    stock(services, SKU_A=3)
    [stored] = put(services, order("X1", lines=[("SKU-A", 2)]))
    pipeline = Pipeline(services)
    pipeline.run_due()
    hold_order(services, stored.order_pk, "客户要求改地址", actor="user:ops1", role="ops")
    put(services, order("X1", minutes=3, status="cancelled", lines=[("SKU-A", 2)]))
    pipeline.run_due()
    assert figures(services, "SKU-A") == (3, 0)
    prow = row(services, stored.order_pk)
    assert (prow.status, prow.hold_reason) == ("done", None)
    assert kinds(services, stored.order_pk)[-3:] == ["updated", "reservation_released", "hold_lifted"]


def test_a_failing_stage_rolls_back_only_its_order_keeps_the_error_and_is_retried_after_a_backoff(
        services: Services) -> None:
    stock(services, SKU_A=5)
    calls: list[str] = []

    def flaky(session: Any, svc: Services, ref: OrderRef, now: datetime) -> list[StageNote]:
        calls.append(ref.order_id)
        if ref.order_id == "F1" and len([c for c in calls if c == "F1"]) == 1:
            raise RuntimeError("定价服务暂时不可用")
        return [StageNote("priced", {"ok": True}, ruleset="promo", ruleset_version=3)]

    from engine.orders.order_reservation import reserve_stage

    bad, good = put(services, order("F1", lines=[("SKU-A", 1)]), order("F2", lines=[("SKU-A", 1)]))
    pipeline = Pipeline(services, stages=[("reserve", reserve_stage), ("price", flaky)])
    pipeline.run_due()
    failed = row(services, bad.order_pk)
    assert (failed.status, failed.next_stage, failed.attempts) == ("ready", "start", 1)
    assert "定价服务暂时不可用" in (failed.last_error or "")
    assert failed.due_at == services.clock.now() + timedelta(seconds=5)
    assert figures(services, "SKU-A") == (5, 1)  # F1's reservation rolled back with its failed step
    assert kinds(services, bad.order_pk) == ["created", "stage_failed"]
    assert row(services, good.order_pk).status == "done"
    assert pipeline.run_due() == 0  # not due yet
    services.clock.advance(6)  # type: ignore[attr-defined]
    assert pipeline.run_due() == 1
    assert kinds(services, bad.order_pk) == ["created", "stage_failed", "reserved", "priced"]
    [priced] = events(services, bad.order_pk, "priced")
    assert (priced.ruleset, priced.ruleset_version) == ("promo", 3)
    assert figures(services, "SKU-A") == (5, 2)
    with services.db.session() as s:  # one reservation per order, never two
        assert s.scalar(select(func.count()).select_from(InventoryRequest)
                        .where(InventoryRequest.operation == "reserve")) == 2


def test_a_follow_up_gets_the_document_the_pipeline_last_acted_on_however_many_revisions_came_between(
        services: Services) -> None:
    seen: list[tuple[str | None, str, int]] = []

    def follow(session: Any, svc: Services, ref: OrderRef, previous: dict[str, Any] | None,
               now: datetime) -> list[StageNote]:
        seen.append(((previous or {}).get("status"), ref.doc["status"], ref.revision))
        return []

    def passing(session: Any, svc: Services, ref: OrderRef, now: datetime) -> list[StageNote]:
        return []

    put(services, order("V1", status="pending_payment"))
    pipeline = Pipeline(services, stages=[("ticket", passing)], follow_ups=[("ticket", follow)])
    pipeline.run_due()
    put(services, order("V1", minutes=1))
    put(services, order("V1", minutes=2, status="shipped"))
    pipeline.run_due()
    put(services, order("V1", minutes=3, status="delivered"))
    pipeline.run_due()
    assert seen == [("pending_payment", "shipped", 3), ("shipped", "delivered", 4)]


def test_dropped_orders_run_no_stage(services: Services) -> None:
    from engine.orders import store

    stock(services, SKU_A=3)
    item = store.Incoming(order("D1"), "douyin", "api", None, "test", dropped=("测试单", "标准化:3"))
    [stored] = store.store_orders(services.db, [item], now=services.clock.now())
    Pipeline(services).run_due()
    assert (row(services, stored.order_pk).status, kinds(services, stored.order_pk)) == ("done", ["dropped"])
    assert figures(services, "SKU-A") == (3, 0)


@pytest.mark.redis
@pytest.mark.postgres
def test_with_the_redis_gate_its_counters_follow_what_the_pipeline_reserved_and_released(services: Services) -> None:
    import uuid

    a, b = f"GATE-A-{uuid.uuid4().hex[:6]}", f"GATE-B-{uuid.uuid4().hex[:6]}"  # the gate's keys outlive the test
    services.inventory.adjust(a, 6, "入库")
    services.inventory.adjust(b, 2, "入库")
    gate = services.inventory.gate
    assert gate is not None
    services.inventory.ensure_gate()
    pipeline = Pipeline(services)
    put(services, order("G1", lines=[(a, 2), (b, 1)]), order("G2", lines=[(a, 3)]), order("G3", lines=[(b, 5)]))
    pipeline.run_due()
    put(services, order("G2", minutes=2, status="cancelled", lines=[(a, 3)]))
    pipeline.run_due()
    assert figures(services, a) == (6, 2) and figures(services, b) == (2, 1)
    counters = gate.counters()
    assert (counters[a], counters[b]) == (4, 1)


def test_the_demo_console_tells_the_stock_story_in_short_chinese_lines(services: Services, log_stream: Any) -> None:
    import io
    import logging

    from engine.orders.console import attach_console

    out = io.StringIO()
    handler = attach_console(out)
    try:
        stock(services, SKU_A=1)
        put(services, order("T1", lines=[("SKU-A", 1)]), order("T2", lines=[("SKU-A", 2)]))
        pipeline = Pipeline(services)
        pipeline.run_due()
        put(services, order("T1", minutes=1, status="cancelled", lines=[("SKU-A", 1)]))
        pipeline.run_due()
        stock(services, SKU_A=1)
        pipeline.run_due()
    finally:
        logging.getLogger("engine.orders").removeHandler(handler)
    assert [line for line in out.getvalue().splitlines() if not line.startswith(("新订单", "已取消"))] == [
        "缺货挂起：SKU-A 需 2 可用 0 抖音 T2",
        "订单已取消，释放库存 抖音 T1",
        "到货放行，已预占库存 抖音 T2",
    ]


def test_a_gift_line_an_earlier_stage_adds_in_the_same_step_is_reserved_with_the_rest(services: Services) -> None:
    from sqlalchemy import insert

    from engine.orders.model import OrderLine
    from engine.orders.order_reservation import reserve_stage
    from engine.orders.order_risk import risk_stage

    def gift(session: Any, svc: Services, ref: OrderRef, now: datetime) -> list[StageNote]:
        session.execute(insert(OrderLine).values(order_pk=ref.pk, line_no=9, line_id="GIFT", sku_id="GIFT-SCARF",
                                                 title="赠品丝巾", qty=1, unit_price=0, amount=0))
        return [StageNote("priced", {"gifts": ["GIFT-SCARF"]}, ruleset="春节大促", ruleset_version=2)]

    stock(services, SKU_A=5, GIFT_SCARF=3)
    [stored] = put(services, order("G1", lines=[("SKU-A", 2)]))
    Pipeline(services, stages=[("risk", risk_stage), ("price", gift), ("reserve", reserve_stage)]).run_due()
    assert reserved_lines(services, "douyin/G1") == {"SKU-A": (2, 0, 0), "GIFT-SCARF": (1, 0, 0)}
    assert kinds(services, stored.order_pk) == ["created", "risk_passed", "priced", "reserved"]
