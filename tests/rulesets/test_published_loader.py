"""One way in for published rules: every area that runs a published version gets its model from
engine.rulesets.published, which parses a version once (cached by checksum) and keeps a bounded
number of models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import dsl
from engine.lru import BoundedCache
from engine.pricing.published import published_plan
from engine.rulesets import published
from engine.services import Services
from engine.workflow.registry import registry_of
from tests.rulesets.helpers import publish_content

LIBRARY = Path(__file__).resolve().parents[2] / "templates_library"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The filenames dsl.load_text is asked to parse (the loader's only reader)."""
    seen: list[str] = []
    real = dsl.load_text

    def counting(text: str, fmt: str, filename: str = "<ruleset>") -> Any:
        seen.append(filename)
        return real(text, fmt, filename)

    monkeypatch.setattr(dsl, "load_text", counting)
    return seen


def test_pricing_workflow_and_sources_share_one_parse_of_a_published_version(services: Services,
                                                                            parses: list[str]) -> None:
    # a fresh text (a unique comment), so no earlier test's cached model answers
    content = (f"# loader test {id(parses)}\n"
               + (LIBRARY / "promotion_apparel_festival.op").read_text(encoding="utf-8")
               + (LIBRARY / "aftersales_standard.op").read_text(encoding="utf-8"))
    publish_content(services, "combo", content)
    assert parses == ["combo.op"]  # the publish guards parsed (and cached) the version being published
    with services.db.session() as s:
        ref, model = published.latest(s, "combo")
        plan = published_plan(s, "combo")
        machine = registry_of(services).compiled(s, "combo", 1, "aftersales")
        assert published.load(s, "combo", 1)[1] is model
    assert (ref.name, ref.version, ref.format) == ("combo", 1, "dsl")
    assert plan.ruleset.checksum == ref.checksum and machine.rules is model
    assert parses == ["combo.op"]  # nobody parsed it again


def test_a_version_not_cached_is_read_and_parsed_once(services: Services, parses: list[str]) -> None:
    content = f"# uncached {id(parses)}\n" + (LIBRARY / "aftersales_standard.op").read_text(encoding="utf-8")
    publish_content(services, "tickets", content)
    published._models.clear()  # as after a restart, or once the version fell out of the cache
    parses.clear()
    with services.db.session() as s:
        first = published.latest(s, "tickets")[1]
        again = published.latest(s, "tickets")[1]
    assert first is again and parses == ["tickets@1"]


def test_unknown_rulesets_and_versions_are_not_found(services: Services) -> None:
    with services.db.session() as s:
        with pytest.raises(Exception) as missing:
            published.latest(s, "nope")
        assert getattr(missing.value, "code", None) == "ruleset_not_found"
        with pytest.raises(Exception) as no_version:
            published.load(s, "nope", 3)
        assert getattr(no_version.value, "code", None) == "version_not_found"


def test_the_cache_keeps_at_most_its_size_least_recently_used_first_out() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2)
    cache.put("v1", 1)
    cache.put("v2", 2)
    assert cache.get("v1") == 1  # v1 is now the most recently used
    cache.put("v3", 3)
    assert (cache.get("v1"), cache.get("v2"), cache.get("v3"), len(cache)) == (1, None, 3, 2)
    built: list[str] = []

    def build() -> int:
        built.append("v3")
        return 9

    assert cache.get_or_build("v3", build) == 3 and built == []  # cached: nothing built
    assert published.CACHE_SIZE == 256
