"""The published rules intake runs on: the mapping named after a source, and every published
cleaning, compiled.

This module owns every read of published rules in the orders area. It looks at the latest
published version of each ruleset (``_latest_versions``, the one place to switch to the shared
loader of published versions once there is one), parses each version once, and compiles the
mappings and the cleaning with :func:`engine.orders.mapping.compile_mapping` and
:func:`engine.orders.cleaning.compile_cleaning`. Compiled rules are cached by the checksums of
the versions they came from (a published version is immutable), at most :data:`CACHE_SIZE`
sets of rules per process, so a publish takes effect on the next intake and nothing is parsed
twice.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from engine.errors import NotFound
from engine.logs import get_logger

if TYPE_CHECKING:
    from dsl.model import CleaningDecl, MappingDecl
    from engine.orders.ports import RegionResolver
    from engine.services import Services

__all__ = ["CACHE_SIZE", "MappingRef", "PublishedRules", "mapping_for", "published_rules"]

log = get_logger(__name__)

CACHE_SIZE = 16


@dataclass(frozen=True)
class _Version:
    ruleset: str
    version: int
    checksum: str
    content: str
    format: str


@dataclass(frozen=True)
class MappingRef:
    """A compiled mapping and the ruleset version it was published in."""

    mapping: Any  # engine.orders.mapping.CompiledMapping
    name: str
    ruleset: str
    version: int


@dataclass
class PublishedRules:
    """The mappings and cleanings of one set of published versions; compiled on first use."""

    mappings: dict[str, tuple[MappingDecl, str, int]]
    cleanings: tuple[CleaningDecl, ...]
    resolver: Callable[[], RegionResolver | None]
    _compiled: dict[str, MappingRef] = field(default_factory=dict)
    _cleaning: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def mapping(self, source: str) -> MappingRef:
        """The compiled mapping named ``source``; :class:`engine.errors.NotFound` when none is published."""
        ref = self._compiled.get(source)
        if ref is not None:
            return ref
        found = self.mappings.get(source)
        if found is None:
            raise NotFound(f"no published mapping named {source!r} (the mapping of a source carries its name)",
                           code="mapping_not_found")
        from engine.orders.mapping import compile_mapping

        decl, ruleset, version = found
        ref = MappingRef(compile_mapping(decl), decl.name, ruleset, version)
        with self._lock:
            self._compiled[source] = ref
        return ref

    def cleaning(self) -> Any:
        """The compiled cleaning of every published ``cleaning`` (None when none is published)."""
        if not self.cleanings:
            return None
        if self._cleaning is None:
            from engine.orders.cleaning import compile_cleaning

            compiled = compile_cleaning(self.cleanings, self.resolver())
            with self._lock:
                self._cleaning = compiled
        return self._cleaning


_cache: OrderedDict[tuple[tuple[str, Any, str], ...], PublishedRules] = OrderedDict()
_parsed: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
_lock = threading.Lock()


_LATEST_SQL = ("SELECT v.id, r.name, v.version, v.checksum FROM ruleset_versions v "
               "JOIN rulesets r ON r.id = v.ruleset_id AND r.latest_version = v.version ORDER BY r.name")


def _latest_versions(services: Services, *, with_content: Callable[[str], bool]) -> list[_Version]:
    """The latest published version of each ruleset (content read only where asked). The list
    is one indexed read on a kept connection (asked on every intake, so a publish counts at once)."""
    from engine.storage.models import RulesetVersion

    rows = services.db.raw_reads.fetch(_LATEST_SQL, [])
    out = []
    wanted = {int(version_id) for version_id, _, _, checksum in rows if with_content(checksum)}
    contents: dict[int, tuple[str, str]] = {}
    if wanted:
        with services.db.session() as session:
            for version_id, content, fmt in session.execute(
                    select(RulesetVersion.id, RulesetVersion.content, RulesetVersion.format)
                    .where(RulesetVersion.id.in_(wanted))):
                contents[version_id] = (content, fmt)
    for version_id, name, version, checksum in rows:
        content, fmt = contents.get(int(version_id), ("", ""))
        out.append(_Version(name, int(version), checksum, content, fmt))
    return out


def _declarations(v: _Version) -> tuple[Any, ...]:
    from dsl import RuleError, load_json, parse_text

    found = _parsed.get(v.checksum)
    if found is not None:
        return found
    try:
        rules = load_json(v.content, v.ruleset) if v.format == "json" else parse_text(v.content, v.ruleset)
        found = tuple(rules.declarations)
    except RuleError:
        found = ()  # a published version parsed when it was published; a later grammar may not
    with _lock:
        _parsed[v.checksum] = found
        while len(_parsed) > CACHE_SIZE * 8:
            _parsed.popitem(last=False)
    return found


def _default_resolver(services: Services) -> Callable[[], RegionResolver | None]:
    """The region resolver cleaning uses: ``services.region_resolver`` when given, else
    the process's default one (None where the region data set is not installed: the region
    step is then skipped and says so in the log)."""

    def get() -> RegionResolver | None:
        given = services.region_resolver
        if given is not None:
            return given
        try:
            from engine.orders.regions import default_resolver
        except ImportError:
            log.warning("no region resolver: `normalize … to region` steps are skipped")
            return None
        return default_resolver()

    return get


def published_rules(services: Services) -> PublishedRules:
    """The published mappings and cleanings as they stand now (cached per set of versions)."""
    versions = _latest_versions(services, with_content=lambda checksum: checksum not in _parsed)
    given = services.region_resolver
    key = (*((v.ruleset, v.version, v.checksum) for v in versions), ("resolver", str(id(given)) if given else "", ""))
    with _lock:
        rules = _cache.get(key)
        if rules is not None:
            _cache.move_to_end(key)
            return rules
    from dsl.model import CleaningDecl, MappingDecl

    mappings: dict[str, tuple[MappingDecl, str, int]] = {}
    cleanings: list[CleaningDecl] = []
    for v in versions:
        for decl in _declarations(v):
            if isinstance(decl, MappingDecl) and decl.name not in mappings:
                mappings[decl.name] = (decl, v.ruleset, v.version)
            elif isinstance(decl, CleaningDecl):
                cleanings.append(decl)
    rules = PublishedRules(mappings, tuple(cleanings), _default_resolver(services))
    with _lock:
        _cache[key] = rules
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return rules


def mapping_for(services: Services, source: str) -> MappingRef:
    """The compiled published mapping named ``source`` (NotFound when there is none)."""
    return published_rules(services).mapping(source)
