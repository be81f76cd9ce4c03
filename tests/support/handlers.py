"""Outbox handlers used by tests (loaded through ORDERPULSE_HANDLER_MODULES).

Topic ``test.receipt`` proves exactly-once effects across worker processes: each call first
appends the delivery id to this process's call log (a file in the folder named by
``ORDERPULSE_TEST_CALL_LOG_DIR``, when set), then inserts a receipt row through
``delivery.session`` into ``outbox_test_receipts`` — a test-only table the tests create
themselves (it is not part of the migrations). The receipt commits only together with the
delivery mark, so receipts count effects while the call logs count every handler call.
Other behaviour is registered per test case on ``services.handlers``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import text

from engine.outbox.registry import Delivery, HandlerRegistry
from engine.storage.db import Database

RECEIPT_TOPIC = "test.receipt"
RECEIPTS_TABLE = "outbox_test_receipts"
CALL_LOG_DIR_ENV = "ORDERPULSE_TEST_CALL_LOG_DIR"
HANG_FILE_ENV = "ORDERPULSE_TEST_HANG_FILE"


def create_receipts_table(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {RECEIPTS_TABLE} ("
                " delivery_id VARCHAR(36) NOT NULL,"
                " pid INTEGER NOT NULL,"
                " attempt INTEGER NOT NULL)"
            )
        )
        conn.execute(text(f"DELETE FROM {RECEIPTS_TABLE}"))


def drop_receipts_table(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {RECEIPTS_TABLE}"))


def receipt_counts(db: Database) -> dict[str, int]:
    """Receipts per delivery id."""
    with db.engine.connect() as conn:
        rows = conn.execute(text(f"SELECT delivery_id, COUNT(*) FROM {RECEIPTS_TABLE} GROUP BY delivery_id"))
        return {str(d): int(n) for d, n in rows}


def read_call_logs(folder: Path) -> dict[str, list[str]]:
    """Delivery ids per call-log file (one file per worker process)."""
    out: dict[str, list[str]] = {}
    for path in sorted(folder.glob("calls-*.log")):
        out[path.name] = [line for line in path.read_text().splitlines() if line]
    return out


def _log_call(delivery_id: str) -> None:
    folder = os.environ.get(CALL_LOG_DIR_ENV)
    if not folder:
        return
    path = os.path.join(folder, f"calls-{os.getpid()}.log")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{delivery_id}\n".encode())  # one write per line: whole lines even under SIGKILL
    finally:
        os.close(fd)


def _hang_if_asked() -> None:
    """With ``ORDERPULSE_TEST_HANG_FILE`` set: once that file exists, announce it and stop here
    forever, inside the handler with the claim held (the test then kills the process)."""
    trigger = os.environ.get(HANG_FILE_ENV)
    if trigger and os.path.exists(trigger):
        Path(f"{trigger}.{os.getpid()}.hanging").touch()
        while True:
            time.sleep(1)


def record_receipt(delivery: Delivery) -> None:
    _log_call(delivery.delivery_id)
    _hang_if_asked()
    delivery.session.execute(
        text(f"INSERT INTO {RECEIPTS_TABLE} (delivery_id, pid, attempt) VALUES (:d, :p, :a)"),
        {"d": delivery.delivery_id, "p": os.getpid(), "a": delivery.attempt},
    )


def register_handlers(registry: HandlerRegistry) -> None:
    registry.register(RECEIPT_TOPIC, record_receipt)
