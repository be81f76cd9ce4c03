"""Typed ORM models of the foundation: users and tokens, versioned rulesets, the outbox,
and job leases. Area-specific tables (inventory, workflow, …) live beside their areas and
share :class:`Base`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from engine.storage.types import JSONType, UTCDateTime


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")


class UserSession(Base):
    """A builder sign-in, kept server-side so it can be ended: the cookie carries only a random
    id whose SHA-256 digest is stored here. Sign-out, a password change and a disabled user
    end it (``ended_at``); so do the idle and absolute lifetimes (engine.auth.sessions)."""

    __tablename__ = "user_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_reason: Mapped[str] = mapped_column(String(32), default="")


class Ruleset(Base):
    """A named ruleset: one editable draft plus the history in :class:`RulesetVersion`."""

    __tablename__ = "rulesets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    title: Mapped[str] = mapped_column(String(256), default="")
    draft_content: Mapped[str] = mapped_column(Text, default="")
    draft_format: Mapped[str] = mapped_column(String(8), default="dsl")
    draft_revision: Mapped[int] = mapped_column(Integer, default=1)
    draft_base_version: Mapped[int] = mapped_column(Integer, default=0)
    draft_updated_by: Mapped[str] = mapped_column(String(64), default="")
    draft_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    latest_version: Mapped[int] = mapped_column(Integer, default=0)


class RulesetVersion(Base):
    """An immutable published version. Nothing updates or deletes these rows."""

    __tablename__ = "ruleset_versions"
    __table_args__ = (UniqueConstraint("ruleset_id", "version", name="uq_ruleset_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ruleset_id: Mapped[int] = mapped_column(ForeignKey("rulesets.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    format: Mapped[str] = mapped_column(String(8))
    checksum: Mapped[str] = mapped_column(String(80))
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rolled_back_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")


class RulesetAudit(Base):
    """Who changed what and when, with a unified diff of the content."""

    __tablename__ = "ruleset_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ruleset_id: Mapped[int] = mapped_column(ForeignKey("rulesets.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    diff: Mapped[str] = mapped_column(Text, default="")


class OutboxMessage(Base):
    """One pending side effect, written in the same transaction as the change causing it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"), Index("ix_outbox_order_ref", "order_ref"),
                      # the claim of the topics claimed first (engine.outbox.dispatcher)
                      Index("ix_outbox_topic_due", "status", "topic", "next_attempt_at"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(128))
    payload: Mapped[Any] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=4)
    retry_schedule: Mapped[Any] = mapped_column(JSONType)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(128), default="")
    ruleset_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # the order the delivery is about, as ``channel/order_id`` (None: not about one order)
    order_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)


class OutboxReplay(Base):
    """One replay of a dead outbox row: who put it back in the queue, when, and what it had failed with."""

    __tablename__ = "outbox_replays"
    __table_args__ = (Index("ix_outbox_replays_outbox", "outbox_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    outbox_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                           ForeignKey("outbox.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    previous_attempts: Mapped[int] = mapped_column(Integer)
    previous_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class JobLease(Base):
    """A lease making a background job single-instance across processes, with a fencing token."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128), default="")
    fencing_token: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
