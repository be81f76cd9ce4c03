"""An alert published over 100k existing orders and 20k after-sales tickets back-fills its
measures once, and its counters then equal a direct SQL count of the same rows — per Shanghai
day and channel for orders, per day for the amounts, per ISO week for 面料起球 returns; orders
that arrive afterwards are counted incrementally, exactly once even with two consumers running
at the same time."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from dsl.parser import parse_text
from engine.alerts.buckets import bucket_start
from engine.alerts.measures import series_for
from engine.alerts.models import AlertCounter, AlertSeries
from engine.alerts.service import run_alerts
from engine.analytics.sql_time import local_date
from engine.clock import SHANGHAI
from engine.orders.model import Order
from engine.orders.pipeline_model import OrderTicket
from engine.rulesets import service as rulesets
from engine.storage.models import Base
from engine.workflow.models import WorkflowInstance

# 100k orders and 20k tickets are written and back-filled: more than the suite's per-test bound on a
# shared, loaded machine
pytestmark = pytest.mark.timeout(1800)

ORDERS, RETURNS = 100_000, 20_000
CHANNELS = ("taobao", "pdd", "douyin", "kuaishou", "xiaohongshu", "miniprogram")
REASONS = ("面料起球", "尺码偏差", "色差", "七天无理由", "做工瑕疵")
START = datetime(2026, 9, 1, tzinfo=UTC)
RULES = """\
channel 运营告警群 feishu { webhook env OP_OPS_HOOK, secret env OP_OPS_SECRET }

alert 渠道日单量 {
    measure count(orders) per day by channel
    when value > 100000
    notify 运营告警群 "{group} 今日 {value} 单"
}

alert 日销售额 {
    measure sum(payment.paid_amount of orders) per day
    when value > 0 and change_vs_previous > 1000%
    notify 运营告警群 "销售额 {value}"
}

alert 面料起球周环比 {
    measure count(returns where reason == "面料起球") per week
    minimum 10
    when change_vs_previous > 15%
    notify 运营告警群 "面料起球 {change}"
}
"""


ORDER_COLUMNS = ("channel", "order_id", "shop", "status", "created_at", "updated_at", "total", "freight", "tags", "doc",
                 "revision", "source", "via", "stored_at", "changed_at")
INSTANCE_COLUMNS = ("machine", "ruleset", "ruleset_version", "state", "data", "version", "order_id", "closed",
                    "created_by", "created_at", "updated_at", "state_entered_at")
TICKET_COLUMNS = ("order_pk", "kind", "refund_id", "line_id", "instance_id", "machine", "platform_status", "created_at")
JSON_COLUMNS = frozenset({"tags", "doc", "data"})


def _order_rows(first: int, count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(first, first + count):
        at = START + timedelta(seconds=i * 47)
        channel = CHANNELS[i % len(CHANNELS)]
        paid = 1000 + (i % 97) * 10
        doc = {"order_id": f"B{i}", "channel": channel, "shop": "旗舰店", "status": "shipped",
               "created_at": at.isoformat(), "payment": {"method": "alipay", "paid_amount": paid},
               "lines": [{"line_id": "1", "sku_id": f"SKU-{i % 13}", "category": "服装", "qty": 1}],
               "refunds": ([{"refund_id": f"R{i}", "line_id": "1", "reason": REASONS[(i // 5) % len(REASONS)],
                             "amount": paid, "status": "requested"}] if i % 5 == 0 else [])}
        rows.append({"channel": channel, "order_id": f"B{i}", "shop": "旗舰店", "status": "shipped", "created_at": at,
                     "updated_at": at, "total": paid, "freight": 0, "tags": [], "doc": doc, "revision": 1,
                     "source": "bulk", "via": "pull", "stored_at": at, "changed_at": at})
    return rows


def _raw_insert(conn: Any, table: str, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Rows written as fast as the database takes them: on SQLite with the driver's executemany,
    stored as SQLAlchemy stores them (UTC text, JSON text) without its per-row cost; on
    PostgreSQL with SQLAlchemy's multi-row inserts."""
    pg = conn.dialect.name == "postgresql"
    if pg:
        conn.execute(Base.metadata.tables[table].insert(), [{c: row[c] for c in columns} for row in rows])
        return
    raw = conn.connection.driver_connection
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"

    def value(column: str, v: Any) -> Any:
        if column in JSON_COLUMNS:
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, datetime):
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return v

    cur = raw.cursor()
    try:
        cur.executemany(sql, [tuple(value(c, row[c]) for c in columns) for row in rows])
    finally:
        cur.close()


def _bulk(services: Any, first: int, count: int) -> None:
    """Orders (and, for every fifth, its refund's after-sales ticket) written in one transaction
    with the driver's executemany, as fast as the database takes them."""
    with services.db.transaction() as s:
        conn = s.connection()
        _raw_insert(conn, "orders", ORDER_COLUMNS, _order_rows(first, count))
        refunds = [i for i in range(first, first + count) if i % 5 == 0]
        pks = dict(conn.execute(select(Order.order_id, Order.id).where(
            Order.source == "bulk", Order.id > 0, Order.order_id.in_([f"B{i}" for i in refunds]))).all())
        at = {i: START + timedelta(seconds=i * 47 + 3600) for i in refunds}
        _raw_insert(conn, "workflow_instances", INSTANCE_COLUMNS, [
            {"machine": "return_refund", "ruleset": "bulk", "ruleset_version": 1, "state": "待审核",
             "data": {"order_id": f"B{i}"}, "version": 1, "order_id": f"B{i}", "closed": False,
             "created_by": "platform", "created_at": at[i], "updated_at": at[i], "state_entered_at": at[i]}
            for i in refunds])
        instances = dict(conn.execute(select(WorkflowInstance.order_id, WorkflowInstance.id)
                                      .where(WorkflowInstance.ruleset == "bulk",
                                             WorkflowInstance.order_id.in_([f"B{i}" for i in refunds]))).all())
        _raw_insert(conn, "order_tickets", TICKET_COLUMNS, [
            {"order_pk": pks[f"B{i}"], "kind": "refund", "refund_id": f"R{i}", "line_id": "1",
             "instance_id": instances[f"B{i}"], "machine": "return_refund", "platform_status": "requested",
             "created_at": at[i]} for i in refunds])


def _series_key(text: str, period: str, by: str | None = None) -> str:
    model = parse_text(f"alert a {{ measure {text} per {period}{' by ' + by if by else ''} when value > 1 "
                       "notify x \"y\" }")
    decl = model.declarations[0]
    return series_for(decl.measure.value, period, decl.by).key  # type: ignore[attr-defined]


def _counters(services: Any, key: str, field: str = "n") -> dict[tuple[str, str], int]:
    with services.db.session() as s:
        rows = s.execute(select(AlertCounter.bucket, AlertCounter.grp, getattr(AlertCounter, field))
                         .where(AlertCounter.series == key)).all()
    return {(r[0].astimezone(SHANGHAI).date().isoformat(), r[1]): int(r[2]) for r in rows if r[2]}


def _sql_orders_per_day(services: Any, by_channel: bool, total: bool = False) -> dict[tuple[str, str], int]:
    dialect = services.db.engine.dialect.name
    day = local_date(Order.created_at, dialect)
    cols = [day, Order.channel] if by_channel else [day]
    figure = func.sum(Order.total) if total else func.count()
    with services.db.session() as s:
        rows = s.execute(select(*cols, figure).group_by(*cols)).all()
    return {(str(r[0]), r[1] if by_channel else ""): int(r[-1]) for r in rows}


def _sql_pilling_per_week(services: Any) -> dict[tuple[str, str], int]:
    """面料起球 is every fifth refund (R0, R25, R50 …: i % 25 == 0): counted in SQL by ticket day,
    then summed into Shanghai ISO weeks."""
    dialect = services.db.engine.dialect.name
    day = local_date(OrderTicket.created_at, dialect)
    index = func.cast(func.substr(OrderTicket.refund_id, 2), Order.revision.type)
    with services.db.session() as s:
        rows = s.execute(select(day, func.count()).where(OrderTicket.kind == "refund", index % 25 == 0)
                         .group_by(day)).all()
    weeks: Counter[tuple[str, str]] = Counter()
    for d, n in rows:
        local = datetime.fromisoformat(str(d)).replace(tzinfo=SHANGHAI)
        weeks[(bucket_start(local, "week").astimezone(SHANGHAI).date().isoformat(), "")] += int(n)
    return dict(weeks)


def test_a_ruleset_published_over_100k_orders_backfills_counters_equal_to_sql_then_counts_incrementally(
        services: Any) -> None:
    _bulk(services, 0, ORDERS)
    while run_alerts(services).rows_read:  # no alert yet: the consumer only moves past the rows
        pass
    with services.db.transaction(immediate=True) as s:
        rulesets.create_ruleset(s, name="ops_alerts", actor="ops", now=services.clock.now(), content=RULES)
        rulesets.publish(s, "ops_alerts", actor="ops", now=services.clock.now())

    run = run_alerts(services)
    per_channel = _series_key("count(orders)", "day", "channel")
    amounts = _series_key("sum(payment.paid_amount of orders)", "day")
    pilling = _series_key('count(returns where reason == "面料起球")', "week")
    assert run.backfilled == {per_channel: ORDERS, amounts: ORDERS, pilling: RETURNS}
    assert run.rows_read == 0  # nothing new since the cursor: the back-fill counted it all, once

    assert _counters(services, per_channel) == _sql_orders_per_day(services, by_channel=True)
    assert _counters(services, amounts, "total") == _sql_orders_per_day(services, by_channel=False, total=True)
    assert _counters(services, pilling) == _sql_pilling_per_week(services)
    assert sum(_counters(services, pilling).values()) == RETURNS // 5

    # orders arriving afterwards: counted incrementally by two consumers at once, each row once
    _bulk(services, ORDERS, 3000)
    threads = [threading.Thread(target=run_alerts, args=(services,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run_alerts(services)
    assert _counters(services, per_channel) == _sql_orders_per_day(services, by_channel=True)
    assert _counters(services, amounts, "total") == _sql_orders_per_day(services, by_channel=False, total=True)
    assert _counters(services, pilling) == _sql_pilling_per_week(services)
    with services.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AlertSeries)) == 3
