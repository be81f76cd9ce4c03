"""The mapping and cleaning runners are plain Python over the dsl model: importing them pulls
in no web framework and no ORM (the preview route and the CLI are the adapters)."""

from __future__ import annotations

import subprocess
import sys


def test_the_runners_import_neither_flask_nor_sqlalchemy() -> None:
    code = ("import sys, engine.orders.mapping, engine.orders.cleaning, engine.orders.preview; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy', 'flask_smorest')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
