"""How a Flask URL rule is named in the OpenAPI document: ``/api/v1/instances/<int:instance_id>``
is ``/api/v1/instances/{instance_id}``. Shared by the document's completion
(:mod:`engine.api.openapi`) and the request guard's lookup of declared query parameters
(:mod:`engine.api.request_guard`); plain text, no Flask.
"""

from __future__ import annotations

import re

_RULE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """``/api/v1/instances/<int:instance_id>`` → ``/api/v1/instances/{instance_id}``."""
    return _RULE_PARAM.sub(lambda m: "{" + m.group(1) + "}", rule)
