"""Shared pieces of the security tests: every row of every table (to prove a refused request
changed nothing) and the API routes enumerated from the app's URL map."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from engine.storage.models import Base

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def stored_state(services: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as sorted tuples of text."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with services.db.session() as s:
        for table in Base.metadata.sorted_tables:
            if table.name in ("job_leases", "user_sessions"):
                continue  # housekeeping a request may legitimately touch
            out[table.name] = sorted(tuple(str(v) for v in row) for row in s.execute(select(table)).all())
    return out


def api_routes(app: Any) -> list[tuple[str, str, str]]:
    """``(method, url, endpoint)`` for every route of the app (routes added later included),
    with path parameters filled by plausible values."""
    found = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            url = _PARAM.sub(lambda m: "1" if m.group(1) == "int" else "x", rule.rule)
            found.append((method, url, rule.endpoint))
    return sorted(found)
