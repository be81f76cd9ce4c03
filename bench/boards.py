"""Server time of every board list over a large store in PostgreSQL, against baselines measured
in the same run.

The store is bulk-loaded with COPY into a private schema (migrated first): ``--orders`` orders
(default 1M, the issue's goal; seeding it takes a few minutes) over 90 days on six channels
(2% tagged 缺货, 1% 价格异常, 0.5% 疑似黄牛 with a risk flag and a pipeline hold; each tag also as its
``order_tags`` row, as the store and the pipeline write them, and each flagged order its flagged row), one line each; ``--tickets``
workflow tickets (default 200k):
three quarters order tickets on ``order_lifecycle`` (linked in ``order_tickets``), a quarter
after-sales tickets on ``aftersales``, about half of them open, each open ticket in a state
with a deadline having its pending deadline (a tenth overdue); 5,000 SKUs with a ledger and
channel pushes/snapshots (some drifting). The two machines' templates are published through
the rulesets service, so owners and deadlines come from the real declarations.

Each list is asked through the app (Flask test client, signed in as the role that uses it),
so the time is the server's whole answer: query, masking and rendering. Baselines, in the same
run: ``GET /login`` (a page with no database work) and the plainest indexed page of the store
(``SELECT … FROM orders ORDER BY created_at DESC, id DESC LIMIT 50``, timed alone). Printed per
list: p50 / p95 in ms, and p95 against each baseline. Goal: every list p95 <= 300 ms.

The tag filter is also timed as a query alone, both ways on the same store: through the
``order_tags`` rows (what the list runs) and as the list ran before them (a text scan of
``orders.tags`` for the tag's JSON), with the ratio; the 风险 filter likewise (the flagged rows
against the walk of every order probing ``risk_flags``); and the plans (EXPLAIN) of the tag page, the
kanban's counts and 我的待办's reads are printed with the indexes they use.

Run: ``.venv/bin/python bench/boards.py [--orders N] [--tickets N] [--repeats N]``
(``BENCH_PG_URL``, default ``postgresql://postgres@127.0.0.1:5432/test``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text

from engine.clock import ManualClock
from engine.config import Settings
from engine.logs import configure_logging
from engine.orders.order_tags import FLAGGED
from engine.services import Services
from engine.storage.migrate import upgrade

PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=90)
CHANNELS = ("douyin", "taobao", "pdd", "kuaishou", "xiaohongshu", "miniprogram")
STATUSES = ("awaiting_shipment", "shipped", "completed", "delivered", "cancelled")
CITIES = [("浙江省", "杭州市", "西湖区"), ("江苏省", "南京市", "玄武区"), ("上海市", "上海市", "浦东新区"),
          ("广东省", "广州市", "天河区"), ("四川省", "成都市", "武侯区")]
PASSWORD = "bench-password-1"
# order_lifecycle / aftersales open states (with their share of the open tickets)
LIFECYCLE_OPEN = [("待付款", 0.1), ("待发货", 0.6), ("已发货", 0.3)]
AFTERSALES_OPEN = [("待审核", 0.4), ("待退货", 0.25), ("待质检", 0.2), ("待处理", 0.1), ("待退款", 0.05)]


def _pick(rng: random.Random, shares: list[tuple[str, float]]) -> str:
    x, acc = rng.random(), 0.0
    for name, share in shares:
        acc += share
        if x < acc:
            return name
    return shares[-1][0]


def _copy(conn: Any, table: str, columns: list[str], rows: Any) -> int:
    """COPY ``rows`` into ``table`` through psycopg's COPY protocol."""
    raw = conn.connection.driver_connection
    n = 0
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def _publish(services: Services) -> None:
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction() as s:
        for name in ("order_lifecycle", "aftersales_standard"):
            import_template(s, name, actor="bench", now=NOW - SPAN)
            rulesets.publish(s, name, actor="bench", now=NOW - SPAN, note="bench")


def load(services: Services, orders: int, tickets: int, seed: int = 7) -> dict[str, Any]:
    """Fill the store (see the module docstring); what the lists are asked about."""
    rng = random.Random(seed)
    engine = services.db.engine
    deadlines = {("order_lifecycle", s.name): s.deadline for s in _states(services, "order_lifecycle")}
    deadlines |= {("aftersales", s.name): s.deadline for s in _states(services, "aftersales")}
    order_rows: list[tuple[Any, ...]] = []
    tags_of: dict[int, str] = {}
    tagged_at: dict[int, datetime] = {}

    def order_gen() -> Any:
        for i in range(1, orders + 1):
            at = NOW - SPAN * rng.random()
            channel = CHANNELS[i % 6]
            phone = f"13{rng.randrange(10**9):09d}"
            prov, city, dist = CITIES[i % 5]
            x = rng.random()
            tag = "缺货" if x < 0.02 else "价格异常" if x < 0.03 else "疑似黄牛" if x < 0.035 else None
            if tag:
                tags_of[i] = tag
                tagged_at[i] = at
            status = "paid_hold" if tag in ("缺货", "疑似黄牛") else STATUSES[i % 5]
            total = 3900 + 100 * (i % 97)
            doc = {"order_id": f"B{i:08d}", "channel": channel, "status": status, "buyer_phone": phone,
                   "created_at": at.isoformat(), "receiver": {"name": "王小明", "phone": phone, "province": prov,
                                                              "city": city, "district": dist,
                                                              "address": f"{prov}{city}{dist}某路{i % 300}号"}}
            order_rows.append((i, channel, f"B{i:08d}"))
            yield (i, channel, f"B{i:08d}", "旗舰店", status, at, at, at, None, phone, phone[-4:], prov, city, dist,
                   None, total, 0, json.dumps([tag] if tag else []), json.dumps(doc), 1, channel, "pull", None, None,
                   None, None, None, at, at)

    started = time.perf_counter()
    with engine.begin() as conn:
        _copy(conn, "orders", ["id", "channel", "order_id", "shop", "status", "created_at", "updated_at", "paid_at",
                               "promised_ship_at", "buyer_phone", "phone_tail", "province", "city", "district",
                               "adcode", "total", "freight", "tags", "doc", "revision", "source", "via", "mapping",
                               "ruleset", "ruleset_version", "dropped_rule", "dropped_by", "stored_at", "changed_at"],
              order_gen())
        _copy(conn, "order_lines", ["order_pk", "line_no", "line_id", "sku_id", "platform_sku_id", "title", "qty",
                                    "unit_price", "amount", "paid_amount"],
              ((i, 0, "1", f"SKU-{i % 5000:04d}", None, "冷泡茶包", 1, 3900, 3900, 3900) for i, _, _ in order_rows))
        _copy(conn, "order_tags", ["order_pk", "tag", "created_at"],
              ((i, t, tagged_at[i]) for i, t in tags_of.items()))
        _copy(conn, "order_tags", ["order_pk", "tag", "created_at"],  # a flagged order's row, as record_flags
              ((i, FLAGGED, tagged_at[i]) for i, t in tags_of.items() if t == "疑似黄牛"))
        held = [i for i, t in tags_of.items() if t in ("缺货", "疑似黄牛")]
        _copy(conn, "order_pipeline", ["order_pk", "next_stage", "status", "seen_revision", "due_at", "attempts",
                                       "hold_reason", "held_by", "short_skus", "updated_at"],
              ((i, "reserve" if tags_of[i] == "缺货" else "price", "held", 1, NOW, 0,
                None if tags_of[i] == "缺货" else "风控规则 疑似黄牛", None if tags_of[i] == "缺货" else "pipeline:risk",
                json.dumps([f"SKU-{i % 5000:04d}"]) if tags_of[i] == "缺货" else None, NOW) for i in held))
        flagged = [i for i, t in tags_of.items() if t == "疑似黄牛"]
        _copy(conn, "risk_flags", ["order_pk", "channel", "order_id", "revision", "rule", "flag", "held", "ruleset",
                                   "ruleset_version", "evidence", "at"],
              ((i, order_rows[i - 1][1], order_rows[i - 1][2], 1, "疑似黄牛", "疑似黄牛", True, "risk_standard", 1,
                json.dumps({"figures": [{"measure": "count(orders by buyer_phone within 1h)", "value": 5,
                                         "by": "buyer_phone", "key": "13812345678"}]}), NOW - SPAN * rng.random())
               for i in flagged))
    loaded_orders = time.perf_counter() - started

    started = time.perf_counter()
    instance_rows: list[tuple[int, str, str, bool]] = []

    def instance_gen() -> Any:
        for t in range(1, tickets + 1):
            lifecycle = t % 4 != 0
            machine, ruleset = ("order_lifecycle", "order_lifecycle") if lifecycle else ("aftersales",
                                                                                         "aftersales_standard")
            open_ = rng.random() < 0.5
            state = _pick(rng, LIFECYCLE_OPEN if lifecycle else AFTERSALES_OPEN) if open_ else (
                "已完成" if lifecycle else "已关闭")
            order_pk = rng.randrange(1, orders + 1)
            oid = order_rows[order_pk - 1][2]
            entered = NOW - timedelta(seconds=rng.randrange(1, 8 * 86400))
            instance_rows.append((t, machine, state, open_))
            data = {"order_id": oid, "consumer_id": f"C{order_pk}", "consumer_phone": f"13{order_pk:09d}"}
            yield (t, machine, ruleset, 1, state, json.dumps(data), 1, oid, not open_, "bench", entered, entered,
                   entered, None if open_ else entered, None if open_ else 3600)

    def link_gen() -> Any:
        for t, machine, _, _ in instance_rows:
            if machine == "order_lifecycle":
                yield (t, rng.randrange(1, orders + 1), "order", f"R{t}", None, t, machine, None, NOW)

    def deadline_gen() -> Any:
        for t, machine, state, open_ in instance_rows:
            seconds = deadlines.get((machine, state))
            if open_ and seconds:
                late = rng.random() < 0.1
                due = NOW - timedelta(seconds=rng.randrange(60, 86400)) if late else \
                    NOW + timedelta(seconds=rng.randrange(60, seconds))
                yield (t, state, 1, due, "pending", None, "")

    with engine.begin() as conn:
        _copy(conn, "workflow_instances", ["id", "machine", "ruleset", "ruleset_version", "state", "data", "version",
                                           "order_id", "closed", "created_by", "created_at", "updated_at",
                                           "state_entered_at", "closed_at", "processing_seconds"], instance_gen())
        _copy(conn, "order_tickets", ["id", "order_pk", "kind", "refund_id", "line_id", "instance_id", "machine",
                                      "platform_status", "created_at"], link_gen())
        _copy(conn, "workflow_deadlines", ["instance_id", "state", "entry_seq", "due_at", "status", "fired_at",
                                           "outcome"], deadline_gen())
        _copy(conn, "inventory_stock", ["sku_id", "total_stock", "reserved_stock", "safety_stock", "version",
                                        "sync_timestamp"],
              ((f"SKU-{k:04d}", 500, k % 50, 5, 40, NOW) for k in range(5000)))
        _copy(conn, "inventory_ledger", ["operation", "sku_id", "delta_total", "delta_reserved", "total_after",
                                         "reserved_after", "safety_after", "version", "order_id", "channel", "actor",
                                         "reason", "key", "at"],
              (("adjust" if v == 1 else "reserve", f"SKU-{k:04d}", 500 if v == 1 else 0, 0 if v == 1 else 1, 500,
                v - 1, 5, v, None if v == 1 else f"B{v:08d}", "", "li_wh", "入库" if v == 1 else "", f"k{k}-{v}",
                NOW - timedelta(minutes=40 - v)) for k in range(5000) for v in range(1, 41)))
        _copy(conn, "inventory_channel_pushes", ["channel", "sku_id", "queued_version", "queued_available",
                                                 "delivery_id", "pushed_version", "pushed_available", "pushed_at"],
              ((c, f"SKU-{k:04d}", 40, 450, None, 40, 450, NOW) for k in range(5000) for c in CHANNELS))
        _copy(conn, "inventory_channel_snapshots", ["channel", "sku_id", "reported_stock", "available_at_pull",
                                                    "fence_token", "pulled_at"],
              ((c, f"SKU-{k:04d}", 450 - (k % 7 == 0), 450, 1, NOW) for k in range(5000) for c in CHANNELS))
        for table in ("orders", "workflow_instances", "order_tickets"):
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))
    loaded_tickets = time.perf_counter() - started
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # as autovacuum leaves a live store: statistics, and the visibility map that lets the
        # covering indexes (order_tags, open tickets) answer without reading the table. This
        # schema's tables only; again while a page is not all-visible (a snapshot another
        # session held open keeps the first pass from marking the newest pages)
        tables = conn.execute(text("SELECT c.oid::regclass::text FROM pg_class c WHERE c.relkind = 'r' "
                                   "AND c.relnamespace = current_schema()::regnamespace")).scalars().all()
        for attempt in range(5):
            for table in tables:
                conn.execute(text(f"VACUUM {'ANALYZE ' if attempt == 0 else ''}{table}"))
            behind = conn.execute(text(
                "SELECT count(*) FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
                "AND c.relname IN ('orders', 'order_tags', 'workflow_instances', 'workflow_deadlines') "
                "AND c.relallvisible < c.relpages")).scalar_one()
            if not behind:
                break
            time.sleep(2)
    analysed = time.perf_counter() - started
    flagged_pk = flagged[0] if flagged else 1
    return {"phone_tail": _phone_tail(engine, orders // 2),
            "order_pk": orders // 3, "held_pk": flagged_pk,
            "timings": (loaded_orders, loaded_tickets, analysed)}


def _phone_tail(engine: Any, pk: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT phone_tail FROM orders WHERE id = :pk"), {"pk": pk}).scalar())


def _states(services: Services, machine: str) -> list[Any]:
    from engine.workflow.registry import registry_of

    with services.db.session() as s:
        return list(registry_of(services).latest(s, machine).decl.states)


def _client(app: Any, services: Services, role: str) -> Any:
    from engine.auth.users import create_user

    username = f"bench_{role}_{os.getpid()}"
    with services.db.transaction() as s:
        create_user(s, username, role, PASSWORD, clock=services.clock)
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.1.1.{len(role)}"
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    return client


def _time(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    fn()  # warm (caches of compiled machines, templates)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]


def _tag_filter_both_ways(services: Services, repeats: int) -> list[str]:
    """Per tag: p50/p95 of the page query through ``order_tags`` and of the same page as a text
    scan of ``orders.tags`` (the list's query before the rows existed), and the ratio of p95s."""
    from sqlalchemy import Text, cast

    from engine.orders.model import Order
    from engine.orders.queries import _LISTED, OrderFilter, _filtered, _page, orders_page_statement

    def run(stmt: Any) -> Callable[[], Any]:
        def call() -> Any:
            with services.db.engine.connect() as conn:
                return conn.execute(stmt).all()
        return call

    out = []
    for tag in ("缺货", "价格异常", "疑似黄牛"):
        rows_way = orders_page_statement(OrderFilter(tags=[tag]), None, 50)
        scan_way = orders_page_statement(OrderFilter(), None, 50).where(
            cast(Order.tags, Text).like(f"%{json.dumps(tag)}%", escape="!"))
        first, second = run(rows_way)(), run(scan_way)()
        assert [r.id for r in first] == [r.id for r in second], tag  # the same page both ways
        new_p50, new_p95 = _time(run(rows_way), repeats)
        old_p50, old_p95 = _time(run(scan_way), max(3, repeats // 4))
        out.append(f"{tag}: order_tags p50 {new_p50:.1f} ms p95 {new_p95:.1f} ms; text scan of orders.tags "
                   f"p50 {old_p50:.1f} ms p95 {old_p95:.1f} ms; {old_p95 / new_p95:.0f}x faster")
    # 风险: the flagged orders' rows against the walk of every order probing risk_flags (as before)
    rows_way = orders_page_statement(OrderFilter(flagged=True), None, 50)
    keys = _page(_filtered(OrderFilter(flagged=True), (Order.id, Order.created_at)), Order.created_at, Order.id,
                 None, 50).subquery("page")
    probe_way = (select(*_LISTED).join(keys, keys.c.id == Order.id)
                 .order_by(keys.c.created_at.desc(), keys.c.id.desc()))
    first, second = run(rows_way)(), run(probe_way)()
    assert [r.id for r in first] == [r.id for r in second], "风险"
    new_p50, new_p95 = _time(run(rows_way), repeats)
    old_p50, old_p95 = _time(run(probe_way), max(3, repeats // 4))
    out.append(f"风险: flagged rows p50 {new_p50:.1f} ms p95 {new_p95:.1f} ms; every order probing risk_flags "
               f"p50 {old_p50:.1f} ms p95 {old_p95:.1f} ms; {old_p95 / new_p95:.0f}x faster")
    return out


def _plans(services: Services) -> list[tuple[str, str]]:
    """The index lines of the plans of the tag page, the kanban counts and 我的待办's two reads."""
    from builder_ui.boards.kanban import open_counts_statement
    from engine.inventory.models import ChannelPush
    from engine.orders.queries import OrderFilter, orders_page_statement
    from engine.workflow.listing import TicketFilter, _pending, _where
    from engine.workflow.models import WorkflowDeadline, WorkflowInstance
    from engine.workflow.registry import registry_of

    with services.db.session() as s:
        cond = _where(s, registry_of(services), TicketFilter(owner="warehouse"), NOW)
    inst, dl = WorkflowInstance.__table__, WorkflowDeadline.__table__
    timed = (select(inst.c.id, dl.c.due_at).select_from(dl.join(inst, inst.c.id == dl.c.instance_id))
             .where(dl.c.status == "pending", *cond).order_by(dl.c.due_at, inst.c.id).limit(51))
    untimed = select(inst.c.id).where(*cond, ~_pending()).order_by(inst.c.id).limit(51)
    statements = [("订单 tag=缺货", orders_page_statement(OrderFilter(tags=["缺货"]), None, 50)),
                  ("订单 风险", orders_page_statement(OrderFilter(flagged=True), None, 50)),
                  ("库存 SKU pushes", select(ChannelPush).where(ChannelPush.sku_id == "SKU-0007")),
                  ("看板 counts", open_counts_statement("order_lifecycle")),
                  ("我的待办 仓储, by deadline", timed), ("我的待办 仓储, no deadline", untimed)]
    out = []
    engine = services.db.engine
    with engine.connect() as conn:
        for name, stmt in statements:
            sql = str(stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
            lines = [r[0] for r in conn.execute(text("EXPLAIN " + sql))]
            used = [ln.strip() for ln in lines if " using " in ln.lower() or "Seq Scan" in ln]
            out.append((name, "; ".join(used) or lines[0].strip()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--reuse", metavar="SCHEMA", help="a schema an earlier run left loaded (kept afterwards)")
    parser.add_argument("--keep", action="store_true", help="keep the loaded schema (name printed) for --reuse")
    args = parser.parse_args()
    configure_logging(stream=open(os.devnull, "w"))  # noqa: SIM115
    from tests.support.backends import PostgresSchema, with_search_path

    schema = PostgresSchema(PG_URL)
    if args.reuse:
        schema.schema = args.reuse
        url = with_search_path(PG_URL, args.reuse)
    else:
        url = schema.create()
    try:
        from engine.storage.db import Database

        settings = Settings(database_url=url, redis_url=None, secret_key="bench-boards", testing=True)
        if args.reuse:
            services = Services.build(settings, clock=ManualClock(NOW))
            with services.db.engine.connect() as conn:
                orders, tickets = (conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                                   for t in ("orders", "workflow_instances"))
                held = conn.execute(text("SELECT min(order_pk) FROM risk_flags")).scalar_one()
            facts = {"phone_tail": _phone_tail(services.db.engine, orders // 2), "order_pk": orders // 3,
                     "held_pk": held}
            print(f"PostgreSQL (loopback): reusing schema {args.reuse} with {orders:,} orders, {tickets:,} tickets")
        else:
            db = Database(url)
            upgrade(db)
            db.dispose()
            services = Services.build(settings, clock=ManualClock(NOW))
            _publish(services)
            facts = load(services, args.orders, args.tickets)
            lo, lt, an = facts["timings"]
            print(f"PostgreSQL (loopback): {args.orders:,} orders loaded in {lo:.1f} s, {args.tickets:,} tickets and "
                  f"stock in {lt:.1f} s, VACUUM ANALYZE {an:.1f} s")
        from engine.app import create_app

        app = create_app(services=services)
        clients = {role: _client(app, services, role) for role in ("cs", "warehouse", "cs_lead", "admin")}

        def get(role: str, path: str) -> Callable[[], Any]:
            def call() -> Any:
                resp = clients[role].get(path)
                assert resp.status_code == 200, (path, resp.status_code, resp.get_data(as_text=True)[:300])
                return resp
            return call

        def plain_page() -> Any:
            with services.db.engine.connect() as conn:
                return conn.execute(text("SELECT id, channel, order_id, status, total, created_at FROM orders "
                                         "ORDER BY created_at DESC, id DESC LIMIT 50")).all()

        login_client = app.test_client()
        base_static = _time(lambda: login_client.get("/login"), args.repeats)
        base_query = _time(plain_page, args.repeats)
        tag_lines = _tag_filter_both_ways(services, args.repeats)
        plans = _plans(services)
        lists = [
            ("我的待办 客服 (overdue first)", "cs", "/work"),
            ("我的待办 仓储", "warehouse", "/work"),
            ("我的待办 search phone tail", "cs", f"/work?q={facts['phone_tail']}"),
            ("我的待办 channel=taobao", "warehouse", "/work?channel=taobao"),
            ("我的待办 state=待质检", "warehouse", "/work?machine=aftersales&state=待质检"),
            ("API instances owner+overdue", "admin", "/api/v1/instances?owner=warehouse&overdue=true"),
            ("看板 order_lifecycle", "warehouse", "/boards/order_lifecycle"),
            ("看板 aftersales", "cs", "/boards/aftersales"),
            ("订单 list", "cs_lead", "/orders"),
            ("订单 channel+status", "cs_lead", "/orders?channel=pdd&status=shipped"),
            ("订单 tag=缺货", "cs_lead", "/orders?tag=缺货"),
            ("订单 tag=价格异常", "cs_lead", "/orders?tag=价格异常"),
            ("订单 tag=风险", "cs_lead", "/orders?tag=风险"),
            ("订单 search phone tail", "cs_lead", f"/orders?q={facts['phone_tail']}"),
            ("订单 dates (7 days)", "cs_lead", "/orders?from=2026-11-01&to=2026-11-07"),
            ("订单 detail", "admin", f"/orders/{facts['order_pk']}"),
            ("库存 list", "warehouse", "/stock"),
            ("库存 SKU (channels, ledger)", "warehouse", "/stock/SKU-0007"),
            ("预警 risk holds", "cs_lead", "/warnings"),
        ]
        print(f"  baselines: GET /login p50 {base_static[0]:.1f} ms p95 {base_static[1]:.1f} ms; "
              f"plain orders page query p50 {base_query[0]:.1f} ms p95 {base_query[1]:.1f} ms "
              f"({args.repeats} repeats each)")
        print(f"  {'list':<34} {'p50 ms':>8} {'p95 ms':>8} {'x /login':>9} {'x query':>8}  goal p95 <= 300 ms")
        worst = 0.0
        for name, role, path in lists:
            p50, p95 = _time(get(role, path), args.repeats)
            worst = max(worst, p95)
            print(f"  {name:<34} {p50:>8.1f} {p95:>8.1f} {p95 / base_static[1]:>8.1f}x {p95 / base_query[1]:>7.1f}x  "
                  f"{'met' if p95 <= 300 else 'NOT met'}")
        print(f"  worst p95 {worst:.1f} ms: goal {'met' if worst <= 300 else 'NOT met'} "
              f"(cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")
        print("  tag filter, the page's query alone, newest 50 (same store, same run):")
        for line in tag_lines:
            print(f"    {line}")
        print("  plans (EXPLAIN, the index each read uses):")
        for name, plan in plans:
            print(f"    {name}: {plan}")
        services.db.dispose()
    finally:
        if args.keep or args.reuse:
            print(f"  schema kept: {schema.schema} (drop it with DROP SCHEMA \"{schema.schema}\" CASCADE)")
        else:
            schema.drop()


if __name__ == "__main__":
    main()
