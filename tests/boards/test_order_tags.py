"""The ``order_tags`` rows: in step with ``orders.tags`` whatever wrote the list (the store, the
pipeline adding and dropping 缺货, a risk flag, a newer platform version, a cancellation),
back-filled by the migration for the orders stored before it, and read through their index by
the 订单 list's tag filter (EXPLAIN on the back end under test), as the kanban's counts read
the open-tickets index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from builder_ui.boards.kanban import open_counts_statement
from engine.orders.model import Order, OrderTag
from engine.orders.order_cancel import cancel_order
from engine.orders.order_tags import FLAGGED
from engine.orders.pipeline import Pipeline
from engine.orders.queries import OrderFilter, list_orders, orders_page_statement
from engine.risk.models import RiskFlag
from engine.storage.db import Database
from engine.storage.migrate import upgrade
from tests.boards import world as w
from tests.support import backends


def _by_order(services: Any) -> tuple[dict[int, set[str]], dict[int, set[str]]]:
    """(tags per order as ``orders.tags`` says, as the rows say); each row's created_at checked,
    and the flagged rows are those of the orders with a risk flag."""
    with services.db.session() as s:
        listed = {pk: set(tags or ()) for pk, tags in s.execute(select(Order.id, Order.tags))}
        created = dict(s.execute(select(Order.id, Order.created_at)).all())
        flagged = set(s.scalars(select(RiskFlag.order_pk)))
        rows: dict[int, set[str]] = {pk: set() for pk in listed}
        marked = set()
        for r in s.scalars(select(OrderTag)):
            if r.tag == FLAGGED:
                marked.add(r.order_pk)
            else:
                rows[r.order_pk].add(r.tag)
            assert r.created_at == created[r.order_pk]
    assert marked == flagged
    return listed, rows


def test_the_rows_follow_every_writer_of_the_tags_list(services: Any, world: w.World) -> None:
    listed, rows = _by_order(services)
    assert listed[world.orders["DY2000"]] == {"缺货"} and listed[world.orders["DY1004"]] == {"疑似黄牛"}
    assert rows == listed

    # a newer platform version keeps what the pipeline added (缺货) next to the version's own tags;
    # the flagged order's row follows its created_at
    held = w.order("DY2000", at=w.T0 + timedelta(minutes=60), phone="13955556666", sku="MUG-BLUE", qty=5)
    held.update(updated_at=w.T0 + timedelta(hours=2), tags=["补发"])
    w.take_in(services, held)
    flagged = w.order("DY1004", at=w.T0 + timedelta(minutes=41), city="上海")
    flagged.update(updated_at=w.T0 + timedelta(hours=2))
    w.take_in(services, flagged)
    listed, rows = _by_order(services)
    assert listed[world.orders["DY2000"]] == {"补发", "缺货"} and rows == listed
    assert listed[world.orders["DY1004"]] == {"疑似黄牛"}

    services.inventory.adjust("MUG-BLUE", 5, "到货", actor="li_wh")  # the 缺货 order is freed: its tag goes
    Pipeline(services).run_due()
    listed, rows = _by_order(services)
    assert listed[world.orders["DY2000"]] == {"补发"} and rows == listed

    # a newer platform version with its own tags, then a person's cancellation
    newer = w.order("DY1001", at=w.T0 + timedelta(minutes=10), city="南京")
    newer.update(updated_at=w.T0 + timedelta(hours=2), tags=["直播", "直播", "加急"])
    w.take_in(services, newer)
    listed, rows = _by_order(services)
    assert listed[world.orders["DY1001"]] == {"直播", "加急"} and rows == listed
    with services.db.session() as s:
        page = list_orders(s, OrderFilter(tags=["加急"]), role="admin", cursor=None, limit=50)
    assert [i["order_id"] for i in page["items"]] == ["DY1001"]
    cancel_order(services, world.orders["DY2000"], "买家取消", actor="user:sun_lead", role="cs_lead")
    assert _by_order(services)[1] == _by_order(services)[0]


def test_the_tag_filter_pages_newest_first_through_the_tag_rows(services: Any, world: w.World) -> None:
    from tests.pipeline.helpers import put

    for n in range(5):
        body = w.order(f"TG{n}", at=w.T0 + timedelta(hours=n), phone=f"1370000000{n}")
        body["tags"] = ["价格异常"] if n != 2 else []
        put(services, body)
    seen: list[str] = []
    cursor = None
    with services.db.session() as s:
        while True:
            page = list_orders(s, OrderFilter(tags=["价格异常"], channels=["douyin"]), role="admin", cursor=cursor,
                               limit=2)
            seen += [i["order_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == ["TG4", "TG3", "TG1", "TG0"]


def test_the_risk_filter_pages_the_flagged_orders_newest_first(services: Any, world: w.World) -> None:
    services.clock.set(w.T0 + timedelta(minutes=50))  # a sixth order of the phone: flagged too
    w.take_in(services, w.order("DY1005", at=w.T0 + timedelta(minutes=50), city="南京"))

    def walk(flagged: bool) -> list[str]:
        seen: list[str] = []
        cursor = None
        with services.db.session() as s:
            while True:
                page = list_orders(s, OrderFilter(flagged=flagged), role="admin", cursor=cursor, limit=1)
                seen += [i["order_id"] for i in page["items"]]
                cursor = page["next_cursor"]
                if cursor is None:
                    return seen

    assert walk(True) == ["DY1005", "DY1004"]
    assert walk(False) == ["DY2000", "DY1003", "DY1002", "DY1001", "DY1000"]


def _plan(services: Any, stmt: Any, *, hidden: str | None = None) -> str:
    """The back end's plan of ``stmt``. PostgreSQL: the tables analysed and sequential scans
    priced out, so the plan shows an index serving the query on this small store; ``hidden``:
    an index dropped for the EXPLAIN only (rolled back) — on a few rows the planner may as well
    take an older index that filters the rest, which says nothing about the new index (the bench
    prints the plans over 1M orders and 200k tickets)."""
    engine = services.db.engine
    sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE orders, order_tags, workflow_instances"))
        with engine.connect() as conn, conn.begin() as tx:
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            if hidden:
                conn.execute(text(f"DROP INDEX {hidden}"))
            plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + sql)))
            tx.rollback()
            return plan
    with engine.connect() as conn:
        return "\n".join(str(r[-1]) for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql)))


def test_the_tag_filter_and_the_kanban_counts_read_their_indexes(services: Any, world: w.World) -> None:
    plan = _plan(services, orders_page_statement(OrderFilter(tags=["缺货"]), None, 50))
    assert "ix_order_tags_tag" in plan, plan
    assert "json" not in plan.lower() and "LIKE" not in plan.upper()
    flagged = _plan(services, orders_page_statement(OrderFilter(flagged=True), None, 50))
    assert "ix_order_tags_tag" in flagged, flagged
    counts = _plan(services, open_counts_statement("aftersales"), hidden="ix_workflow_instances_machine_state")
    assert "ix_workflow_instances_open" in counts, counts


@pytest.fixture
def bare_database(tmp_path: Path) -> Iterator[Database]:
    with backends.private_database_url(tmp_path, "before") as url:
        db = Database(url)
        yield db
        db.dispose()


def test_the_migration_back_fills_the_tags_of_the_orders_stored_before_it(bare_database: Database) -> None:
    db = bare_database
    upgrade(db, "0018_waybills")
    at = w.T0
    lists: list[Any] = [["缺货", "价格异常", "缺货"], [], None, ["风险", 7, ""], {"not": "a list"}]
    with db.engine.begin() as conn:
        for n, tags in enumerate(lists):
            conn.execute(insert(Order.__table__).values(
                channel="douyin", order_id=f"M{n}", shop="旗舰店", status="awaiting_shipment",
                created_at=at + timedelta(minutes=n), updated_at=at, total=0, freight=0, tags=tags, doc={},
                revision=1, source="douyin", via="pull", stored_at=at, changed_at=at))
        m1 = conn.scalar(select(Order.id).where(Order.order_id == "M1"))
        conn.execute(insert(RiskFlag.__table__), [  # two rules flagged M1: one row
            {"order_pk": m1, "channel": "douyin", "order_id": "M1", "revision": 1, "rule": rule, "flag": "疑似黄牛",
             "held": True, "ruleset": "risk", "ruleset_version": 1, "evidence": {}, "at": at} for rule in ("a", "b")])
    upgrade(db)
    with db.engine.connect() as conn:
        ids = dict(conn.execute(select(Order.order_id, Order.id)).all())
        rows = sorted((r.order_pk, r.tag, r.created_at) for r in conn.execute(select(OrderTag.__table__)))
    assert rows == sorted([(ids["M0"], "缺货", at), (ids["M0"], "价格异常", at),
                           (ids["M3"], "风险", at + timedelta(minutes=3)),
                           (ids["M1"], FLAGGED, at + timedelta(minutes=1))])
