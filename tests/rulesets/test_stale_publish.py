"""Two people publishing from the same base: the second gets 409 and nothing changes — through
the API, with truly concurrent transactions, and on the last line of defence (the unique
``(ruleset_id, version)`` constraint)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import text as sql

from engine.errors import Conflict
from engine.rulesets import service
from engine.storage.models import RulesetVersion
from tests.rulesets.helpers import L1, L2, L3, Api, publish_content, text


def test_second_publish_from_the_same_base_gets_409_and_changes_nothing(client, tokens) -> None:
    api = Api(client, tokens)
    api.call("POST", "", body={"name": "spring", "content": text(L1)})
    api.call("POST", "/spring/publish", body={"base_version": 0})
    # Both editors start from v1.
    seen_by_admin = api.get("/spring", role="admin")["latest_version"]
    seen_by_ops = api.get("/spring", role="ops")["latest_version"]
    assert seen_by_admin == seen_by_ops == 1

    api.call("PUT", "/spring/draft", role="admin", body={"content": text(L1, L2)})
    status, v2 = api.call("POST", "/spring/publish", role="admin", body={"base_version": seen_by_admin})
    assert status == 201 and v2["version"] == 2

    api.call("PUT", "/spring/draft", role="ops", body={"content": text(L1, L3)})
    before = api.snapshot("spring")
    status, body = api.call("POST", "/spring/publish", role="ops", body={"base_version": seen_by_ops})
    assert status == 409
    assert body["error"]["code"] == "stale_base"
    assert "v2" in body["error"]["message"] and "v1" in body["error"]["message"]
    assert body["error"]["details"] == [
        {"path": "/base_version", "message": "stale base version", "base_version": 1, "latest_version": 2}
    ]
    assert api.snapshot("spring") == before
    assert [v["version"] for v in before["versions"]] == [2, 1]


def test_concurrent_publishes_from_the_same_base_one_wins(services) -> None:
    publish_content(services, "race", text(L1))
    with services.db.transaction(immediate=True) as s:
        service.put_draft(s, "race", content=text(L1, L2), actor="li", now=services.clock.now())

    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def publisher(actor: str) -> None:
        barrier.wait()
        try:
            with services.db.transaction(immediate=True) as s:
                outcomes.append(service.publish(s, "race", base_version=1, actor=actor, now=services.clock.now()).version)
        except Conflict as err:
            outcomes.append(err.code)

    threads = [threading.Thread(target=publisher, args=(who,)) for who in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes, key=str) == [2, "stale_base"]
    with services.db.session() as s:
        assert [v.version for v in service.list_versions(s, "race")] == [2, 1]
        assert service.get_ruleset(s, "race").latest_version == 2


@pytest.mark.postgres
def test_conditional_update_stops_a_publisher_that_read_before_the_other_committed(services) -> None:
    """B reads latest=1 while A's publish is uncommitted, then waits on A's row lock; when A
    commits, B's ``UPDATE … WHERE latest_version = 1`` matches nothing → 409 stale_base."""
    publish_content(services, "pgrace", text(L1))
    with services.db.transaction() as s:
        service.put_draft(s, "pgrace", content=text(L1, L2), actor="li", now=services.clock.now())

    session_a = services.db.session()
    version_a = service.publish(session_a, "pgrace", base_version=1, actor="a", now=services.clock.now())
    assert version_a.version == 2  # flushed, row lock held, not committed

    pid: list[int] = []
    result: list[Any] = []

    def publisher_b() -> None:
        with services.db.session() as session_b:
            pid.append(session_b.scalar(sql("SELECT pg_backend_pid()")))
            try:
                result.append(service.publish(session_b, "pgrace", base_version=1, actor="b", now=services.clock.now()))
                session_b.commit()
            except Conflict as err:
                session_b.rollback()
                result.append(err)

    thread = threading.Thread(target=publisher_b)
    thread.start()
    deadline = time.monotonic() + 20
    with services.db.engine.connect() as probe:
        while True:
            waiting = pid and probe.execute(
                sql("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"), {"pid": pid[0]}
            ).scalar()
            if waiting:
                break
            assert time.monotonic() < deadline, "publisher B never blocked on A's row lock"
            time.sleep(0.02)
    session_a.commit()
    session_a.close()
    thread.join(20)

    (err,) = result
    assert isinstance(err, Conflict) and err.code == "stale_base"
    assert err.details[0]["base_version"] == 1 and err.details[0]["latest_version"] == 2
    with services.db.session() as s:
        assert [(v.version, v.published_by) for v in service.list_versions(s, "pgrace")] == [(2, "a"), (1, "li")]


def test_unique_version_constraint_turns_a_duplicate_into_409(services) -> None:
    """If a version row exists that ``latest_version`` does not know about (a writer that
    bypassed the guard), the unique constraint refuses the duplicate and nothing is kept."""
    publish_content(services, "dupe", text(L1))
    now = services.clock.now()
    with services.db.transaction() as s:
        ruleset = service.get_ruleset(s, "dupe")
        s.add(RulesetVersion(ruleset_id=ruleset.id, version=2, content="x", format="dsl", checksum="sha256:0",
                             published_by="ghost", published_at=now, note=""))
        service.put_draft(s, "dupe", content=text(L3), actor="li", now=now)
    with pytest.raises(Conflict) as caught, services.db.transaction(immediate=True) as s:
        service.publish(s, "dupe", actor="li", now=now)
    assert caught.value.code == "version_conflict" and caught.value.status == 409
    with services.db.session() as s:
        assert service.get_ruleset(s, "dupe").latest_version == 1
        assert [a.action for a in service.list_audit(s, "dupe")] == ["draft", "publish", "create"]
