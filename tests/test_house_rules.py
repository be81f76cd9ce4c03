"""The rules of the house (docs/architecture.md), enforced over the import graph of the source.

The rules are written over module patterns, not over today's files, so an area or a pure core
added later is judged the moment it exists:

- the language (``dsl``) imports nothing of ``engine``;
- no engine area (``engine.<area>`` and all below it: pricing, workflow, inventory, orders,
  alerts, risk, analytics, outbox, rulesets, storage, auth, …), nor the engine's shared kernel,
  imports a connector; only the composition root (:data:`COMPOSITION_ROOT`) wires ``connectors`` in;
- a pure core (:data:`PURE_CORES`, the one list of them) pulls in, directly or through what it
  imports, no web framework, ORM, Redis or HTTP client — and is type-checked strictly
  (``[[tool.mypy.overrides]]`` in pyproject.toml);
- no import circles among the project's modules (function-level imports count).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest

from tests.support import import_graph
from tests.support.import_graph import Edge, ImportGraph, forbidden, matches, reaching

# The composition root: the only engine modules that may import ``connectors``.
COMPOSITION_ROOT = ("engine.app", "engine.services", "engine.cli", "engine.demo", "engine.serving", "engine.runner")
# Every engine module but the composition root: each area today and tomorrow (engine.orders,
# engine.alerts, engine.risk, engine.analytics …, their packages and every module below them)
# and the shared kernel (errors, clock, config, notifications …).
ENGINE_AREAS = "engine"
# Pure cores: plain Python over the dsl model. Add a new one here (and to the strict mypy list).
PURE_CORES = (
    "dsl",
    "engine.lru",
    "engine.ports",
    "engine.pricing.conditions",
    "engine.pricing.freight",
    "engine.pricing.loading",
    "engine.pricing.log_text",
    "engine.pricing.money",
    "engine.pricing.order_input",
    "engine.pricing.plan",
    "engine.pricing.quote",
    "engine.inventory.domain",
    "engine.workflow.machine",
    "engine.workflow.expressions",
    "engine.workflow.ports",
    "engine.rulesets.validation",
    "engine.rulesets.what_changes",
    "engine.orders.ports",
    "engine.orders.mapping",
    "engine.orders.cleaning",
    "engine.orders.regions",
    "engine.orders.ticket_bindings",
    "engine.orders.ticket_path",
    "engine.orders.carriers",
    "engine.risk.rules",
    "engine.analytics.grid",
    "engine.orders.order_status",
    "engine.alerts.buckets",
    "engine.alerts.events",
    "engine.alerts.evaluation",
    "engine.alerts.measures",
)
IMPURE = ("flask", "flask_smorest", "flask_wtf", "flask_limiter", "sqlalchemy", "alembic", "redis", "requests",
          "psycopg", "waitress", "gunicorn")


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return import_graph.build()


def _shown(edges: list[Edge]) -> str:
    return "\n".join(f"{e.path}:{e.line}: {e.importer} imports {e.imported}" for e in edges)


def test_the_language_imports_nothing_of_the_engine(graph: ImportGraph) -> None:
    bad = forbidden(graph, "dsl", ["engine", "connectors", "builder_ui"])
    assert not bad, "dsl must stand alone:\n" + _shown(bad)


def test_no_engine_area_imports_a_connector(graph: ImportGraph) -> None:
    bad = forbidden(graph, ENGINE_AREAS, ["connectors"], allowed_importers=COMPOSITION_ROOT)
    assert not bad, ("engine areas are handed connectors through Services (wired in Services.build):\n"
                     + _shown(bad))


def test_pure_cores_pull_in_no_framework_orm_redis_or_http(graph: ImportGraph) -> None:
    chains = reaching(graph, PURE_CORES, IMPURE)
    assert not chains, "pure cores must stay plain Python:\n" + "\n".join(
        f"{chain[0].importer} reaches {chain[-1].imported}:\n  " + "\n  ".join(
            f"{e.path}:{e.line}: {e.importer} -> {e.imported}" for e in chain) for chain in chains)


def test_no_import_circles(graph: ImportGraph) -> None:
    cycles = graph.cycles()
    assert not cycles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_every_pure_core_is_type_checked_strictly(graph: ImportGraph) -> None:
    config = tomllib.loads((import_graph.ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    strict = [o for o in config["tool"]["mypy"]["overrides"] if o.get("disallow_untyped_defs")]
    patterns = [p for o in strict for p in ([o["module"]] if isinstance(o["module"], str) else o["module"])]

    def covered(module: str) -> bool:
        return any(p == module or (p.endswith(".*") and (module == p[:-2] or module.startswith(p[:-1])))
                   for p in patterns)

    cores = [name for name in sorted(graph.modules) if any(matches(name, p) for p in PURE_CORES)]
    missing = [name for name in cores if not covered(name)]
    assert not missing, f"pure cores missing from the strict mypy overrides in pyproject.toml: {missing}"


def test_the_rules_catch_a_forbidden_import(tmp_path: Path) -> None:
    """The checks above judge what they are shown: a tree with an area importing a connector, a
    pure core importing SQLAlchemy, dsl importing engine and a circle is refused on all four."""
    files = {
        "dsl/__init__.py": "", "dsl/model.py": "import engine.errors\n",
        "engine/__init__.py": "", "engine/errors.py": "", "engine/services.py": "import connectors.wms\n",
        "engine/alerts/__init__.py": "from connectors import wms\n", "engine/alerts/measures.py": "",
        "engine/risk/__init__.py": "", "engine/risk/rules.py": "import connectors.wms\n",
        "engine/orders/__init__.py": "", "engine/orders/mapping.py": "from engine.orders import store\n",
        "engine/orders/store.py": "import sqlalchemy\nfrom engine.orders.mapping import x\n",
        "connectors/__init__.py": "", "connectors/wms.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    g = import_graph.build(tmp_path, ("dsl", "engine", "connectors"))
    assert [e.importer for e in forbidden(g, "dsl", ["engine"])] == ["dsl.model"]
    assert [e.importer for e in forbidden(g, ENGINE_AREAS, ["connectors"], COMPOSITION_ROOT)] == \
        ["engine.alerts", "engine.risk.rules"]  # an area's package and a module below it; not the root
    assert g.cycles() == [["engine.orders.mapping", "engine.orders.store"]]
    assert [[e.imported for e in chain] for chain in reaching(g, PURE_CORES, IMPURE)] == \
        [["engine.orders.store", "sqlalchemy"]]  # engine.orders.mapping, through the store it imports


if __name__ == "__main__":  # pragma: no cover - `python tests/test_house_rules.py` prints the graph's verdicts
    sys.exit(pytest.main([__file__, "-q"]))
