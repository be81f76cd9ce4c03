"""Tables of order pulling and push: the durable pull cursor of each source and the push
messages received (kept by message id, so a replay changes nothing).

Owns the tables only; :mod:`engine.orders.pulling` and :mod:`engine.orders.push` use them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.storage.models import Base
from engine.storage.types import JSONType, UTCDateTime


class OrderPullCursor(Base):
    """Where a source's pull stands. ``next_start`` is the platform modified time from which
    the next window reads (every order modified before it is stored); it moves only after a
    window's pages are all stored. ``window_end`` and ``pages_stored`` describe the window in
    progress (a puller killed mid-window reads it again from its last page: nothing skipped,
    the re-read orders are unchanged). ``retry_at`` holds back a source after a failure."""

    __tablename__ = "order_pull_cursors"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pages_stored: Mapped[int] = mapped_column(Integer, default=0)
    orders_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderPushMessage(Base):
    """One verified push message event of a source, by the platform's message id; ``state``:
    received → stored (intake done) or failed (``error``)."""

    __tablename__ = "order_push_messages"
    __table_args__ = (UniqueConstraint("source", "message_id", name="uq_order_push_source_message"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(128))
    order_id: Mapped[str] = mapped_column(String(128))
    event: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="received")
    raw: Mapped[Any] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
