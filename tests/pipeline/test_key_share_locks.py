"""On PostgreSQL the writers that lock an order's row while they work on it (the pipeline's claim,
the store taking a newer revision, a hold, a cancellation) take ``FOR NO KEY UPDATE``: they
still exclude one another, but a row that only references the order (a shipment, a timeline
entry: a foreign-key check takes ``KEY SHARE``) goes in at once instead of waiting for the
pipeline's batch to commit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import OperationalError

from engine.orders import store
from engine.orders.pipeline import Pipeline
from engine.orders.pipeline_model import OrderShipment
from engine.services import Services
from tests.pipeline.helpers import order, put


def _second(services: Services, work: Any) -> None:
    """Run ``work(connection)`` in another transaction that gives up on a lock after 1 s."""
    with services.db.engine.connect() as conn:
        with conn.begin():
            conn.execute(text("SET LOCAL lock_timeout = '1s'"))
            work(conn)


@pytest.mark.postgres
def test_a_shipment_goes_in_while_the_pipeline_holds_its_order_and_the_store_still_waits(services: Services) -> None:
    [stored] = put(services, order("K1"))
    with services.db.transaction() as session:  # the pipeline's batch, claimed and not yet committed
        claimed = Pipeline(services)._claim(session, services.clock.now(), 10, None)
        assert [r.order_pk for r in claimed] == [stored.order_pk]

        def ship(conn: Any) -> None:
            conn.execute(insert(OrderShipment).values(
                order_pk=stored.order_pk, courier="SF", tracking_no="SF1000000001", lines=[], via="api",
                actor="warehouse", at=services.clock.now()))

        _second(services, ship)  # the foreign-key check does not wait for the batch

        newer = order("K1", minutes=5, status="shipped")
        with pytest.raises(OperationalError, match="lock timeout"):  # another writer of the order waits
            _second(services, lambda conn: store._lock_existing(conn, [(newer["channel"], newer["order_id"])]))
