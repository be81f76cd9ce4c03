"""Bearer token → principal, kept in the process, refused at once when revoked anywhere.

Every API request authenticates; reading its token and user from the database each time costs
a round trip and a PostgreSQL query per request. With Redis configured, each process keeps the
principal a token stood for (by the token's SHA-256 digest), tagged with the **auth version**:
a random value under ``<redis prefix>auth:version``. Each request reads the version (one Redis
GET, cheaper for the shared machine than the database's join) and uses a kept principal only
when its tag equals the version and it is younger than :data:`TTL_SECONDS`.

Every commit that changes or deletes an ``api_tokens`` or ``users`` row through SQLAlchemy (a
token revoked, a user disabled or given another role — API, builder, CLI alike) sets a new
version **after** the commit, so from then on every process reads a version its entries do not
carry and asks the database again. The version is read before the database, so an entry can
only carry a version set after the row it read was committed. A missing version (Redis
restarted or flushed) is replaced by a new one before use, so nothing cached before carries it.
When Redis cannot be read the cache is not used (the database answers); when the new version
cannot be written after a commit, the change reaches processes within :data:`TTL_SECONDS`, as
does a row changed by hand outside OrderPulse. Without Redis nothing is cached.

Owns no authentication rule: what a token stands for is :func:`engine.auth.users.principal_for_bearer`.
"""

from __future__ import annotations

import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from engine.logs import get_logger

if TYPE_CHECKING:
    import redis as redis_lib

    from engine.auth.users import Principal
    from engine.storage.db import Database

log = get_logger(__name__)

TTL_SECONDS = 30.0
MAX_ENTRIES = 4096
BREAKER_SECONDS = 1.0  # after a Redis error, the database answers alone this long
AUTH_TABLES = frozenset({"api_tokens", "users"})
_CHANGED = "orderpulse_auth_changed"


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    version: str
    expires: float


class PrincipalCache:
    """One process's kept principals for one database; safe to share between threads."""

    def __init__(self, client: redis_lib.Redis, prefix: str, *, ttl: float = TTL_SECONDS,
                 size: int = MAX_ENTRIES, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.key = f"{prefix}auth:version"
        self.ttl = ttl
        self.size = size
        self.monotonic = monotonic
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._breaker_until = 0.0

    def version(self) -> str | None:
        """The current auth version (made when missing); None when Redis cannot tell (then,
        for :data:`BREAKER_SECONDS`, without asking it)."""
        if self.monotonic() < self._breaker_until:
            return None
        try:
            value = self.client.get(self.key)
            if value is None:
                self.client.set(self.key, uuid.uuid4().hex, nx=True)
                value = self.client.get(self.key)
        except RedisError:
            self._breaker_until = self.monotonic() + BREAKER_SECONDS
            return None
        return None if value is None else str(value)

    def principal(self, digest: str, load: Callable[[], Principal | None]) -> Principal | None:
        """The principal of the token whose digest is ``digest``: kept, or ``load()``-ed and kept."""
        version = self.version()
        if version is None:
            return load()
        now = self.monotonic()
        with self._lock:
            entry = self._entries.get(digest)
        if entry is not None and entry.version == version and entry.expires > now:
            return entry.principal
        principal = load()
        with self._lock:
            if principal is None:
                self._entries.pop(digest, None)
            else:
                self._entries[digest] = _Entry(principal, version, now + self.ttl)
                self._entries.move_to_end(digest)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return principal

    def bump(self) -> bool:
        """Set a new auth version (after a commit that changed tokens or users); False when
        Redis could not be written (then the change reaches other processes within the TTL)."""
        for attempt in (1, 2):
            try:
                self.client.set(self.key, uuid.uuid4().hex)
                return True
            except RedisError as exc:
                if attempt == 2:
                    log.error("auth version not renewed: cached tokens follow within the TTL",
                              error=str(exc), ttl_seconds=self.ttl)
        return False

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class BearerTokens:
    """What bearer tokens stand for, in one process for one database: read from the database,
    through a :class:`PrincipalCache` when Redis is configured."""

    def __init__(self, db: Database, cache: PrincipalCache | None) -> None:
        self.db = db
        self.cache = cache

    def principal(self, token: str) -> Principal | None:
        from engine.auth.users import hash_token, principal_for_digest

        digest = hash_token(token)
        if self.cache is None:
            return principal_for_digest(self.db, digest)
        return self.cache.principal(digest, lambda: principal_for_digest(self.db, digest))


def bearer_tokens(db: Database, redis_url: str | None, redis_prefix: str) -> BearerTokens:
    """The process's :class:`BearerTokens` for ``db``; with Redis, its cache renewed on commits."""
    if not redis_url:
        return BearerTokens(db, None)
    from engine.inventory.service import make_gate_client

    # short timeouts, one retry on a dropped connection and no backoff: a Redis that is down
    # costs a request one refused connect, then the breaker sends requests to the database
    return BearerTokens(db, install(db, PrincipalCache(make_gate_client(redis_url), redis_prefix)))


# --- renewing the version after commits that change tokens or users ---------------------------
_CACHES: weakref.WeakKeyDictionary[Engine, list[PrincipalCache]] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def install(db: Database, cache: PrincipalCache) -> PrincipalCache:
    """Renew ``cache``'s version after every commit on ``db`` that changes or deletes an auth row."""
    with _CACHES_LOCK:
        _CACHES.setdefault(db.engine, []).append(cache)
    return cache


def _engine_of(session: Session) -> Engine | None:
    bind = session.bind
    if bind is None:
        return None
    return bind if isinstance(bind, Engine) else bind.engine


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _context: Any, _instances: Any) -> None:
    for obj in (*session.dirty, *session.deleted):
        if getattr(getattr(obj, "__table__", None), "name", None) in AUTH_TABLES:
            session.info[_CHANGED] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _executing(state: Any) -> None:
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in AUTH_TABLES:
            state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if not session.info.pop(_CHANGED, False):
        return
    engine = _engine_of(session)
    for cache in _CACHES.get(engine, ()) if engine is not None else ():
        cache.bump()


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the whole transaction, not a savepoint: its changes are gone
        session.info.pop(_CHANGED, None)
