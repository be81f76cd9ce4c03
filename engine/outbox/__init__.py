"""The durable outbox: side effects written in the caller's transaction, delivered later."""

from engine.outbox.registry import Delivery, HandlerRegistry
from engine.outbox.service import DEFAULT_RETRY_SCHEDULE, enqueue

__all__ = ["DEFAULT_RETRY_SCHEDULE", "Delivery", "HandlerRegistry", "enqueue"]
