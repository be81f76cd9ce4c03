"""Builder page speed: server time of each page with 200 rulesets and 1,000 published versions,
next to a static page served by the same app in the same run (the baseline).

Pages are requested through the WSGI app in process (Flask's test client, signed in through the
login form), so the figure is server time: routing, session, access check, queries, template.
Each page is requested ``--rounds`` times after a warm-up; the median and p95 are printed with
the ratio to the static baseline. Goal: every page <= 200 ms.

Run: ``.venv/bin/python bench/builder.py [--rounds N] [--database-url URL]``.
"""

from __future__ import annotations

import argparse
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
    services.db.dispose()


if __name__ == "__main__":
    main()
