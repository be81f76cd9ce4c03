"""The pricing core is plain Python over the dsl model: importing it pulls in no web framework
and no ORM (the route, the CLI and the published-version loader are the adapters)."""

from __future__ import annotations

import subprocess
import sys


def test_the_pricing_core_imports_neither_flask_nor_sqlalchemy() -> None:
    code = ("import sys, engine.pricing; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'flask_smorest')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
