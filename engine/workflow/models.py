"""Tables of the workflow engine: tickets (instances of a machine), their transition history,
state deadlines, received webhook events (replay guard) and archived finance vouchers.

Owns the storage shape only; the rules of who may change what live in
:mod:`engine.workflow.service`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base
from engine.storage.types import JSONType, UTCDateTime

_BIGINT = BigInteger().with_variant(Integer, "sqlite")


class WorkflowInstance(Base):
    """A ticket: one running instance of a machine on the ruleset version it started on.

    ``version`` is the optimistic-concurrency counter: every transition bumps it by one with a
    conditional ``UPDATE … WHERE version = :seen``, and the history row of that transition
    carries the same number as its ``seq``, so history is gap-free by construction.
    """

    __tablename__ = "workflow_instances"
    __table_args__ = (
        Index("ix_workflow_instances_machine_state", "machine", "state"),
        Index("ix_workflow_instances_order", "order_id"),
        Index("ix_workflow_instances_ruleset", "ruleset", "ruleset_version", "state"),
        # the kanban's counts per state and 我的待办's open tickets of an owner's states
        Index("ix_workflow_instances_open", "machine", "closed", "state", "id"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    machine: Mapped[str] = mapped_column(String(128))
    ruleset: Mapped[str] = mapped_column(String(128))
    ruleset_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(128))
    data: Mapped[Any] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer, default=1)
    order_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    closed: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    processing_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's own convention


class WorkflowTransition(Base):
    """One step of a ticket's history (``seq`` 1 is the creation)."""

    __tablename__ = "workflow_transitions"
    __table_args__ = (
        UniqueConstraint("instance_id", "seq", name="uq_workflow_transition_seq"),
        UniqueConstraint("instance_id", "idempotency_key", name="uq_workflow_transition_idem"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("workflow_instances.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(128), nullable=True)
    to_state: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(160))
    actor_role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[Any] = mapped_column(JSONType)
    ruleset_version: Mapped[str] = mapped_column(String(160))
    idempotency_key: Mapped[str | None] = mapped_column(String(160), nullable=True)
    seconds_in_state: Mapped[int | None] = mapped_column(Integer, nullable=True)
    result: Mapped[Any] = mapped_column(JSONType, nullable=True)


class WorkflowDeadline(Base):
    """A timer started when a ticket entered a state with a ``deadline``.

    status: pending → fired (the deadline passed and its handler ran, exactly once) or
    cancelled (the ticket left the state in time).
    """

    __tablename__ = "workflow_deadlines"
    __table_args__ = (
        UniqueConstraint("instance_id", "entry_seq", name="uq_workflow_deadline_entry"),
        Index("ix_workflow_deadlines_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("workflow_instances.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(128))
    entry_seq: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    outcome: Mapped[str] = mapped_column(Text, default="")


class WebhookEvent(Base):
    """An inbound webhook event we accepted once; its (hook, event id) can never be used again."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("hook", "event_id", name="uq_webhook_event"),)

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    hook: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    instance_id: Mapped[int | None] = mapped_column(_BIGINT, nullable=True)
    action: Mapped[str | None] = mapped_column(String(128), nullable=True)
    outcome: Mapped[str] = mapped_column(Text, default="")


class FinanceVoucher(Base):
    """A finance voucher archived by an ``archive finance_voucher`` effect (one per transition)."""

    __tablename__ = "finance_vouchers"
    __table_args__ = (UniqueConstraint("instance_id", "seq", name="uq_finance_voucher_step"),)

    id: Mapped[int] = mapped_column(_BIGINT, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("workflow_instances.id", ondelete="RESTRICT"))
    seq: Mapped[int] = mapped_column(Integer)
    machine: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(128))
    ruleset_version: Mapped[str] = mapped_column(String(160))
    data: Mapped[Any] = mapped_column(JSONType)
    payload: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
