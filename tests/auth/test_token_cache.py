"""Kept tokens are refused the moment they are revoked, in every process.

Each process keeps token → principal while the auth version in Redis holds
(engine/auth/token_cache.py). These tests revoke, disable and demote through one process (an
app of its own Services, or a separate ``orderpulse serve``) and ask another process that has
the token kept, right after: it must refuse at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import update

from engine.app import create_app
from engine.auth.token_cache import PrincipalCache
from engine.auth.users import Principal, create_user, hash_token, issue_token
from engine.inventory.service import make_gate_client
from engine.services import Services
from engine.storage.models import ApiToken
from tests.conftest import auth

pytestmark = pytest.mark.redis


@pytest.fixture
def two_apps(services: Services, settings: Any, clock: Any) -> Iterator[tuple[Any, Any, Services]]:
    """Two "processes": the fixture's app and a second app on its own Services (own cache),
    same database and Redis prefix."""
    other = Services.build(settings, clock=clock)
    yield create_app(services=services).test_client(), create_app(services=other).test_client(), other
    other.db.dispose()


def _user_id(client: Any, admin: str, username: str) -> int:
    users = client.get("/api/v1/users", headers=auth(admin)).get_json()
    return next(u["id"] for u in users if u["username"] == username)


def _token_id(client: Any, admin: str, user_id: int) -> int:
    users = client.get("/api/v1/users", headers=auth(admin)).get_json()
    user = next(u for u in users if u["id"] == user_id)
    return next(t["id"] for t in user["tokens"] if t["revoked_at"] is None)


def test_a_token_revoked_in_one_process_is_refused_by_another_that_kept_it(two_apps, tokens, services) -> None:
    first, second, other = two_apps
    assert other.bearer_tokens.cache is not None  # the cache under test is in use
    for _ in range(3):  # kept in the second process
        assert second.get("/api/v1/stock/SKU-NONE", headers=auth(tokens["warehouse"])).status_code == 404
    digest = hash_token(tokens["warehouse"])
    assert digest in other.bearer_tokens.cache._entries

    user_id = _user_id(first, tokens["admin"], "user_warehouse")
    revoked = first.delete(f"/api/v1/users/{user_id}/tokens", headers=auth(tokens["admin"]))
    assert revoked.status_code == 200 and len(revoked.get_json()) == 1

    resp = second.get("/api/v1/stock/SKU-NONE", headers=auth(tokens["warehouse"]))
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    assert first.get("/api/v1/stock/SKU-NONE", headers=auth(tokens["warehouse"])).status_code == 401


def test_a_disabled_user_and_a_changed_role_take_effect_at_once_in_another_process(two_apps, tokens) -> None:
    first, second, _ = two_apps
    assert second.get("/api/v1/rulesets", headers=auth(tokens["ops"])).status_code == 200
    assert second.get("/api/v1/stock/SKU-NONE", headers=auth(tokens["cs"])).status_code == 404

    ops_id = _user_id(first, tokens["admin"], "user_ops")
    assert first.patch(f"/api/v1/users/{ops_id}", json={"active": False},
                       headers=auth(tokens["admin"])).status_code == 200
    assert second.get("/api/v1/rulesets", headers=auth(tokens["ops"])).status_code == 401

    reserve = {"order_id": "O-1", "lines": [{"sku_id": "SKU-NONE", "qty": 1}]}
    assert second.post("/api/v1/stock/reserve", json=reserve, headers=auth(tokens["cs"])).status_code == 403
    cs_id = _user_id(first, tokens["admin"], "user_cs")
    assert first.patch(f"/api/v1/users/{cs_id}", json={"role": "warehouse"},
                       headers=auth(tokens["admin"])).status_code == 200
    # the kept principal said cs (may not reserve); the user is warehouse now (may)
    resp = second.post("/api/v1/stock/reserve", json=reserve, headers=auth(tokens["cs"]))
    assert resp.status_code not in (401, 403), resp.get_json()


def test_a_revocation_written_with_a_bulk_update_renews_the_version(two_apps, tokens, services, clock) -> None:
    _, second, _ = two_apps
    assert second.get("/api/v1/rulesets", headers=auth(tokens["ops"])).status_code == 200
    with services.db.transaction() as s:
        s.execute(update(ApiToken).where(ApiToken.token_hash == hash_token(tokens["ops"]))
                  .values(revoked_at=clock.now()))
    assert second.get("/api/v1/rulesets", headers=auth(tokens["ops"])).status_code == 401


def test_a_rolled_back_change_keeps_the_version(services, tokens, clock) -> None:
    cache = services.bearer_tokens.cache
    assert cache is not None
    before = cache.version()
    with pytest.raises(RuntimeError), services.db.transaction() as s:
        s.execute(update(ApiToken).values(revoked_at=clock.now()))
        raise RuntimeError("rolled back")
    assert cache.version() == before
    with services.db.transaction() as s:
        issue_token(s, create_user(s, "new_user", "cs", None, clock=clock), clock=clock)  # nothing changed
    assert cache.version() == before


# --- the cache alone, on the test Redis -------------------------------------------------------
@pytest.fixture
def cache_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def _counting_loader(principal: Principal | None) -> tuple[list[int], Any]:
    calls: list[int] = []

    def load() -> Principal | None:
        calls.append(1)
        return principal

    return calls, load


def test_kept_principal_is_served_until_the_version_changes_or_the_ttl_passes(cache_client) -> None:
    now = [100.0]
    prefix = f"op:test:{uuid.uuid4().hex[:8]}:"
    cache = PrincipalCache(cache_client, prefix, ttl=30, monotonic=lambda: now[0])
    other = PrincipalCache(cache_client, prefix, ttl=30, monotonic=lambda: now[0])
    ops = Principal(1, "ops", "ops", "token")
    calls, load = _counting_loader(ops)
    assert cache.principal("d1", load) == ops
    assert cache.principal("d1", load) == ops
    assert len(calls) == 1
    assert other.bump()  # another process changed a token
    assert cache.principal("d1", load) == ops
    assert len(calls) == 2
    now[0] += 31  # past the TTL: read again even when nothing was announced
    cache.principal("d1", load)
    assert len(calls) == 3
    cache_client.delete(cache.key)  # Redis restarted or flushed: nothing kept may be trusted
    cache.principal("d1", load)
    assert len(calls) == 4
    refused_calls, refused = _counting_loader(None)
    assert other.bump()  # revoked: the database now says no, and the entry is forgotten
    assert cache.principal("d1", refused) is None
    assert cache.principal("d1", load) == ops and len(calls) == 5
    assert len(refused_calls) == 1
    cache_client.delete(cache.key)


def test_without_redis_every_request_asks_the_database() -> None:
    unreachable = make_gate_client("redis://127.0.0.1:1/0")  # the client bearer_tokens makes
    cache = PrincipalCache(unreachable, "op:test:none:")

    calls, load = _counting_loader(Principal(1, "ops", "ops", "token"))
    for _ in range(3):
        assert cache.principal("d1", load) is not None
    assert len(calls) == 3
    assert cache.version() is None
    assert cache.bump() is False


# --- two real ``orderpulse serve`` processes ----------------------------------------------------
@pytest.mark.slow
def test_revoked_through_one_serve_process_refused_by_another_at_once(tmp_path: Path, redis_url: str) -> None:
    from engine.drill.target import start_target
    from tests.support.backends import configured_database_url, is_postgres_run

    target = start_target(tmp_path, {}, database_url=configured_database_url() if is_postgres_run() else None,
                          redis_url=redis_url, serves=2, workers=1 if is_postgres_run() else 0)
    try:
        admin = {"Authorization": f"Bearer {target.token}"}
        warehouse = {"Authorization": f"Bearer {target.tokens['warehouse']}"}
        one, two = target.apis
        for _ in range(5):  # kept by both processes
            for api in (one, two):
                assert requests.get(f"{api}/stock/SKU-NONE", headers=warehouse, timeout=10).status_code == 404
        users = requests.get(f"{one}/users", headers=admin, timeout=10).json()
        user_id = next(u["id"] for u in users if u["username"] == "drill_warehouse")
        revoked = requests.delete(f"{one}/users/{user_id}/tokens", headers=admin, timeout=10)
        assert revoked.status_code == 200, revoked.text
        assert requests.get(f"{two}/stock/SKU-NONE", headers=warehouse, timeout=10).status_code == 401
        assert requests.get(f"{one}/stock/SKU-NONE", headers=warehouse, timeout=10).status_code == 401
        assert requests.get(f"{two}/stock/SKU-NONE", headers=admin, timeout=10).status_code == 404
    finally:
        target.stop()
