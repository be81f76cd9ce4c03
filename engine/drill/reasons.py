"""The return reason codes the templates library knows (``templates_library/return_reasons.json``),
for checking a drill scenario's ``returns.reasons``. Reads the file only."""

from __future__ import annotations

import json
from importlib import resources


def known_reason_codes() -> list[str]:
    text = resources.files("templates_library").joinpath("return_reasons.json").read_text(encoding="utf-8")
    return [str(r["code"]) for r in json.loads(text)["reasons"]]
