"""The peak-day drill end to end, as a merchant runs it in CI: ``orderpulse drill`` started as
a command against OrderPulse processes it spawns (the embedded default, or PostgreSQL +
Redis with a ``serve`` and a ``worker`` when the suite runs on PostgreSQL), with the fakes,
the faults and the report.

- the CI-sized day (a few hundred orders, 5xx, time-outs, a platform down, forged
  signatures, Redis restarted and a worker killed where they apply) must pass: exit 0 and
  every must-be-0 measure 0;
- the same day with a deliberately broken setting — every source's ``retry`` cut to a single
  1 s retry while a platform is down — must fail, and name the measure that caught it (dead
  letters that were not permanent errors).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.backends import configured_database_url, is_postgres_run

CI_DAY = Path(__file__).with_name("ci_day.toml")
ROOT = Path(__file__).resolve().parents[2]


def drill(tmp_path: Path, scenario: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    argv = [sys.executable, "-m", "engine.cli", "drill", "--scenario", str(scenario), "--report",
            str(tmp_path / "report"), *args]
    if is_postgres_run():
        redis = "private" if shutil.which("redis-server") else (os.environ.get("ORDERPULSE_REDIS_URL") or "")
        argv += ["--database-url", str(configured_database_url()), "--serve", "1", "--workers", "1"]
        if redis:
            argv += ["--redis-url", redis]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    report_file = tmp_path / "report" / "report.json"
    assert report_file.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done.returncode, json.loads(report_file.read_text(encoding="utf-8")), done.stdout


@pytest.mark.timeout(1500)
def test_the_ci_sized_festival_day_holds_under_the_fault_timeline(tmp_path: Path) -> None:
    code, report, out = drill(tmp_path, CI_DAY, "--orders", "300", "--speed", "3000", "--settle", "600")
    m = report["measures"]
    assert code == 0, out[-4000:]
    assert report["failed"] == []
    assert m["orders_placed"] == 300 and m["orders_stored"] == 300
    assert m["oversell"] == 0 and m["ledger_mismatches"] == 0 and m["orders_stuck"] == 0
    assert m["orders_held"].get("缺货", 0) > 0  # the hot SKUs ran out: held, never oversold
    assert m["orders_shipped"] > 150
    assert m["bad_signatures_sent"] == 20 and m["bad_signatures_accepted"] == 0
    applied = {f["kind"] for f in m["faults"] if f["applied"]}
    assert {"platform_5xx", "platform_timeout", "platform_down", "bad_signatures"} <= applied
    if is_postgres_run():
        assert {"worker_kill"} <= applied
    assert report["backlog_end"] == {"pipeline": 0, "outbox": 0}
    assert m["writeback_latency_ms"]["n"] > 0 and m["stock_push_latency_ms"]["n"] > 0
    assert set(report["cpu_ms_per_order"]) >= {"serve", "drill (fakes, actors)"}
    page = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "<svg" in page and "通过" in page and "<script" not in page and "src=" not in page
    assert "verdict: PASS" in out


@pytest.mark.timeout(1500)
def test_a_single_short_retry_is_caught_by_the_dead_letters_that_were_not_permanent(tmp_path: Path) -> None:
    """抖店 is down all day and after; with every source's ``retry`` cut to one 1 s retry, the outbox gives
    up on each pushed order's fetch after two attempts: dead letters from a 503, not from a
    configuration error."""
    broken = tmp_path / "broken_retry.toml"
    text = CI_DAY.read_text(encoding="utf-8")
    text = re.sub(r'retry = "[^"]*"', 'retry = "1s"', text)
    down = 'at_hour = 19\nkind = "platform_down"\nplatform = "douyin"\nminutes = 40\n'
    assert down in text
    broken.write_text(text.replace(down, 'at_hour = 0\nkind = "platform_down"\nplatform = "douyin"\n'
                                         'minutes = 20000\n'), encoding="utf-8")  # down past the drill's end
    code, report, out = drill(tmp_path, broken, "--orders", "120", "--speed", "3000", "--settle", "30",
                              "--faults", "platform_down")
    assert code == 1, out[-4000:]
    assert "dead_letters_not_permanent" in report["failed"]
    assert report["measures"]["dead_letters_not_permanent"] > 0
    assert all("503" in line or "unavailable" in line for line in report["measures"]["dead_letters_sample"])
    assert "FAIL dead_letters_not_permanent" in out
    assert "verdict: FAIL" in out
