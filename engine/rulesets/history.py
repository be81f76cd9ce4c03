"""The record-keeping of ruleset history: content checksums, unified diffs for the audit log,
and the guard that keeps published versions immutable at the ORM level.

Pure helpers plus one SQLAlchemy event hook; no queries and no HTTP.
"""

from __future__ import annotations

import difflib
import hashlib
from typing import Any

from sqlalchemy import event

from engine.storage.models import RulesetVersion

NO_CONTENT = "/dev/null"


def checksum(content: str) -> str:
    """``sha256:<hex>`` of the UTF-8 bytes of ``content``."""
    return "sha256:" + hashlib.sha256(content.encode("utf-8")).hexdigest()


def draft_label(side: str, name: str, revision: int) -> str:
    """``a/<name>@draft-r3``: the draft at a given revision."""
    return f"{side}/{name}@draft-r{revision}"


def version_label(side: str, name: str, version: int) -> str:
    """``a/<name>@v3``, or ``/dev/null`` for "nothing published yet" (version 0)."""
    return f"{side}/{name}@v{version}" if version > 0 else NO_CONTENT


def content_diff(old: str, new: str, old_label: str, new_label: str) -> str:
    """A unified diff (3 lines of context) between two contents; "" when they are equal."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=old_label, tofile=new_label, lineterm=""
    )
    return "\n".join(lines)


class ImmutableVersionError(RuntimeError):
    """Raised when code tries to change or delete a published ruleset version."""


@event.listens_for(RulesetVersion, "before_update")
def _refuse_update(_mapper: Any, _conn: Any, target: RulesetVersion) -> None:
    raise ImmutableVersionError(f"ruleset version {target.version} is published and cannot be changed")


@event.listens_for(RulesetVersion, "before_delete")
def _refuse_delete(_mapper: Any, _conn: Any, target: RulesetVersion) -> None:
    raise ImmutableVersionError(f"ruleset version {target.version} is published and cannot be deleted")
