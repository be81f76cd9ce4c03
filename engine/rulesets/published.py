"""The one way in for published rules: a published ruleset version → its declaration model.

Every interpreter that runs published rules asks this module — the workflow's machine registry,
the inventory's source connectors, pricing's published plans, and the publish guards (which
warm it with the version being published). Stored content is parsed by its format with
:func:`dsl.load_text` (the language's one reader of both syntaxes) and cached by checksum in a
bounded LRU (:data:`CACHE_SIZE` models): a published version is immutable, so its checksum names
its model for good, and a process parses each version at most once while it stays cached.

A lookup reads the version's row without its content (name → version, checksum, format); the
content is read only when the checksum is not cached. Errors: :class:`engine.errors.NotFound`
for a missing ruleset or version; :class:`dsl.RuleError` for stored content that no longer
parses (callers decide whether to skip it or to refuse).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Table, bindparam, select
from sqlalchemy.orm import Session

import dsl
from dsl import model as m
from engine.errors import NotFound
from engine.logs import get_logger
from engine.lru import BoundedCache
from engine.rulesets.history import checksum
from engine.storage.models import Ruleset, RulesetVersion

__all__ = ["CACHE_SIZE", "PublishedVersion", "derived", "latest", "latest_versions", "load", "model_for",
           "model_of", "pin_latest_versions", "read", "unpin_latest_versions"]

CACHE_SIZE = 256

_models: BoundedCache[tuple[str, str], m.Ruleset] = BoundedCache(CACHE_SIZE)

_RULESETS = cast(Table, Ruleset.__table__)
_VERSIONS = cast(Table, RulesetVersion.__table__)
_REF_COLUMNS = (_RULESETS.c.name, _VERSIONS.c.id, _VERSIONS.c.version, _VERSIONS.c.checksum, _VERSIONS.c.format)
_JOIN = _VERSIONS.join(_RULESETS, _RULESETS.c.id == _VERSIONS.c.ruleset_id)
_ONE = select(*_REF_COLUMNS).select_from(_JOIN).where(_RULESETS.c.name == bindparam("b_name"),
                                                      _VERSIONS.c.version == bindparam("b_version"))
_LATEST_ONE = select(*_REF_COLUMNS).select_from(_JOIN).where(_RULESETS.c.name == bindparam("b_name"),
                                                             _VERSIONS.c.version == _RULESETS.c.latest_version)
_LATEST_ALL = (select(*_REF_COLUMNS).select_from(_JOIN).where(_VERSIONS.c.version == _RULESETS.c.latest_version)
               .order_by(_RULESETS.c.id))  # oldest first: the ruleset that declared a name first keeps it
_CONTENT = select(_VERSIONS.c.content).where(_VERSIONS.c.id == bindparam("b_id"))
_EXISTS = select(_RULESETS.c.id).where(_RULESETS.c.name == bindparam("b_name"))


@dataclass(frozen=True)
class PublishedVersion:
    """One published version, identified; its model comes from :func:`model_of`."""

    name: str
    version: int
    checksum: str
    format: str
    row_id: int

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def model_for(content: str, fmt: str, *, checksum_value: str | None = None, filename: str = "<ruleset>") -> m.Ruleset:
    """The model of ``content`` (published, or about to be), cached by its checksum."""
    key = (checksum_value or checksum(content), fmt)
    return _models.get_or_build(key, lambda: dsl.load_text(content, fmt, filename))


def read(content: str, fmt: str, filename: str) -> m.Ruleset:
    """:func:`model_for` in the shape of :data:`engine.rulesets.validation.Loader` (for the
    checks run when a version is published)."""
    return model_for(content, fmt, filename=filename)


def model_of(session: Session, ref: PublishedVersion) -> m.Ruleset:
    """The model of published version ``ref`` (its content is read only on a cache miss)."""
    key = (ref.checksum, ref.format)
    found = _models.get(key)
    if found is not None:
        return found
    content = session.connection().execute(_CONTENT, {"b_id": ref.row_id}).scalar_one()
    return model_for(content, ref.format, checksum_value=ref.checksum, filename=ref.label)


def _ref(row: Row[Any, Any, Any, Any, Any]) -> PublishedVersion:
    return PublishedVersion(row.name, row.version, row.checksum, row.format, row.id)


def load(session: Session, name: str, version: int) -> tuple[PublishedVersion, m.Ruleset]:
    """Published version ``version`` of ruleset ``name`` and its model."""
    row = session.connection().execute(_ONE, {"b_name": name, "b_version": version}).first()
    if row is None:
        raise NotFound(f"ruleset {name} has no published version {version}", code="version_not_found")
    ref = _ref(row)
    return ref, model_of(session, ref)


def latest(session: Session, name: str) -> tuple[PublishedVersion, m.Ruleset]:
    """The current published version of ruleset ``name`` and its model."""
    row = session.connection().execute(_LATEST_ONE, {"b_name": name}).first()
    if row is None:
        if session.connection().execute(_EXISTS, {"b_name": name}).first() is None:
            raise NotFound(f"ruleset {name!r} does not exist", code="ruleset_not_found")
        raise NotFound(f"ruleset {name!r} has no published version", code="version_not_found")
    ref = _ref(row)
    return ref, model_of(session, ref)


_PINNED = "orderpulse.published.latest_versions"


def latest_versions(session: Session) -> list[PublishedVersion]:
    """The current published version of every ruleset, oldest ruleset first, not yet parsed
    (read once while :func:`pin_latest_versions` holds it for ``session``)."""
    pinned = session.info.get(_PINNED)
    if pinned is not None:
        if not pinned:
            pinned.append([_ref(row) for row in session.connection().execute(_LATEST_ALL)])
        return list(pinned[0])
    return [_ref(row) for row in session.connection().execute(_LATEST_ALL)]


def pin_latest_versions(session: Session) -> None:
    """Read :func:`latest_versions` once for the rest of ``session``'s unit of work (the order
    pipeline's batch: one snapshot of what is published for all its orders), until
    :func:`unpin_latest_versions`."""
    session.info[_PINNED] = []


def unpin_latest_versions(session: Session) -> None:
    session.info.pop(_PINNED, None)


def cached_models() -> int:
    """How many models the process holds (at most :data:`CACHE_SIZE`)."""
    return len(_models)


T = TypeVar("T")
Sources = list[tuple[str, int, m.Ruleset]]
_log = get_logger(__name__)


def derived(session: Session, cache: BoundedCache[tuple[tuple[str, str], ...], T], build: Callable[[Sources], T],
            what: str) -> T:
    """What ``build`` makes of the published rulesets' ``(name, version, model)``, oldest first,
    kept in ``cache`` while their checksums stay the same. A version that no longer parses is
    logged (naming ``what`` of it does not run) and left out."""
    refs = latest_versions(session)
    key = tuple((ref.name, ref.checksum) for ref in refs)
    found = cache.get(key)
    if found is not None:
        return found
    sources: Sources = []
    for ref in refs:
        try:
            model = model_of(session, ref)
        except Exception as exc:  # noqa: BLE001 - a version that no longer parses runs nothing
            _log.error(f"published ruleset does not load; its {what} do not run", ruleset=ref.label, error=str(exc))
            continue
        sources.append((ref.name, ref.version, model))
    return cache.put(key, build(sources))
