"""The rulesets at a glance, for lists: status (草稿 / 已发布 / 有未发布修改), published version,
who changed the draft last and when — in one query, without loading any content.

Read-only; the caller owns the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, select
from sqlalchemy.orm import Session

from engine.storage.models import Ruleset, RulesetVersion

DRAFT_ONLY = "draft"
PUBLISHED = "published"
CHANGED = "changed"
STATUS_LABELS = {DRAFT_ONLY: "草稿", PUBLISHED: "已发布", CHANGED: "有未发布修改"}


@dataclass(frozen=True)
class RulesetRow:
    name: str
    title: str
    status: str
    latest_version: int
    updated_by: str
    updated_at: datetime

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def ruleset_rows(session: Session) -> list[RulesetRow]:
    """Every ruleset, by name, with its status."""
    same = case(
        (and_(RulesetVersion.content == Ruleset.draft_content, RulesetVersion.format == Ruleset.draft_format), True),
        else_=False,
    )
    stmt = (
        select(Ruleset.name, Ruleset.title, Ruleset.latest_version, Ruleset.draft_updated_by,
               Ruleset.draft_updated_at, same)
        .outerjoin(RulesetVersion, and_(RulesetVersion.ruleset_id == Ruleset.id,
                                        RulesetVersion.version == Ruleset.latest_version))
        .order_by(Ruleset.name)
    )
    out = []
    for name, title, latest, by, at, unchanged in session.execute(stmt):
        status = DRAFT_ONLY if latest == 0 else (PUBLISHED if unchanged else CHANGED)
        out.append(RulesetRow(name, title or name, status, latest, by, at))
    return out


def draft_status(session: Session, ruleset: Ruleset) -> str:
    """The status of one ruleset (see :data:`STATUS_LABELS`)."""
    if ruleset.latest_version == 0:
        return DRAFT_ONLY
    content = session.scalar(select(RulesetVersion.content).where(
        RulesetVersion.ruleset_id == ruleset.id, RulesetVersion.version == ruleset.latest_version))
    return PUBLISHED if content == ruleset.draft_content else CHANGED
