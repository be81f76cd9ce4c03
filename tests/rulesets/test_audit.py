"""Every change to a ruleset leaves an audit row: action, actor, time, version and the exact
unified diff between the previous and the new content."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from engine.rulesets import service
from tests.rulesets.helpers import L1, L2, L3, Api, text


def test_audit_rows_carry_exact_unified_diffs(client, tokens, clock) -> None:
    api = Api(client, tokens)
    start = clock.now()
    api.call("POST", "", body={"name": "notify", "content": text(L1, L2)})
    clock.advance(10)
    api.call("PUT", "/notify/draft", role="admin", body={"content": text(L1, L3), "revision": 1})
    clock.advance(10)
    api.call("POST", "/notify/publish", body={"base_version": 0})
    clock.advance(10)
    api.call("PUT", "/notify/draft", body={"content": text(L1, L2, L3)})
    clock.advance(10)
    api.call("POST", "/notify/publish", role="admin", body={"base_version": 1})
    clock.advance(10)
    status, _ = api.call("POST", "/notify/rollback", body={"to_version": 1})
    assert status == 201

    audit = api.get("/notify/audit", role="cs")
    assert [(a["action"], a["actor"], a["version"]) for a in audit] == [
        ("rollback", "user_ops", 3),
        ("publish", "user_admin", 2),
        ("draft", "user_ops", 1),
        ("publish", "user_ops", 1),
        ("draft", "user_admin", None),
        ("create", "user_ops", None),
    ]
    times = [datetime.fromisoformat(a["at"]) for a in reversed(audit)]
    assert times == [start + timedelta(seconds=10 * i) for i in range(6)]
    assert all(t.tzinfo is not None and t.utcoffset() == timedelta(0) for t in times)

    diffs = [a["diff"].split("\n") for a in reversed(audit)]
    assert diffs[0] == ["--- /dev/null", "+++ b/notify@draft-r1", "@@ -0,0 +1,2 @@", "+" + L1, "+" + L2]
    assert diffs[1] == [
        "--- a/notify@draft-r1", "+++ b/notify@draft-r2", "@@ -1,2 +1,2 @@", " " + L1, "-" + L2, "+" + L3,
    ]
    assert diffs[2] == ["--- /dev/null", "+++ b/notify@v1", "@@ -0,0 +1,2 @@", "+" + L1, "+" + L3]
    assert diffs[3] == [
        "--- a/notify@draft-r2", "+++ b/notify@draft-r3", "@@ -1,2 +1,3 @@", " " + L1, "+" + L2, " " + L3,
    ]
    assert diffs[4] == ["--- a/notify@v1", "+++ b/notify@v2", "@@ -1,2 +1,3 @@", " " + L1, "+" + L2, " " + L3]
    assert diffs[5] == ["--- a/notify@v2", "+++ b/notify@v3", "@@ -1,3 +1,2 @@", " " + L1, "-" + L2, " " + L3]


def test_saving_an_unchanged_draft_is_not_a_change(services, clock) -> None:
    now = clock.now()
    with services.db.transaction(immediate=True) as s:
        service.create_ruleset(s, name="quiet", content=text(L1), actor="li", now=now)
    with services.db.transaction(immediate=True) as s:
        draft = service.put_draft(s, "quiet", content=text(L1), revision=1, actor="wang", now=now)
        assert draft.draft_revision == 1
    with services.db.session() as s:
        assert [a.action for a in service.list_audit(s, "quiet")] == ["create"]


def test_audit_times_are_stored_in_utc(services) -> None:
    shanghai_noon = datetime(2026, 11, 11, 12, 0, tzinfo=timezone(timedelta(hours=8)))
    with services.db.transaction(immediate=True) as s:
        service.create_ruleset(s, name="tz", content=text(L1), actor="li", now=shanghai_noon)
    with services.db.session() as s:
        (row,) = service.list_audit(s, "tz")
    assert row.at == datetime(2026, 11, 11, 4, 0, tzinfo=UTC)
