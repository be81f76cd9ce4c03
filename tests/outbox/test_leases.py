"""SQL leases with fencing tokens, and fenced Redis locks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import leases
from engine.leases import StaleFence


def test_acquire_gives_increasing_tokens_and_refuses_a_second_holder(services, clock) -> None:
    db, now = services.db, clock.now()
    assert leases.acquire(db, "reconciler", "w1", 30, now) == 1
    assert leases.acquire(db, "reconciler", "w2", 30, now) is None
    assert leases.acquire(db, "reconciler", "w1", 30, now + timedelta(seconds=10)) == 1  # re-entrant, extended
    assert leases.acquire(db, "reconciler", "w2", 30, now + timedelta(seconds=39)) is None
    assert leases.acquire(db, "reconciler", "w2", 30, now + timedelta(seconds=40)) == 2  # w1's lease ran out
    assert leases.acquire(db, "other-job", "w1", 30, now) == 1  # leases are per name


def test_renew_and_release(services, clock) -> None:
    db, now = services.db, clock.now()
    token = leases.acquire(db, "puller", "w1", 10, now)
    assert token == 1
    assert leases.renew(db, "puller", "w1", token, 10, now + timedelta(seconds=9))
    assert leases.acquire(db, "puller", "w2", 10, now + timedelta(seconds=15)) is None  # renewed to +19 s
    assert not leases.renew(db, "puller", "w2", token, 10, now)  # not the holder
    assert leases.release(db, "puller", "w1", token)
    assert leases.acquire(db, "puller", "w2", 10, now + timedelta(seconds=15)) == 2  # no wait after release
    assert not leases.renew(db, "puller", "w1", token, 10, now + timedelta(seconds=16))  # w1 lost it


def test_check_fence_refuses_a_holder_that_paused_past_its_lease(services, clock) -> None:
    db, now = services.db, clock.now()
    old = leases.acquire(db, "reconciler", "paused", 5, now)
    new = leases.acquire(db, "reconciler", "fresh", 5, now + timedelta(seconds=6))
    assert old == 1 and new == 2
    with db.transaction(immediate=True) as s:
        leases.check_fence(s, "reconciler", new)
    with pytest.raises(StaleFence, match="fencing token 1 is stale .current token: 2."):
        with db.transaction(immediate=True) as s:
            leases.check_fence(s, "reconciler", old)
    with pytest.raises(StaleFence):
        with db.transaction() as s:
            leases.check_fence(s, "never-acquired", 1)


def test_ttl_must_be_positive(services, clock) -> None:
    with pytest.raises(ValueError):
        leases.acquire(services.db, "x", "w", 0, clock.now())
