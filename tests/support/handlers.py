"""Outbox handlers used by tests (loaded through ORDERPULSE_HANDLER_MODULES)."""

from __future__ import annotations

from engine.outbox.registry import HandlerRegistry


def register_handlers(registry: HandlerRegistry) -> None:
    """Tests register their own behaviour per case; this module only proves loading works."""
