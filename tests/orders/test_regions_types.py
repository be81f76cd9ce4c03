"""The region resolver and its CLI are typed: ``mypy --strict`` passes on their files, and the
resolver core pulls in no web framework or ORM."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_strict_passes_on_the_region_modules() -> None:
    from mypy import api

    out, err, status = api.run(["--strict", "--no-incremental", "engine/orders/regions.py",
                                "engine/orders/address_cli.py"])
    assert status == 0, out + err


def test_the_resolver_imports_neither_flask_nor_sqlalchemy() -> None:
    code = ("import sys, engine.orders.regions as r; r.default_resolver().resolve('杭州'); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
