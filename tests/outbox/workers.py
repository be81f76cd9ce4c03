"""Starting and stopping real ``orderpulse worker`` processes for the outbox tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from engine.outbox import enqueue
from engine.storage.db import Database
from tests.support.handlers import CALL_LOG_DIR_ENV, RECEIPT_TOPIC

REPO_ROOT = Path(__file__).resolve().parents[2]


def worker_command() -> list[str]:
    script = Path(sys.executable).with_name("orderpulse")
    return [str(script), "worker"] if script.exists() else [sys.executable, "-m", "engine.cli", "worker"]


class Worker:
    def __init__(self, index: int, database_url: str, folder: Path, extra_env: dict[str, str]) -> None:
        self.index = index
        self.log_path = folder / f"worker-{index}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPULSE_")}
        env.update(
            ORDERPULSE_DATABASE_URL=database_url,
            ORDERPULSE_HANDLER_MODULES="tests.support.handlers",
            ORDERPULSE_SECRET_KEY="worker-test",
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            **{CALL_LOG_DIR_ENV: str(folder)},
            **extra_env,
        )
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            worker_command(), cwd=folder, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def call_log(self) -> list[str]:
        path = self.log_path.parent / f"calls-{self.pid}.log"
        return path.read_text().split() if path.exists() else []

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


def start_workers(count: int, database_url: str, folder: Path, first_env: dict[str, str] | None = None,
                  **extra_env: str) -> list[Worker]:
    """Start ``count`` workers; ``first_env`` adds environment for worker 0 only."""
    workers = []
    for i in range(count):
        env = {**extra_env, **(first_env or {})} if i == 0 else dict(extra_env)
        workers.append(Worker(i, database_url, folder, env))
    return workers


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_started(workers: list[Worker], timeout: float = 60) -> None:
    def all_started() -> bool:
        for w in workers:
            if w.process.poll() is not None:
                raise AssertionError(f"worker {w.index} exited with {w.process.returncode}:\n{w.log_text()[-3000:]}")
        return all('"worker started"' in w.log_text() for w in workers)

    wait_for(all_started, timeout, "workers to start")


def terminate(workers: list[Worker], timeout: float = 30) -> list[int | None]:
    """SIGTERM every live worker, wait for it, and return the exit codes (None: killed after timeout)."""
    for w in workers:
        if w.process.poll() is None:
            w.process.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for w in workers:
        try:
            codes.append(w.process.wait(timeout))
        except subprocess.TimeoutExpired:
            codes.append(None)
    return codes


def enqueue_receipts(database_url: str, count: int) -> None:
    """Commit ``count`` receipt deliveries due now on the real clock (workers use it)."""
    db = Database(database_url)
    now = datetime.now(timezone.utc)
    try:
        with db.transaction() as s:
            for i in range(count):
                enqueue(s, RECEIPT_TOPIC, {"n": i}, now=now, source="worker-test")
    finally:
        db.dispose()
