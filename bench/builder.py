"""Builder page speed: server time of each page with 200 rulesets and 1,000 published versions,
next to a static page served by the same app in the same run (the baseline).

Pages are requested through the WSGI app in process (Flask's test client, signed in through the
login form), so the figure is server time: routing, session, access check, queries, template.
Each page is requested ``--rounds`` times after a warm-up; the median and p95 are printed with
the ratio to the static baseline. Goal: every page <= 200 ms.

Then 会有什么变化 over ``--orders`` stored orders (default 20,000): the streamed request timed to
its first progress line and to its result, next to its parts measured alone in the same run
(reading the orders, and quoting each with both plans), with CPU seconds, since the machine is
shared.

Run: ``.venv/bin/python bench/builder.py [--rounds N] [--orders N] [--database-url URL]``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.app import create_app
from engine.auth.users import create_user
from engine.config import Settings
from engine.orders.model import Order
from engine.orders.samples import recent_order_batches
from engine.pricing.loading import plan_from_content
from engine.pricing.order_input import read_order
from engine.pricing.quote import quote_priced_order
from engine.rulesets.history import checksum, content_diff
from engine.services import Services
from engine.storage.migrate import upgrade
from engine.storage.models import Ruleset, RulesetAudit, RulesetVersion

RULESETS = 200
VERSIONS = 1_000
FESTIVAL = (ROOT / "templates_library" / "promotion_apparel_festival.op").read_text(encoding="utf-8")
PASSWORD = "bench-password-1"


def populate(services: Services) -> str:
    """200 rulesets, 1,000 versions (5 each) with their audit rows; returns the name of one."""
    now = services.clock.now()
    per = VERSIONS // RULESETS
    with services.db.transaction() as s:
        create_user(s, "bench_ops", "ops", PASSWORD)
        create_user(s, "bench_admin", "admin", PASSWORD)
        for i in range(RULESETS):
            contents = [FESTIVAL.replace("amount_off ¥40", f"amount_off ¥{40 + v}").replace(
                "apparel_festival", f"festival_{i}") for v in range(per)]
            ruleset = Ruleset(name=f"promo_{i:03d}", title=f"大促 {i}", draft_content=contents[-1], draft_format="dsl",
                              draft_revision=per, draft_base_version=per, draft_updated_by="bench_ops",
                              draft_updated_at=now, created_by="bench_ops", created_at=now, latest_version=per)
            s.add(ruleset)
            s.flush()
            previous = ""
            for v, content in enumerate(contents, start=1):
                s.add(RulesetVersion(ruleset_id=ruleset.id, version=v, content=content, format="dsl",
                                     checksum=checksum(content), published_by="bench_ops", published_at=now,
                                     rolled_back_from=None, note=f"第 {v} 版"))
                s.add(RulesetAudit(ruleset_id=ruleset.id, action="publish", actor="bench_ops", at=now, version=v,
                                   diff=content_diff(previous, content, f"a@v{v - 1}", f"b@v{v}")))
                previous = content
    return f"promo_{RULESETS // 2:03d}"


def store_orders(services: Services, count: int) -> None:
    """``count`` stored orders of one to three lines (¥59 to ¥899 each), one a minute."""
    from datetime import timedelta

    now = services.clock.now()
    rows = []
    for i in range(count):
        lines = [{"line_id": str(k + 1), "sku_id": f"SKU-{(i + k) % 97}", "title": "连衣裙", "category": "连衣裙",
                  "qty": 1, "unit_price": 5900 + (i * 7919 + k * 3301) % 84000,
                  "amount": 5900 + (i * 7919 + k * 3301) % 84000} for k in range(1 + i % 3)]
        created = now - timedelta(minutes=count - i)
        doc = {"order_id": f"BENCH-{i:06d}", "channel": "douyin", "shop": "抖店", "status": "awaiting_shipment",
               "customer": {"id": f"C{i % 500}", "level": ("金卡", "银卡", "普通")[i % 3]}, "red_packet": 0,
               "freight": 0, "lines": lines}
        rows.append({"channel": "douyin", "order_id": doc["order_id"], "shop": "抖店", "status": "awaiting_shipment",
                     "created_at": created, "updated_at": created, "tags": [], "doc": doc,
                     "total": sum(line["amount"] for line in lines), "stored_at": now, "changed_at": now,
                     "source": "douyin", "via": "pull"})
    with services.db.transaction() as s:
        for start in range(0, count, 2000):
            s.execute(Order.__table__.insert(), rows[start:start + 2000])


def bench_what_changes(services: Services, client: Any, csrf: str, name: str, draft: str, published: str,
                       count: int) -> None:
    """会有什么变化 over ``count`` orders through the page's own call, against its parts alone."""
    started, cpu = time.perf_counter(), time.process_time()
    with services.db.session() as s:
        orders = [o for batch in recent_order_batches(s, count) for o in batch]
    read_s, read_cpu = time.perf_counter() - started, time.process_time() - cpu
    plans = (plan_from_content(published, name="bench@published"), plan_from_content(draft, name="bench@draft"))
    started, cpu = time.perf_counter(), time.process_time()
    changed = 0
    for _, _, doc in orders:
        po = read_order(dict(doc))
        payables = [quote_priced_order(plan, po, with_log=False)["totals"]["payable"] for plan in plans]
        changed += payables[0] != payables[1]
    quote_s, quote_cpu = time.perf_counter() - started, time.process_time() - cpu
    parts = read_s + quote_s

    started, cpu = time.perf_counter(), time.process_time()
    resp = client.post(f"/rulesets/{name}/what-changes", json={"content": draft, "n": count},
                       headers={"X-CSRFToken": csrf}, buffered=False)
    first = None
    progress = 0
    result: dict[str, Any] = {}
    for chunk in resp.response:
        for line in chunk.decode().splitlines() if isinstance(chunk, bytes) else chunk.splitlines():
            msg = json.loads(line)
            if "progress" in msg:
                progress += 1
                first = first if first is not None else time.perf_counter() - started
            result = msg.get("result", result)
    total_s, total_cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.get("examined") == count, result.get("examined")
    assert result["comparisons"][0]["changed"] == changed, (result["comparisons"][0]["changed"], changed)
    print(f"\n会有什么变化 over {count:,} stored orders ({changed:,} change; {progress} progress lines)")
    print(f"  parts alone: read {read_s * 1000:,.0f} ms (cpu {read_cpu:.2f} s), quote ×2 {quote_s * 1000:,.0f} ms "
          f"(cpu {quote_cpu:.2f} s); sum {parts * 1000:,.0f} ms")
    print(f"  page call:   first progress {first * 1000 if first else 0:,.0f} ms, result {total_s * 1000:,.0f} ms "
          f"(cpu {total_cpu:.2f} s) = {total_s / parts:.2f}× the parts; "
          f"{count / total_s:,.0f} orders/s, {count / max(total_cpu, 1e-9):,.0f} orders per CPU-second")


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.group(1)


def login(app: Any, username: str) -> Any:
    client = app.test_client()
    token = _find(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.status_code
    return client


def timed(call: Any, rounds: int) -> tuple[float, float]:
    for _ in range(3):
        call()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        resp = call()
        samples.append((time.perf_counter() - start) * 1000)
        assert resp.status_code in (200, 422), resp.status_code
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--orders", type=int, default=20_000, help="stored orders for 会有什么变化 (0: skip)")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="op-bench-builder-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    services = Services.build(Settings(database_url=url, secret_key="bench", testing=False))
    upgrade(services.db)
    started = time.perf_counter()
    name = populate(services)
    print(f"set-up: {RULESETS} rulesets, {VERSIONS} versions in {time.perf_counter() - started:.1f}s on "
          f"{url.split(':', 1)[0]}")
    app = create_app(services=services)
    ops = login(app, "bench_ops")
    admin = login(app, "bench_admin")
    csrf = _find(r'<meta name="csrf-token" content="([^"]+)"', ops.get("/rulesets").get_data(as_text=True))
    draft = FESTIVAL.replace("apparel_festival", "festival_100")
    sample = '{"lines": [{"line_id": "L1", "sku_id": "A", "qty": 1, "unit_price": 29900}], "customer": {"level": "金卡"}}'
    pages = [
        ("static page (baseline)", lambda: ops.get("/builder-static/builder.css")),
        ("login page (template, no query)", lambda: app.test_client().get("/login")),
        ("规则集 list", lambda: ops.get("/rulesets")),
        ("ruleset workspace", lambda: ops.get(f"/rulesets/{name}")),
        ("对比 v1 ↔ v5", lambda: ops.get(f"/rulesets/{name}/diff?a=1&b=5")),
        ("回滚 confirmation", lambda: ops.get(f"/rulesets/{name}/rollback?to=2")),
        ("模板库", lambda: ops.get("/templates")),
        ("用户", lambda: admin.get("/users")),
        ("live check (JSON)", lambda: ops.post(f"/rulesets/{name}/live", json={"content": draft},
                                               headers={"X-CSRFToken": csrf})),
        ("试算 draft vs published", lambda: ops.post(f"/rulesets/{name}/simulate", json={"content": draft, "order": sample},
                                                     headers={"X-CSRFToken": csrf})),
    ]
    baseline = None
    print(f"{'page':<34} {'median ms':>10} {'p95 ms':>9} {'× static':>9}")
    for label, call in pages:
        median, p95 = timed(call, args.rounds)
        baseline = baseline or median
        flag = "" if p95 <= 200 else "  (over the 200 ms goal)"
        print(f"{label:<34} {median:>10.2f} {p95:>9.2f} {median / baseline:>9.1f}{flag}")
    if args.orders:
        store_orders(services, args.orders)
        with services.db.session() as s:
            published = s.query(RulesetVersion.content).join(Ruleset).filter(
                Ruleset.name == name, RulesetVersion.version == Ruleset.latest_version).scalar()
        bench_what_changes(services, ops, csrf, name, draft.replace("amount_off ¥40", "amount_off ¥50"), published,
                           args.orders)
    services.db.dispose()


if __name__ == "__main__":
    main()
