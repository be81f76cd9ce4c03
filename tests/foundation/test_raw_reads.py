"""Reads on kept raw connections (engine/storage/raw.py): a server restart that kills every
kept connection costs the next call nothing but a fresh connection from the pool."""

from __future__ import annotations

import pytest
from sqlalchemy import text


@pytest.mark.postgres
def test_kept_connections_lost_to_a_server_restart_are_replaced_at_once(services) -> None:
    reads = services.db.raw_reads
    kept = [reads.shelf.take() for _ in range(3)]
    for fairy in kept:
        reads.shelf.give(fairy)
    pids = [fairy.driver_connection.info.backend_pid for fairy in kept]
    with services.db.engine.connect() as conn:  # as a restart or failover would
        for pid in pids:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
    assert reads.fetch("SELECT 1 + ?", (1,)) == [(2,)]  # first call after the restart, no error
    assert reads.fetch("SELECT 2 + ?", (1,)) == [(3,)]


def test_reads_outside_a_transaction_see_committed_rows(services) -> None:
    with services.db.transaction() as s:
        s.execute(text("CREATE TABLE raw_probe (n INTEGER)"))
        s.execute(text("INSERT INTO raw_probe VALUES (7)"))
    assert services.db.raw_reads.fetch("SELECT n FROM raw_probe WHERE n = ?", (7,)) == [(7,)]
